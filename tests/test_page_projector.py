"""The Projector and Direction atlas pages render, react to their widgets and save what they promise."""

import numpy as np

from conftest import run_page
from probing.directions import DirectionSet
from probing.store import Workspace


def _use_synthetic(at, n=400):
    from probing.synthetic import make_concept_embeddings

    aset, _ = make_concept_embeddings(n_samples=n, d=16, n_concepts=2, n_layers=2, seed=3)
    at.session_state["datasets"] = {aset.name: aset}
    at.session_state["dataset"] = aset


def test_projector_pca_then_custom_axes_on_a_planted_set():
    at = run_page("projector", setup=_use_synthetic)
    assert any("Linear: the plot keeps" in i.value for i in at.info)
    at.radio(key="proj_method").set_value("Custom axes").run()
    assert not at.exception and not at.error
    layer = at.session_state["dataset"].layers[at.selectbox(key="proj_layer").value]
    assert at.selectbox(key="proj_ax_x").value == f"planted · concept_0 · {layer}"
    assert at.selectbox(key="proj_ax_y").value == f"pca · PC1 · {layer}"
    assert any("oblique" in i.value for i in at.info)
    at.checkbox(key="proj_orth").check().run()
    assert any("orthogonal" in i.value for i in at.info)


def test_projector_large_set_is_aggregated_and_zoom_drills_down():
    at = run_page("projector", setup=lambda at: _use_synthetic(at, n=30_000))
    assert not at.exception and not at.error
    assert any("binned into" in c.value for c in at.caption)
    lo, hi = at.slider(key="proj_zx_pca_(0, 1)").value
    at.slider(key="proj_zx_pca_(0, 1)").set_value((hi - 0.05 * (hi - lo), hi)).run()
    assert any("one dot each" in c.value for c in at.caption)


def test_projector_demo_points_open_a_large_set():
    at = run_page("projector")
    at.number_input(key="proj_demo_n").set_value(50_000)
    at.button(key="proj_demo").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"].n_samples == 50_000
    assert any("binned into" in c.value for c in at.caption)


def _with_probe(at):
    _use_synthetic(at)
    aset = at.session_state["dataset"]
    probe = np.asarray(aset.layer(1)[aset.labels["label"] == 1]).mean(0) - np.asarray(aset.layer(1)[aset.labels["label"] == 0]).mean(0)
    Workspace().add_directions(DirectionSet.for_layer(aset, 1, "label (mean_diff)", probe, "probe"), owner="Ada")


def test_atlas_page_renders_with_planted_pcs_and_saved_probe():
    at = run_page("atlas", setup=_with_probe)
    layer = at.session_state["dataset"].layers[1]
    at.selectbox(key="atlas_anchor").set_value(f"probe · label (mean_diff) · {layer}").run()
    near = next(df.value for df in at.dataframe if "abs_cos" in df.value.columns)
    assert np.all(np.diff(near["abs_cos"].to_numpy()) <= 1e-12)
    assert near.iloc[0].direction in (f"planted · concept_0 · {layer}", f"pca · PC1 · {layer}")
    assert near.iloc[0].abs_cos > 0.9
    assert any("Welch" in m.label for m in at.metric)


def test_atlas_page_renders_on_the_default_dataset():
    at = run_page("atlas")
    assert any("abs_cos" in df.value.columns for df in at.dataframe)
