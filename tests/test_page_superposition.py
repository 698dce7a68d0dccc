"""The Superposition page renders with its defaults and reacts to controls."""

import numpy as np

from conftest import chart_frames, run_page
from probing.superposition import dimensions_per_feature, train_toy_model
from probing.superposition.sweeps import PAPER_SPARSITIES, PhaseDiagram, phase_diagram, sparsity_sweep
from dashboard.datasets import DATA_DIR


def metric(at, label):
    return next(m.value for m in at.metric if m.label.startswith(label))


def phase_cells(at):
    return next(frame for frame in chart_frames(at) if "phase" in frame.columns)


def sweep_strips(at):
    """The sparsity sweep's chart data (one column per sparsity), if drawn."""
    return [f for f in chart_frames(at) if "sparsity" in f.columns and "phase" not in f.columns
            and f["sparsity"].nunique() > 1]


def test_superposition_page_renders_defaults():
    at = run_page("superposition", timeout=240)
    text = " ".join(c.value for c in at.caption)
    assert "pentagon" in text and "superposed" in text.lower()
    assert not at.info  # m = 2 < n = 5: no "no pressure" note
    # n = 5 features in m = 2 dimensions at sparsity 0.9: all five kept, sharing the two dimensions
    model = train_toy_model(5, 2, sparsity=0.9, importance=0.9, seed=0, steps=2000)
    assert metric(at, "features represented") == "5 of 5"
    assert metric(at, "dimensions per feature") == f"{dimensions_per_feature(model.W):.2f}"
    assert float(metric(at, "dimensions per feature")) < 0.5
    assert metric(at, "loss") == f"{model.loss:.2e}"


def test_recompute_shows_the_freshly_trained_phase_diagram():
    at = run_page("superposition", timeout=240)
    shipped = PhaseDiagram.load(DATA_DIR / "superposition_phase.npz").to_frame()
    np.testing.assert_array_equal(phase_cells(at)["phase"], shipped["phase"])
    at.select_slider(key="sup_phase_points").set_value(5)
    at.button(key="sup_phase_run").click().run()
    assert not at.exception and not at.error
    shown, expected = phase_cells(at), phase_diagram(5, seed=0).to_frame()
    assert len(shown) == 25
    np.testing.assert_array_equal(shown["phase"], expected["phase"])
    np.testing.assert_allclose(shown[["density", "relative_importance", "norm_0", "norm_1"]],
                               expected[["density", "relative_importance", "norm_0", "norm_1"]], atol=1e-6)
    assert set(shown["phase"]) == {"not represented", "dedicated", "superposed"}


def test_superposition_page_notes_no_pressure_when_m_at_least_n():
    at = run_page("superposition", timeout=240)
    at.number_input(key="sup_m").set_value(6).run()
    assert not at.exception and not at.error
    assert any("no pressure" in info.value for info in at.info)


def test_the_sparsity_sweep_is_trained_on_request_with_the_pages_settings():
    at = run_page("superposition", timeout=240)
    assert not sweep_strips(at)  # not trained on opening
    at.toggle(key="sup_sweep_run").set_value(True).run()
    assert not at.exception and not at.error
    [strip] = sweep_strips(at)
    expected = sparsity_sweep(PAPER_SPARSITIES, 5, 2, 0.9, steps=2000, seed=0, n_restarts=4)
    np.testing.assert_allclose(strip["dimensionality"], expected.to_frame()["dimensionality"], atol=1e-6)
    counts = ", ".join(f"{s:g}: {k}" for s, k in zip(PAPER_SPARSITIES, expected.summary()["n_represented"]))
    assert any(f"Features represented per sparsity: {counts}." in c.value for c in at.caption)
    at.number_input(key="sup_n").set_value(4).run()  # asked once: a new setting retrains without another click
    assert len(sweep_strips(at)[0]) == 4 * len(PAPER_SPARSITIES)


def test_interference_section_has_a_concept_cosine_that_makes_two_features_overlap():
    at = run_page("superposition", timeout=240)
    assert not any("mean held-out accuracy" in c.value for c in at.caption)  # no probes before the click
    at.toggle(key="sup_interference_run").set_value(True).run()
    cosine = at.slider(key="sup_cosine")
    assert cosine.value > 0 and not cosine.disabled  # the lesson's Exercise 8(d): 2 concepts in d = 3
    assert (at.slider(key="sup_concepts").value, at.slider(key="sup_d").value) == (2, 3)
    captions = " ".join(c.value for c in at.caption)
    assert f"The directions overlap (max |cos| = {cosine.value:.2f})" in captions
    cosine.set_value(0.0).run()
    captions = " ".join(c.value for c in at.caption)
    assert "The 2 directions are at right angles (max |cos| = 0.00): no interference" in captions
    at.slider(key="sup_concepts").set_value(20).run()
    assert at.slider(key="sup_cosine").disabled  # 20 concepts in d = 3 cannot have a chosen cosine
    assert not at.error and not at.exception
