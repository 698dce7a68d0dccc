"""The Examples page: top examples of a planted direction, the histogram, token colouring and the ablation panel."""

import re

import numpy as np
import pandas as pd
import pytest

from dashboard.datasets import workspace
from probing import ActivationSet
from probing.directions import DirectionSet
from probing.synthetic import make_concept_embeddings
from tests.conftest import chart_frames


def activate(aset):
    def setup(at):
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset
    return setup


def test_a_planted_directions_top_examples_are_the_planted_class(page_runner):
    aset, _ = make_concept_embeddings(n_samples=400, d=16, n_concepts=2, n_layers=2, seed=3, name="planted examples")
    at = page_runner("examples", setup=activate(aset))
    choice = at.selectbox(key="ex_direction")
    concept_0 = next(option for option in choice.options if "concept_0" in option)
    choice.set_value(concept_0).run()
    at.slider(key="ex_k").set_value(30).run()
    assert not at.exception and not at.error
    top, bottom = at.dataframe[0].value, at.dataframe[1].value
    assert len(top) == len(bottom) == 30 and top["score"].is_monotonic_decreasing
    assert (top["concept_0"] == 1).all() and (bottom["concept_0"] == 0).all()
    assert top["score"].min() > 0 > bottom["score"].max() and bottom["score"].is_monotonic_increasing

    at.selectbox(key="ex_group").set_value("concept_0").run()
    hist = chart_frames(at)[0]
    counts = hist.groupby("group")["count"].sum().to_dict()
    expected = pd.Series(aset.labels["concept_0"]).astype(str).value_counts().to_dict()
    assert counts == expected and sum(counts.values()) == aset.n_samples
    nearest = at.dataframe[2].value
    assert any("concept_1" in n for n in nearest["name"])
    assert nearest["cosine"].abs().max() <= 1 + 1e-9


def test_without_saved_directions_the_page_fits_and_saves_the_probe(page_runner):
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b"], 60)
    acts = rng.normal(size=(120, 2, 8)).astype(np.float32)
    acts[labels == "b", :, 0] += 4.0
    aset = ActivationSet(acts, labels={"label": labels}, meta=pd.DataFrame({"text": [f"row {i}" for i in range(120)]}),
                         name="no directions")
    at = page_runner("examples", setup=activate(aset))
    assert any("No directions are saved" in i.value for i in at.info)
    at.button(key="ex_fit").click().run()
    assert not at.exception and not at.error
    assert "probe · label (lda)" in at.selectbox(key="ex_direction").value
    ends = {frame.value["label"].iloc[0] for frame in at.dataframe[:2]}
    assert ends == {"a", "b"}  # the probe's two ends are the two classes
    assert any("not say which model made it" in i.value for i in at.info)  # no extraction record: no ablation


def test_token_activations_are_coloured_token_by_token_and_escaped(page_runner):
    tokens = ["<b>great</b>", "film", "dull", "plot"]
    meta = pd.DataFrame({"text_id": [0, 0, 1, 1], "position": [0, 1, 0, 1], "token": tokens,
                         "text": ["<b>great</b> film"] * 2 + ["dull plot"] * 2})
    acts = np.array([[3, 0], [1, 0], [-2, 0], [-1, 0]], np.float32)[:, None, :]
    aset = ActivationSet(acts, labels={"label": np.array(["pos", "pos", "neg", "neg"])}, meta=meta, name="tokens")
    at = page_runner("examples", setup=activate(aset))
    at.button(key="ex_fit").click().run()
    assert not at.exception and not at.error
    top = at.dataframe[0].value
    assert {"token", "context", "score"} <= set(top.columns)
    coloured = [m.value for m in at.markdown if "<span" in m.value]
    assert coloured and all("<b>" not in m for m in coloured) and any("&lt;b&gt;great&lt;/b&gt;" in m for m in coloured)


@pytest.mark.model
def test_ablating_the_mean_difference_on_minilm_drops_accuracy_below_none(page_runner):
    at = page_runner("examples")  # the bundled sentiment set, made by MiniLM
    aset = at.session_state["dataset"]
    X = np.asarray(aset.layer(-1), dtype=np.float64)
    positive = aset.labels["sentiment"] == "positive"
    concept = X[positive].mean(0) - X[~positive].mean(0)
    other = np.random.default_rng(0).normal(size=aset.d)
    workspace().add_directions(DirectionSet.for_layer(aset, -1, "sentiment", np.stack([concept, other]), "steering",
                                                      row_names=["mean difference", "noise"]))
    at.selectbox(key="ex_layer").set_value(aset.n_layers - 1).run()
    choice = at.selectbox(key="ex_direction")
    choice.set_value(next(o for o in choice.options if "mean difference" in o)).run()
    assert "2 directions" in at.toggle(key="ex_abl_set").label and not at.toggle(key="ex_abl_set").value
    at.toggle(key="ex_live_tokens").set_value(True).run()
    spans = [m.value for m in at.markdown if "<span" in m.value]
    assert len(spans) == 10  # the first five texts of each end, token by token
    token_scores = [float(x) for x in re.findall(r'title="(-?[0-9.]+)"', spans[0])]
    # mean pooling: a text's score is the mean of its tokens' scores (the bundled set is stored in float16)
    assert np.mean(token_scores) == pytest.approx(at.dataframe[0].value["score"].iloc[0], abs=0.01)
    at.selectbox(key="ex_abl_label").set_value("sentiment").run()
    at.slider(key="ex_abl_n").set_value(120).run()
    at.button(key="ex_ablate").click().run()
    assert not at.exception and not at.error
    effect = chart_frames(at)[-1]
    last = effect[effect["layer"] == "block_6"].groupby("condition")["accuracy"].first()
    assert last["ablated"] < last["none"] - 0.1 and abs(last["random control"] - last["none"]) <= 0.05
