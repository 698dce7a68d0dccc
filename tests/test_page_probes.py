"""The Probes page renders for the default dataset, for a multi-class label and with another method."""

import numpy as np
import pandas as pd
import pyarrow as pa
from conftest import run_page
from probing.store import Workspace
from probing.probes import probe_layers

from probing import ActivationSet


def test_probes_page_renders_default_dataset():
    at = run_page("probes")
    assert any("Selectivity" in info.value for info in at.info)
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert {"accuracy", "control_accuracy", "selectivity"} <= set(table.columns)
    aset = at.session_state["dataset"]
    assert aset.name == "sentiment"
    groups, types = at.session_state["probes_groups"], at.session_state["probes_type"]  # the page's defaults
    expected = probe_layers(aset, "label", cv=5, method="lda", control=True, seed=0,
                            groups=None if groups == "(none)" else groups, type_column=types).to_frame()
    assert list(table["layer"]) == aset.layers
    np.testing.assert_allclose(table["accuracy"], expected["accuracy"], atol=1e-12)
    np.testing.assert_allclose(table["control_accuracy"], expected["control_accuracy"], atol=1e-12)
    best = table["accuracy"].idxmax()  # MiniLM encodes sentiment well above the coin flip
    assert table["accuracy"][best] > table["majority_baseline"][best] + 0.25


def test_probes_page_multiclass_and_mean_diff():
    def setup(at):
        from probing.synthetic import make_concept_embeddings

        aset, _ = make_concept_embeddings(600, d=16, n_concepts=2, n_layers=2, seed=1, name="synthetic multi")
        three = np.array(["a", "b", "c"])[(aset.labels["concept_0"] + aset.labels["concept_1"])]
        aset = aset.with_labels(kind=three)
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset
        at.session_state["probes_label"] = "kind"
        at.session_state["probes_method"] = "mean_diff"

    at = run_page("probes", setup=setup)
    table = at.dataframe[0].value
    assert len(table) == 2
    assert any("ROC curves need two classes" in c.value for c in at.caption)


def chart_frames(at) -> list[pd.DataFrame]:
    """The data of every altair chart on the page, as the browser receives it (Arrow)."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            for chart in at.get("vega_lite_chart") for d in chart.proto.datasets]


def binned_auc(bins: pd.DataFrame, positive: str) -> float:
    """Mann-Whitney AUC from per-class histogram counts (ties within a bin count one half)."""
    wide = bins.pivot_table(index="bin_start", columns="class", values="count", aggfunc="sum").fillna(0)
    pos, neg = wide[positive].to_numpy(), wide.drop(columns=positive).sum(axis=1).to_numpy()
    below = np.r_[0, np.cumsum(neg)[:-1]]
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def noise_dataset(at):
    rng = np.random.default_rng(0)
    texts = [f"sentence number {i}" for i in range(60)]
    aset = ActivationSet(rng.standard_normal((60, 2, 96)), layers=["embeddings", "block_1"], name="noise",
                         labels={"label": rng.permutation(np.arange(60) % 2)}, meta=pd.DataFrame({"text": texts}))
    at.session_state["datasets"][aset.name] = aset
    at.session_state["dataset"] = aset


def test_histogram_is_held_out_and_sentence_data_gets_no_selectivity():
    at = run_page("probes", setup=noise_dataset)
    bins = next(frame for frame in chart_frames(at) if {"bin_start", "bin_end", "count"} <= set(frame.columns))
    assert bins["count"].sum() == 60 and len(bins) <= 2 * 60
    assert binned_auc(bins, "1") < 0.8  # the training fit would separate the noise perfectly (AUC 1.0)
    assert any("cannot measure memorisation" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert "selectivity" not in table.columns and "compression" in table.columns  # MDL offered instead
    assert any("memorise" in w.value for w in at.warning)
    best = int(np.argmax(table["accuracy"]))
    assert at.selectbox(key="probes_layer").value == best
    assert any(f"Best layer: {table['layer'][best]}".replace("_", "\\_") in info.value for info in at.info)


def test_link_values_that_do_not_fit_are_each_named():
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in {"probes_cv": "banana", "probes_layer": "99", "probes_method": '"xyz"',
                       "probes_control": "false"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("dashboard/views/probes.py")
    at.run()
    text = " ".join(w.value for w in at.warning)
    for setting in ("probes_cv = banana", "probes_layer = 99", 'probes_method = "xyz"'):
        assert setting in text
    assert "probes_control" not in text and at.session_state["probes_control"] is False
    assert at.session_state["probes_method"] == "lda"


def test_settings_survive_leaving_the_page_and_coming_back():
    at = run_page("probes")
    at.selectbox(key="probes_method").set_value("mean_diff").run()
    at.slider(key="probes_cv").set_value(3).run()
    at.switch_page("dashboard/views/pca.py").run()
    assert "probes_method" not in at.session_state  # Streamlit forgets widgets of a page that is not shown
    at.switch_page("dashboard/views/probes.py").run()
    assert not at.exception
    assert at.selectbox(key="probes_method").value == "mean_diff" and at.slider(key="probes_cv").value == 3
    assert at.dataframe[0].value is not None


def test_the_layer_chosen_on_one_page_is_the_current_layer_of_the_next():
    at = run_page("probes")
    at.selectbox(key="probes_layer").set_value(2).run()
    at.switch_page("dashboard/views/pca.py").run()
    assert not at.exception and at.selectbox(key="pca_layer").value == 2
    assert any("Current layer" in c.value and "block" in c.value for c in at.sidebar.caption)
    at.selectbox(key="pca_layer").set_value(5).run()
    at.switch_page("dashboard/views/projector.py").run()
    assert at.selectbox(key="proj_layer").value == 5


def test_an_all_zero_layer_is_explained_and_its_direction_not_saved(_workspace):
    def zero_layer(at):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, 200)
        acts = np.stack([np.zeros((200, 8)), rng.standard_normal((200, 8)) + 2.0 * y[:, None] * np.eye(8)[0]], axis=1)
        aset = ActivationSet(acts, layers=["dead", "alive"], labels={"label": y}, name="zero layer")
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset

    at = run_page("probes", setup=zero_layer)
    table = at.dataframe[0].value
    assert table["accuracy"][1] > 0.8
    at.selectbox(key="probes_layer").set_value(0).run()
    assert not at.exception and not at.error
    assert any("all zero" in element.value for element in [*at.caption, *at.info])
    saved = Workspace(_workspace).list_directions(dataset=at.session_state["dataset"].fingerprint)
    assert {entry.layer for entry in saved} == {"alive"}
