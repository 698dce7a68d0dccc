"""The Probes page renders for the default dataset, for a multi-class label and with another method."""

import numpy as np

from conftest import run_page
from probing.probes import probe_layers


def test_probes_page_renders_default_dataset():
    at = run_page("probes")
    assert any("Selectivity" in info.value for info in at.info)
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert {"accuracy", "control_accuracy", "selectivity"} <= set(table.columns)
    aset = at.session_state["dataset"]
    assert aset.name == "sentiment"
    expected = probe_layers(aset, "label", cv=5, method="lda", control=True, seed=0).to_frame()
    assert list(table["layer"]) == aset.layers
    np.testing.assert_allclose(table["accuracy"], expected["accuracy"], atol=1e-12)
    np.testing.assert_allclose(table["control_accuracy"], expected["control_accuracy"], atol=1e-12)
    best = table["accuracy"].idxmax()  # MiniLM encodes sentiment well above the coin flip and the control task
    assert table["accuracy"][best] > table["majority_baseline"][best] + 0.25 and table["selectivity"][best] > 0.1


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
