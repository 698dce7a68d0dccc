"""Moments: chunked equals one-shot, merge and subtract equal direct computation."""

import numpy as np
import pytest

from probing import ProbingInputError
from probing.stats import (ClassMoments, Moments, class_moments, compute_moments, group_moments,
                           layer_class_moments, layer_moments)


def direct(X):
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    return Moments(len(X), mean, (X - mean).T @ (X - mean))


def assert_moments_close(a, b, rtol=1e-9, atol=1e-8):
    assert a.count == b.count
    np.testing.assert_allclose(a.mean, b.mean, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.scatter, b.scatter, rtol=rtol, atol=atol)


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    # a large common offset makes naive uncentred sums lose precision; float64, so these tests
    # check the chunk and merge algebra at float64 rounding (float32 data: test_precision.py)
    return rng.standard_normal((1003, 17)) * rng.uniform(0.1, 3, 17) + 1000.0


@pytest.mark.parametrize("chunk_rows", [1, 7, 100, 5000])
def test_chunked_moments_equal_one_shot(X, chunk_rows):
    assert_moments_close(compute_moments(X, chunk_rows=chunk_rows), direct(X), rtol=1e-7, atol=1e-6)


def test_covariance_and_second_moment_match_numpy(X):
    m = compute_moments(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(m.covariance(), np.cov(X64, rowvar=False), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(m.covariance(ddof=0), np.cov(X64, rowvar=False, ddof=0), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(m.second_moment(), X64.T @ X64 / len(X64), rtol=1e-9)


def test_merge_and_subtract(X):
    a, b = direct(X[:300]), direct(X[300:])
    assert_moments_close(a + b, direct(X), rtol=1e-9, atol=1e-6)
    assert_moments_close(direct(X) - b, a, rtol=1e-6, atol=1e-5)
    assert_moments_close(Moments.zeros(X.shape[1]) + a, a)


def test_group_moments_match_per_group(X):
    groups = np.arange(len(X)) % 3
    for g, m in enumerate(group_moments(X, groups, 4, chunk_rows=50)):
        if g < 3:
            assert_moments_close(m, direct(X[groups == g]), rtol=1e-7, atol=1e-6)
        else:
            assert m.count == 0


def test_class_moments_keys_and_values(X):
    y = np.where(np.arange(len(X)) % 4 == 0, "a", "b")
    moments = class_moments(X, y, classes=["b", "a", "z"])
    assert list(moments) == ["b", "a", "z"]
    assert_moments_close(moments["a"], direct(X[y == "a"]), rtol=1e-7, atol=1e-6)
    assert moments["z"].count == 0


def test_layer_class_moments_fold_algebra():
    """Fold training statistics from total minus held-out fold equal direct computation."""
    rng = np.random.default_rng(1)
    acts = rng.standard_normal((600, 3, 8)) + 5
    y = rng.integers(0, 3, 600)
    folds = rng.integers(0, 4, 600)
    result = layer_class_moments(acts, y, 3, folds, 4, chunk_rows=64)
    assert len(result) == 3 and len(result[0]) == 4
    for layer in range(3):
        total = sum(result[layer][1:], result[layer][0])
        for fold in range(4):
            train = total - result[layer][fold]
            X = acts[folds != fold, layer].astype(np.float64)
            yt = y[folds != fold]
            assert_moments_close(train.pooled, direct(X), rtol=1e-6, atol=1e-6)
            means = np.stack([X[yt == c].mean(axis=0) for c in range(3)])
            np.testing.assert_allclose(train.means, means, rtol=1e-8, atol=1e-8)
            within = sum((X[yt == c] - means[c]).T @ (X[yt == c] - means[c]) for c in range(3))
            np.testing.assert_allclose(train.within_scatter(), within, rtol=1e-7, atol=1e-6)
            assert isinstance(train, ClassMoments)


def test_layer_subset_and_progress():
    acts = np.random.default_rng(2).standard_normal((100, 4, 5))
    calls = []
    result = layer_class_moments(acts, np.zeros(100, int), 1, layers=[3, 1], chunk_rows=30,
                                 progress=lambda f, m: calls.append(f))
    assert_moments_close(result[0][0].pooled, direct(acts[:, 3]))
    assert_moments_close(result[1][0].pooled, direct(acts[:, 1]))
    assert calls[-1] == 1.0 and len(calls) == 4


def test_bad_input():
    with pytest.raises(ProbingInputError, match="2-D"):
        compute_moments(np.zeros(5))
    with pytest.raises(ProbingInputError, match="dimension"):
        Moments.zeros(3) + Moments.zeros(4)
    with pytest.raises(ProbingInputError, match="remove"):
        Moments.zeros(3) - direct(np.ones((2, 3)))
    with pytest.raises(ProbingInputError, match="ddof"):
        direct(np.ones((1, 3))).covariance()
    with pytest.raises(ProbingInputError, match="one value per row"):
        class_moments(np.ones((4, 2)), [0, 1])
    with pytest.raises(ProbingInputError, match="out of range"):
        layer_class_moments(np.ones((4, 1, 2)), [0, 1, 2, 0], 2)


def test_layer_moments_several_labelings_share_the_scatter():
    rng = np.random.default_rng(3)
    acts = rng.standard_normal((200, 2, 4))
    y, z = rng.integers(0, 2, 200), rng.integers(0, 3, 200)
    both = layer_moments(acts, [(y, 2), (z, 3)], chunk_rows=33)
    alone = layer_class_moments(acts, z, 3)
    for layer in range(2):
        by_y, by_z = both[layer][0]
        assert by_y.pooled is by_z.pooled
        np.testing.assert_allclose(by_z.means, alone[layer][0].means, rtol=1e-12)
        np.testing.assert_array_equal(by_y.counts, np.bincount(y))
