"""The PCA and Linear maps pages render and react to their widgets."""

from conftest import run_page
from probing.store import Workspace


def _use_synthetic(at):
    """Make a make_concept_embeddings set (planted directions known) the active dataset."""
    from probing.synthetic import make_concept_embeddings

    aset, _ = make_concept_embeddings(n_samples=400, d=32, n_concepts=2, n_layers=2, seed=3)
    at.session_state["datasets"] = {aset.name: aset}  # first option of the sidebar picker
    at.session_state["dataset"] = aset


def test_pca_page_renders_and_finds_the_planted_direction_at_pc1():
    at = run_page("pca", setup=_use_synthetic)
    assert not [d for df in at.dataframe if "best_pc" in df.value.columns for d in df.value.direction
                if "mean_diff" in d]  # the class-mean difference is fitted on request
    at.checkbox(key="pca_probe").check().run()
    summary = next(df.value for df in at.dataframe if "best_pc" in df.value.columns)
    layer = at.session_state["dataset"].layers[at.selectbox(key="pca_layer").value]
    planted = summary.set_index("direction").loc[f"planted · concept_0 · {layer}"]
    assert planted.best_pc == "PC1" and planted.abs_cos > 0.9
    assert f"probe · label (mean_diff) · {layer}" in set(summary.direction)
    assert not [e for e in Workspace().list_directions() if e.method == "pca"]
    at.button(key="pca_save").click().run()
    saved = [e for e in Workspace().list_directions() if e.method == "pca"]
    assert [(e.labels, e.k) for e in saved] == [([f"pca · PC{i} · {layer}" for i in (1, 2, 3)], 3)]
    assert any("Saved in the workspace as" in c.value for c in at.caption)
    # A map without real eigenvectors falls back to another basis instead of failing.
    at.selectbox(key="pca_map").set_value("rotation").run()
    assert not at.exception and not at.error
    assert any("no basis of real eigenvectors" in i.value for i in at.info)


def test_pca_page_renders_on_the_default_dataset():
    at = run_page("pca")
    assert any("tick the box above" in i.value for i in at.info)  # a fresh workspace: nothing saved to compare with
    at.checkbox(key="pca_probe").check().run()
    assert any("best_pc" in df.value.columns for df in at.dataframe)


def test_linear_maps_page_reports_rank_nullity_of_the_example():
    at = run_page("linear_maps")
    values = {m.label: m.value for m in at.metric}
    assert values["rank"] == "5" and values["nullity"] == "27"  # default: random 24 x 32 map of rank 5
    assert any("rank + nullity = 5 + 27 = 32" in s.value for s in at.success)
    at.slider(key="lm_r").set_value(5).run()  # the best rank-5 version of a rank-5 map is the map
    assert {m.label: m.value for m in at.metric}["Frobenius error (relative)"] == "0.00%"
    at.slider(key="lm_r").set_value(4).run()
    assert {m.label: m.value for m in at.metric}["Frobenius error (relative)"] != "0.00%"
    at.selectbox(key="lm_example").set_value("projection").run()
    at.number_input(key="lm_k").set_value(3).run()
    assert not at.exception and not at.error
    values = {m.label: m.value for m in at.metric}
    assert values["rank"] == "3" and values["nullity"] == "29"  # n = 32 is kept across examples


def test_linear_maps_page_asks_for_an_upload():
    at = run_page("linear_maps")
    at.radio(key="lm_source").set_value("upload a weight (.npy / .safetensors)").run()
    assert not at.exception and not at.error
    assert any("Upload a 2-D weight" in i.value for i in at.info)


def _use(acts, labels):
    """A setup making ``ActivationSet(acts, labels)`` the active dataset."""
    def setup(at):
        from probing import ActivationSet

        aset = ActivationSet(acts, labels=labels, name="edge case")
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset
    return setup


def test_pca_page_explains_a_zero_probe_direction_on_an_all_zero_layer():
    import numpy as np

    at = run_page("pca", setup=_use(np.zeros((60, 2, 8), np.float32), {"label": np.arange(60) % 2}))
    at.checkbox(key="pca_probe").check().run()
    notes = [i.value for i in at.info]
    assert any("Left out 1 zero vector" in n and "mean\\_diff" in n for n in notes), notes
    assert not any("best_pc" in df.value.columns for df in at.dataframe)  # nothing to align with


def test_pca_page_explains_a_one_class_label_and_still_shows_the_pca():
    import numpy as np

    acts = np.random.default_rng(0).normal(size=(60, 2, 8)).astype(np.float32)
    at = run_page("pca", setup=_use(acts, {"label": np.zeros(60, int)}))
    assert any("has one class" in i.value for i in at.info)
    assert any("hold 90% of the variance" in c.value for c in at.caption)  # the PCA itself is shown


def test_pca_page_shows_the_refined_spectrum_of_float32_data(downloads):
    """Float32 data with variances spanning 1e8: the scree's smallest ratios are fit_pca's, within 1e-5 of float64."""
    import io

    import numpy as np
    import pandas as pd

    from probing import ActivationSet
    from probing.pca import fit_pca

    rng = np.random.default_rng(0)
    rotation = np.linalg.qr(rng.standard_normal((24, 24)))[0]
    X = ((rng.standard_normal((3000, 24)) * np.logspace(0, -4, 24)) @ rotation + 5.0).astype(np.float32)
    aset = ActivationSet(X[:, None, :], name="ill-conditioned")

    def use(at):
        at.session_state["datasets"] = {aset.name: aset}
        at.session_state["dataset"] = aset

    run_page("pca", setup=use)
    shown = pd.read_csv(io.BytesIO(downloads["pca_dl_scree"]))["explained_variance_ratio"].to_numpy()
    exact = np.linalg.eigvalsh(np.cov(X.astype(np.float64), rowvar=False))[::-1]
    np.testing.assert_allclose(shown, fit_pca(X).explained_variance_ratio[:len(shown)], rtol=1e-12)
    assert np.max(np.abs(shown / (exact[:len(shown)] / exact.sum()) - 1)) < 1e-5
