"""LEACE: after erasure every class has the same mean and a fresh probe is at chance."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from probing import ProbingInputError
from probing.erasure import erase_layers, erasure_sweep, fit_eraser, mean_squared_change
from probing.synthetic import make_concept_embeddings


@pytest.fixture(scope="module")
def data():
    aset, _ = make_concept_embeddings(n_samples=1500, d=24, n_concepts=3, noise=1.0, n_layers=2, seed=5)
    return aset


def test_class_means_are_equal_after_erasure(data):
    X, y = data.layer(-1).astype(np.float64), data.labels["label"]
    erased = fit_eraser(X, y).transform(X)
    np.testing.assert_allclose(erased[y == 0].mean(axis=0), erased[y == 1].mean(axis=0), atol=1e-9)


def test_fresh_probe_is_at_chance_after_erasure(data):
    X, y = data.layer(-1).astype(np.float64), data.labels["label"]
    train, test = np.arange(0, 1000), np.arange(1000, 1500)
    eraser = fit_eraser(X[train], y[train])
    before = LogisticRegression(max_iter=2000).fit(X[train], y[train]).score(X[test], y[test])
    after = LogisticRegression(max_iter=2000).fit(eraser(X[train]), y[train]).score(eraser(X[test]), y[test])
    in_sample = LogisticRegression(max_iter=2000).fit(eraser(X), y).score(eraser(X), y)
    majority = max(np.mean(y[test]), 1 - np.mean(y[test]))
    assert before > 0.95
    assert abs(after - majority) < 0.05
    assert abs(in_sample - max(np.mean(y), 1 - np.mean(y))) < 0.05


def test_erasure_sweep_reports_chance_on_every_layer(data):
    frame = erasure_sweep(data, "label", cv=4).to_frame()
    assert list(frame["layer"]) == data.layers
    assert (frame["accuracy_before"].iloc[-1]) > 0.95
    assert np.all(np.abs(frame["accuracy_after"] - frame["majority_baseline"]) < 0.05)
    assert np.all(frame["msc_leace"] <= frame["msc_orth"] + 1e-9)


def test_other_concepts_survive_erasure(data):
    X = data.layer(-1).astype(np.float64)
    erased = fit_eraser(X, data.labels["concept_0"]).transform(X)
    before = cross_val_score(LogisticRegression(max_iter=2000), X, data.labels["concept_1"], cv=5).mean()
    after = cross_val_score(LogisticRegression(max_iter=2000), erased, data.labels["concept_1"], cv=5).mean()
    assert after > 0.85 and after > before - 0.02


def test_leace_moves_data_less_than_orthogonal_projection():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((10, 10))
    y = rng.integers(0, 2, 3000)
    X = rng.standard_normal((3000, 10)) @ mixing + np.outer(y, rng.standard_normal(10))
    leace = mean_squared_change(X, fit_eraser(X, y).transform(X))
    orth = mean_squared_change(X, fit_eraser(X, y, method="orth").transform(X))
    assert leace < orth


def test_multiclass_erasure_equalises_all_means():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    centres = rng.standard_normal((4, 12)) * 3
    X = centres[y] + rng.standard_normal((2000, 12))
    eraser = fit_eraser(X, y)
    erased = eraser.transform(X)
    means = np.stack([erased[y == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(means - means.mean(axis=0), 0, atol=1e-8)
    assert eraser.rank == 3


def test_erase_layers_equalises_class_means_and_leaves_a_probe_at_chance_on_every_layer(data):
    erased = erase_layers(data, "label")
    assert erased.shape == data.shape and erased.labels.keys() == data.labels.keys()
    y = data.labels["label"]
    majority = max(np.mean(y), 1 - np.mean(y))
    for layer in range(data.n_layers):
        X, Z = data.layer(layer).astype(np.float64), erased.layer(layer).astype(np.float64)
        gap_before = np.linalg.norm(X[y == 0].mean(axis=0) - X[y == 1].mean(axis=0))
        gap_after = np.linalg.norm(Z[y == 0].mean(axis=0) - Z[y == 1].mean(axis=0))
        assert gap_before > 1 and gap_after < 1e-4 * gap_before, (layer, gap_before, gap_after)
        in_sample = LogisticRegression(max_iter=2000).fit(Z, y).score(Z, y)
        held_out = cross_val_score(LogisticRegression(max_iter=2000), Z, y, cv=5).mean()
        assert abs(in_sample - majority) < 0.05 and held_out < majority + 0.05, (layer, in_sample, held_out)


def test_one_class_is_refused(data):
    with pytest.raises(ProbingInputError, match="at least 2 classes"):
        fit_eraser(data.layer(0), np.zeros(data.n_samples))
