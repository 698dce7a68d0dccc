"""The Coherence page renders for every source of directions, with no error box."""

import numpy as np
import pytest
from conftest import chart_frames, run_page

from probing.coherence import mutual_coherence, welch_bound
from probing.coherence.experiment import coherence_vs_accuracy
from probing.probes import fit_probe


def metric(at, label):
    return next(m for m in at.metric if m.label == label)


def rerun(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_page_shows_planted_coherence_and_the_experiment():
    at = run_page("coherence")
    k, d = at.number_input(key="coh_planted_k").value, at.number_input(key="coh_planted_d").value
    expected = welch_bound(k, d)
    assert k > d and float(metric(at, "Welch bound (floor)").value) == pytest.approx(expected, abs=1e-4)
    assert float(metric(at, "mutual coherence μ").value) >= expected
    at.number_input(key="coh_planted_k").set_value(d // 2)  # fewer concepts than dimensions: orthonormal
    rerun(at)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(0.0, abs=1e-4)
    assert not [f for f in chart_frames(at) if "experiment" in f.columns]  # the experiment waits for its button
    at.toggle(key="coh_exp_run").set_value(True)
    rerun(at)
    shown = next(f for f in chart_frames(at) if "experiment" in f.columns)
    expected = coherence_vs_accuracy(n_samples=2000, d=16, noise=1.0, n_concepts=(8, 16, 32, 64, 128))
    np.testing.assert_allclose(shown["accuracy"], expected["accuracy"])
    np.testing.assert_allclose(shown["coherence"], expected["coherence"])


def test_page_random_vectors_and_fitted_probe_directions():
    at = run_page("coherence")
    at.radio(key="coh_source").set_value("Random vectors")
    rerun(at)
    at.number_input(key="coh_rand_k").set_value(400)  # more rows than the heatmap shows
    at.number_input(key="coh_rand_d").set_value(10)
    rerun(at)
    D = np.random.default_rng(0).standard_normal((400, 10), dtype=np.float32)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(mutual_coherence(D), abs=1e-4)
    at.radio(key="coh_source").set_value("Probe directions")
    rerun(at)
    at.radio(key="coh_probe_how").set_value("fit here: one per layer")
    rerun(at)
    aset, label = at.session_state["dataset"], at.session_state["coh_probe_label"]
    D = np.vstack([fit_probe(np.asarray(aset.layer(i), dtype=np.float32), aset.labels[label], method="lda").direction_
                   for i in range(aset.n_layers)])
    expected = mutual_coherence(D)
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(expected, abs=1e-4)
    assert expected > welch_bound(*D.shape) + 0.1  # one concept's direction in consecutive layers: far from random


def test_planted_source_defaults_to_the_active_synthetic_dataset():
    from probing import ActivationSet
    from probing.synthetic import make_concept_embeddings

    made, _ = make_concept_embeddings(n_samples=200, d=12, n_concepts=3, seed=5, concept_cosine=0.5)
    renamed = made.renamed("my concepts")  # the settings come from attrs, not from the name
    impostor = ActivationSet(made.acts, made.layers, made.labels, name="synthetic n=200 d=12 seed=9")

    def activate(aset):
        def setup(at):
            at.session_state["datasets"] = {aset.name: aset}
            at.session_state["dataset"] = aset
        return setup

    keys = ("coh_planted_k", "coh_planted_d", "coh_planted_seed")
    at = run_page("coherence", setup=activate(renamed))
    assert [at.number_input(key=key).value for key in keys] == [3, 12, 5]
    assert at.slider(key="coh_planted_cos").value == 0.5
    assert float(metric(at, "mutual coherence μ").value) == pytest.approx(0.5, abs=1e-4)
    at = run_page("coherence", setup=activate(impostor))
    assert [at.number_input(key=key).value for key in keys] == [32, 16, 0]


def _use(labels, acts=None):
    def setup(at):
        from probing import ActivationSet

        rng = np.random.default_rng(0)
        data = rng.normal(size=(80, 4, 8)).astype(np.float32) if acts is None else acts
        aset = ActivationSet(data, labels=labels, name="edge case")
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset
    return setup


def test_probe_directions_without_categorical_labels_say_what_to_do():
    at = run_page("coherence", setup=_use({"score": np.random.default_rng(1).normal(size=80)}))
    at.radio(key="coh_source").set_value("Probe directions")
    rerun(at)
    notes = [i.value for i in at.info]
    assert any("no categorical labels" in n and "Data page" in n and "another source" in n for n in notes), notes
    assert not at.metric  # nothing computed from an empty set


def test_gram_matrix_and_pairs_are_labelled_with_direction_names():
    import json

    from conftest import chart_frames

    from probing.directions import direction_label

    at = run_page("coherence", setup=_use({"label": np.arange(80) % 2}))
    at.radio(key="coh_source").set_value("Probe directions")
    rerun(at)
    at.radio(key="coh_probe_how").set_value("fit here: one per layer")
    rerun(at)
    aset = at.session_state["dataset"]
    cells = next(f for f in chart_frames(at) if "cos" in f.columns and len(f) == aset.n_layers ** 2)
    assert sorted(set(cells["row"])) == sorted(aset.layers)  # the layer tells the directions apart
    assert set(cells["a"]) == {direction_label("probe", "label (lda)", layer) for layer in aset.layers}
    spec = next(json.loads(c.proto.spec) for c in [*at.get("arrow_vega_lite_chart"), *at.get("vega_lite_chart")]
                if '"row"' in c.proto.spec)
    assert spec["height"]["step"] >= 30 and spec["width"] == spec["height"]  # square cells, not squashed
    pairs = next(df.value for df in at.dataframe if "abs_cos" in df.value.columns)
    assert set(pairs.a) | set(pairs.b) <= set(aset.layers) and (pairs.a != pairs.b).all()
    assert any("All directions here are probe · label" in c.value for c in at.caption)


def test_zero_probe_directions_are_left_out_with_a_note():
    acts = np.zeros((80, 4, 8), np.float32)
    acts[:, 2:] = np.random.default_rng(2).normal(size=(80, 2, 8))
    at = run_page("coherence", setup=_use({"label": np.arange(80) % 2}, acts))
    at.radio(key="coh_source").set_value("Probe directions")
    rerun(at)
    at.radio(key="coh_probe_how").set_value("fit here: one per layer")
    rerun(at)
    assert any("Left out 2 zero vector(s)" in i.value for i in at.info)
    assert metric(at, "mutual coherence μ")  # the two non-zero layers are compared
