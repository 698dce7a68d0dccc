"""Precision follows the data: float32 products for float16/float32 input, float64 merges.

The policy (``probing.stats``): each chunk is shifted by the mean of its first rows, its Gram matrix and
class sums are computed in the input's float type (float16 upcast to float32), and chunks
are merged in float64. On well-conditioned data that agrees with a float64 computation to
about 1e-6 relative (relative to the largest entry: a near-zero off-diagonal entry has no
relative accuracy of its own in any float32 computation); float64 input stays float64.
"""

import numpy as np
import pytest

from probing.stats import compute_moments, layer_moments, work_dtype


def reference(X):
    """Count, mean and scatter of ``X`` in float64 (the values as stored, promoted)."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    return mean, (X - mean).T @ (X - mean)


def relative_error(actual, desired) -> float:
    return float(np.max(np.abs(actual - desired)) / np.max(np.abs(desired)))


@pytest.fixture(scope="module")
def offset_rows():
    """Well-conditioned rows far from the origin (where an uncentred float32 Gram would fail)."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((20_000, 24)) * rng.uniform(0.5, 2.0, 24) + 300.0


def test_work_dtype_policy():
    assert work_dtype(np.float16) == np.float32
    assert work_dtype(np.float32) == np.float32
    assert work_dtype(np.float64) == np.float64
    assert work_dtype(np.int64) == np.float64


@pytest.mark.parametrize("chunk_rows", [500, 7_000, None])
def test_float32_agrees_with_float64_to_1e6(offset_rows, chunk_rows):
    X32 = offset_rows.astype(np.float32)
    mean, scatter = reference(X32)
    m = compute_moments(X32, chunk_rows=chunk_rows)
    assert m.mean.dtype == np.float64 and m.scatter.dtype == np.float64
    assert relative_error(m.mean, mean) < 1e-6
    assert relative_error(m.scatter, scatter) < 1e-6
    # the spectrum too (what PCA reads), each eigenvalue relative to the largest
    values = np.linalg.eigvalsh(m.scatter)
    assert relative_error(values, np.linalg.eigvalsh(scatter)) < 1e-6


def test_float64_input_stays_float64(offset_rows):
    mean, scatter = reference(offset_rows)
    m = compute_moments(offset_rows, chunk_rows=3_000)
    assert relative_error(m.mean, mean) < 1e-13
    assert relative_error(m.scatter, scatter) < 1e-11  # far below what float32 products could give


def test_float16_memmap_is_upcast_per_chunk(tmp_path, offset_rows):
    X16 = (offset_rows - 300.0).astype(np.float16)  # float16 cannot hold the offset's resolution
    path = tmp_path / "x.npy"
    np.save(path, X16)
    mean, scatter = reference(X16)
    m = compute_moments(np.load(path, mmap_mode="r"), chunk_rows=1_024)
    assert relative_error(m.mean, mean) < 1e-6
    assert relative_error(m.scatter, scatter) < 1e-6


def test_class_means_and_within_scatter_agree(offset_rows):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, len(offset_rows))
    acts = offset_rows.reshape(len(offset_rows), 2, 12)
    got32 = layer_moments(acts.astype(np.float32), [(y, 3)], chunk_rows=4_000)
    got64 = layer_moments(acts.astype(np.float32).astype(np.float64), [(y, 3)], chunk_rows=4_000)
    for layer in range(2):
        a, b = got32[layer][0][0], got64[layer][0][0]
        assert relative_error(a.means, b.means) < 1e-6
        assert relative_error(a.within_scatter(), b.within_scatter()) < 1e-6


def test_different_chunk_plans_agree_to_float32_tolerance(offset_rows):
    """The same rows in different chunks give different float32 products: equal to 1e-5 relative, not bitwise."""
    X32 = offset_rows.astype(np.float32)
    a, b = compute_moments(X32, chunk_rows=333), compute_moments(X32, chunk_rows=20_000)
    assert relative_error(a.scatter, b.scatter) < 1e-5
    assert relative_error(a.mean, b.mean) < 1e-6
