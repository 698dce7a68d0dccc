"""Max-activating examples and causal ablation: planted data, a tiny decoder, and the bundled MiniLM."""

import numpy as np
import pandas as pd
import pytest

from probing import ActivationSet, ProbingInputError
from probing.examples import (ablation_effect, nearest_directions, score_histogram, top_examples, top_tokens,
                              token_scores)
from probing.extract import extract_activations
from probing.models import load_model
from probing.synthetic import make_concept_embeddings
from probing.tiny import make_tiny_model


def test_top_examples_of_a_planted_direction_are_the_planted_class():
    aset, directions = make_concept_embeddings(n_samples=600, d=32, n_concepts=2, n_layers=2, seed=4)
    top = top_examples(aset, directions[0], layer=-1, k=50)
    assert (top["concept_0"] == 1).all() and top["score"].is_monotonic_decreasing
    bottom = top_examples(aset, -directions[0], layer=-1, k=50)
    assert (bottom["concept_0"] == 0).all()
    X = np.asarray(aset.layer(-1), dtype=np.float64)
    brute = np.argsort(-(X @ directions[0]))[:50]
    assert top["row"].tolist() == brute.tolist()  # the same rows as brute force, in order
    np.testing.assert_allclose(top["score"], (X @ directions[0])[brute], rtol=1e-5)
    random_top = top_examples(aset, np.random.default_rng(0).normal(size=32), layer=-1, k=50)
    assert 0.2 < random_top["concept_0"].mean() < 0.8  # a random direction picks both classes


def test_bad_directions_and_helpers():
    aset, directions = make_concept_embeddings(n_samples=100, d=8, n_layers=1, seed=0)
    with pytest.raises(ProbingInputError, match="zero"):
        top_examples(aset, np.zeros(8), 0)
    with pytest.raises(ProbingInputError, match=r"shape \(8,\)"):
        top_examples(aset, np.ones(5), 0)
    with pytest.raises(ProbingInputError, match="pooling='tokens'"):
        top_tokens(aset, directions[0], 0)
    hist = score_histogram(np.r_[np.zeros(10), np.ones(30)], np.r_[["a"] * 10, ["b"] * 30], bins=4)
    assert hist.groupby("group")["count"].sum().to_dict() == {"a": 10, "b": 30}
    near = nearest_directions(directions[0], {"same": 3 * directions[0], "flip": -directions[0],
                                              "other": np.eye(8)[0] - directions[0] * directions[0][0]}, k=2)
    assert near["name"].tolist() == ["same", "flip"] and near["cosine"].tolist() == pytest.approx([1.0, -1.0])


def test_token_examples_carry_their_context():
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"text_id": [0, 0, 0, 1, 1], "position": [0, 1, 2, 0, 1],
                         "token": ["the", "cat", "sat", "a", "dog"], "text": ["the cat sat"] * 3 + ["a dog"] * 2})
    acts = rng.normal(size=(5, 4)).astype(np.float32)
    acts[1] = [10, 0, 0, 0]
    aset = ActivationSet(acts, meta=meta)
    top = top_tokens(aset, [1, 0, 0, 0], 0, k=1, window=1)
    assert top["token"][0] == "cat" and top["context"][0] == "the [[cat]] sat"
    per_token = token_scores(aset, [1, 0, 0, 0], 0, text_id=0)
    assert per_token["token"].tolist() == ["the", "cat", "sat"] and per_token["score"][1] == pytest.approx(10)


@pytest.mark.model
def test_ablating_the_concept_direction_removes_the_downstream_signal_a_random_one_does_not(tmp_path):
    tiny = load_model(make_tiny_model(tmp_path / "tiny", "gpt2", seed=2))
    words = {"film": 1, "the": 0}  # single tokens in the tiny vocabulary (any two such words would do)
    assert all(len(tiny.tokenizer.encode(f" {w}")) == 1 for w in words)  # one token each: one direction apart
    templates = ["The film was {}.", "The food was {}.", "I think it is {}.", "This day is {}.", "The song is {}."]
    texts = [t.format(w) for t in templates for w in words for _ in range(4)]
    labels = np.array([words[w] for t in templates for w in words for _ in range(4)])
    embeddings = extract_activations(texts, model=tiny, layers=[0]).layer(0).astype(np.float64)
    concept = embeddings[labels == 1].mean(0) - embeddings[labels == 0].mean(0)
    effect = ablation_effect(texts, labels, concept, layer=0, model=tiny, cv=5, seed=0)
    last = effect[effect["layer"] == effect["layer"].iloc[-1]].set_index("condition")["accuracy"]
    assert last["none"] == 1.0 and last["random control"] == 1.0
    assert last["ablated"] <= 0.6  # good and bad become the same vector: nothing left to decode
    assert set(effect["layer"]) == {"embeddings"} | {f"block_{k}" for k in range(1, tiny.n_blocks + 1)}


@pytest.mark.model
def test_on_minilm_the_sentiment_direction_is_used_and_its_top_examples_carry_the_label():
    from probing import load_activations
    from dashboard.datasets import DATA_DIR

    aset = load_activations(DATA_DIR / "sentiment_minilm.safetensors")
    labels = aset.labels["sentiment"]
    X = np.asarray(aset.layer(-1), dtype=np.float64)
    positive = labels == "positive"
    direction = X[positive].mean(0) - X[~positive].mean(0)
    top = top_examples(aset, direction, -1, k=50)
    assert (top["sentiment"] == "positive").mean() >= 0.9 and "text" in top.columns

    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(aset.n_samples, 160, replace=False))
    texts = aset.meta["text"].to_numpy()[rows].tolist()
    effect = ablation_effect(texts, labels[rows], direction, layer=-1, cv=4, seed=0)
    accuracy = effect.set_index("condition")["accuracy"]
    assert accuracy["none"] >= 0.7 and abs(accuracy["random control"] - accuracy["none"]) <= 0.05
    assert accuracy["ablated"] <= 0.6 < accuracy["none"] - 0.1  # the model's own stream loses the concept


def test_score_densities_match_scipy_gaussian_kde_with_the_same_bandwidth():
    from scipy.stats import gaussian_kde

    from probing.examples import score_densities

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 3000), rng.normal(5, 2, 2000)])
    groups = np.repeat(["a", "b"], [3000, 2000])
    frame = score_densities(values, groups, points=150)
    assert len(frame) == 300
    for group, one in frame.groupby("group"):
        v = values[groups == group]
        h = 1.06 * v.std() * len(v) ** -0.2
        reference = gaussian_kde(v, bw_method=h / v.std(ddof=1))(one["score"].to_numpy())
        np.testing.assert_allclose(one["density"], reference, atol=2e-3 * reference.max())
        assert np.sum(one["density"]) * np.diff(one["score"])[0] == pytest.approx(1.0, abs=1e-3)
