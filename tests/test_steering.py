"""Steering vectors: recovery of planted directions, exact arithmetic, dose-response, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from probing import ProbingInputError
from probing.steering import activation_sweep, apply_steering, project_out, steering_vector
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
