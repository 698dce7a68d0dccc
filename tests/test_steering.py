"""Steering vectors: recovery of planted directions, exact arithmetic, dose-response, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from probing import ProbingInputError
from probing.steering import (activation_sweep, apply_steering, project_out, readout_scores, steering_sweep,
                              steering_vector)
from probing.synthetic import make_concept_embeddings


@pytest.fixture(scope="module")
def planted():
    aset, directions = make_concept_embeddings(n_samples=2000, d=32, noise=0.3, n_layers=3, seed=3)
    return aset, directions[0]


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("method", ["mean_diff", "probe", "pca_pairs"])
def test_planted_direction_is_recovered(planted, method):
    aset, direction = planted
    vector = steering_vector(aset, "label", method=method, layer=-1)
    assert cosine(vector, direction) > 0.99


def test_mean_difference_moves_negative_mean_onto_positive_mean(planted):
    aset, _ = planted
    X, y = aset.layer(-1).astype(np.float64), aset.labels["label"]
    vector = steering_vector(X, y)
    moved = apply_steering(X[y == 0], vector, alpha=1.0)
    np.testing.assert_allclose(moved.mean(axis=0), X[y == 1].mean(axis=0), atol=1e-9)


def test_probe_and_pair_vectors_have_mean_difference_scale(planted):
    aset, _ = planted
    X, y = aset.layer(-1), aset.labels["label"]
    length = np.linalg.norm(steering_vector(X, y))
    assert np.linalg.norm(steering_vector(X, y, method="probe")) == pytest.approx(length)
    assert np.linalg.norm(steering_vector(X, y, method="pca_pairs")) == pytest.approx(length, rel=0.05)


def test_string_labels_steer_towards_the_larger_class_value():
    aset, direction = make_concept_embeddings(n_samples=400, d=8, noise=0.2, seed=1)
    names = np.where(aset.labels["label"] == 1, "positive", "negative")
    assert cosine(steering_vector(aset.layer(0), names), direction[0]) > 0.99
    assert cosine(steering_vector(aset.layer(0), names, positive="negative"), direction[0]) < -0.99


def test_alpha_zero_changes_nothing(planted):
    aset, direction = planted
    X = aset.layer(0)
    np.testing.assert_array_equal(apply_steering(X, direction, alpha=0.0), X.astype(np.float64))


def test_dose_response_is_monotone(planted):
    aset, _ = planted
    X, y = aset.layer(-1).astype(np.float64), aset.labels["label"]
    readout = LogisticRegression().fit(X, y)
    sweep = activation_sweep(X[y == 0], steering_vector(X, y), [-1, -0.5, 0, 0.5, 1, 1.5], readout)
    frame = sweep.to_frame()
    assert np.all(np.diff(frame["mean_score"]) > 0)
    assert np.all(np.diff(frame["positive_fraction"]) >= 0)
    assert frame["positive_fraction"].iloc[2] < 0.05 and frame["positive_fraction"].iloc[-1] > 0.95
    assert sweep.per_input().shape == (int((y == 0).sum()), 1 + 6)


def test_project_out_leaves_rows_orthogonal_to_the_direction(planted):
    aset, direction = planted
    rng = np.random.default_rng(0)
    u = rng.standard_normal(32)
    erased = project_out(aset.layer(1), u)
    np.testing.assert_allclose(erased @ (u / np.linalg.norm(u)), 0, atol=1e-9)


@pytest.mark.parametrize("bad, message", [
    (lambda X, y: steering_vector(X, np.zeros(len(X))), "2 classes"),
    (lambda X, y: steering_vector(X, np.arange(len(X)) % 3), "2 classes"),
    (lambda X, y: steering_vector(X, y, method="magic"), "Unknown steering method"),
    (lambda X, y: apply_steering(X, np.ones(X.shape[1] + 1)), "shape"),
    (lambda X, y: project_out(X, np.zeros(X.shape[1])), "zero direction"),
    (lambda X, y: steering_vector(X, y[:-1]), "line up"),
])
def test_bad_input_raises_with_a_fix(planted, bad, message):
    aset, _ = planted
    with pytest.raises(ProbingInputError, match=message):
        bad(aset.layer(0), aset.labels["label"])


def test_layer_out_of_range(planted):
    aset, _ = planted
    with pytest.raises(ProbingInputError, match="out of range"):
        steering_vector(aset, "label", layer=7)


def test_readout_scores_takes_a_probe_or_a_callable_and_refuses_the_rest(planted):
    aset, _ = planted
    X, y = aset.layer(0).astype(np.float64), aset.labels["label"]
    probe = LogisticRegression(max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(readout_scores(probe, X), probe.decision_function(X))
    np.testing.assert_array_equal(readout_scores(lambda A: A[:, 0], X), X[:, 0])
    with pytest.raises(ProbingInputError, match="readout must be a fitted probe .* or a callable"):
        readout_scores("sentiment probe", X)
    with pytest.raises(ProbingInputError, match=r"one score per row .*got shape \(2000, 2\)"):
        readout_scores(lambda A: A[:, :2], X)
    three = LogisticRegression(max_iter=1000).fit(X, np.arange(len(X)) % 3)  # multiclass: (n, 3) decisions
    with pytest.raises(ProbingInputError, match=r"one score per row \(binary probe\); got shape \(2000, 3\)"):
        readout_scores(three, X)


@pytest.mark.model
def test_steering_sweep_adds_alpha_times_the_vector_inside_the_model():
    from probing.extract import extract_activations

    texts = ["What a wonderful day.", "This was a terrible film.", "The train leaves at noon."]
    rng = np.random.default_rng(0)
    vector, w = rng.standard_normal(384), rng.standard_normal(384)
    readout = lambda A: A @ w  # noqa: E731 -- a linear readout makes the effect of alpha exact
    base = extract_activations(texts, layers=[6]).layer(0).astype(np.float64) @ w
    seen = []
    at_readout = steering_sweep(texts, 6, vector, [-1.0, 0.0, 2.0], readout, readout_layer=6,
                                progress=lambda f, m: seen.append(f))
    wide = at_readout.per_input()
    assert wide["text"].tolist() == texts and seen == [1 / 3, 2 / 3, 1.0]
    assert at_readout.params == {"where": "model", "layer": 6, "readout_layer": 6, "pooling": "mean",
                                 "vector_norm": pytest.approx(np.linalg.norm(vector))}
    np.testing.assert_allclose(wide["alpha=0"], base, rtol=1e-4, atol=1e-3)
    # steering the state that is read out: mean pooling of h + alpha v is pooled h + alpha v
    for alpha in (-1, 2):
        np.testing.assert_allclose(wide[f"alpha={alpha}"] - wide["alpha=0"], alpha * vector @ w, rtol=1e-3, atol=1e-2)
    # steering an earlier state goes through the later blocks (layer norms): a change, but not the added one
    early = steering_sweep(texts, 2, vector, [0.0, 2.0], readout, readout_layer=6).per_input()
    np.testing.assert_allclose(early["alpha=0"], base, rtol=1e-4, atol=1e-3)
    moved = early["alpha=2"] - early["alpha=0"]
    assert np.all(np.abs(moved) > 1e-2) and not np.allclose(moved, 2 * vector @ w, rtol=0.05)
