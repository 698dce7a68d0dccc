"""Mutual coherence, Welch bound, babel, Gram and the coherence-accuracy experiment."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from probing import ProbingInputError
from probing.coherence import bounds as coh
from probing.coherence import babel, coherence_report, gram, mutual_coherence, random_coherence, welch_bound
from probing.coherence.experiment import coherence_vs_accuracy


def brute_abs_cos(D):
    """All |cos| of the pairs i < j in float64, with the pair indices."""
    U = np.asarray(D, np.float64)
    U = U / np.linalg.norm(U, axis=1, keepdims=True)
    i, j = np.triu_indices(len(U), 1)
    return np.abs(U @ U.T)[i, j], i, j


def simplex(m):
    """The m + 1 vertices of a regular simplex centred at 0, as unit vectors in R^m."""
    E = np.eye(m + 1) - 1.0 / (m + 1)  # rows span the sum-zero hyperplane of R^{m+1}
    Q, _ = np.linalg.qr(E.T)
    return E @ Q[:, :m]


@pytest.mark.parametrize("k, d, dtype, block_rows", [(40, 8, np.float64, None), (257, 16, np.float32, 50),
                                                     (300, 300, np.float64, 64), (97, 5, np.float32, 7)])
def test_equals_brute_force(k, d, dtype, block_rows):
    lengths = np.random.default_rng(1).uniform(0.1, 10, (k, 1))
    D = (np.random.default_rng(k).standard_normal((k, d)) * lengths).astype(dtype)
    values, i, j = brute_abs_cos(D)
    best = np.argmax(values)
    assert mutual_coherence(D, block_rows) == pytest.approx(values[best], abs=1e-13)
    report = coherence_report(D, block_rows=block_rows, baseline_draws=0)
    assert report.pair == (i[best], j[best])
    order = np.lexsort((j, i, -values))[:10]
    np.testing.assert_array_equal(report.top_pairs[["i", "j"]].to_numpy(), np.c_[i[order], j[order]])
    np.testing.assert_allclose(report.top_pairs["abs_cos"], values[order], atol=1e-13)


def test_float64_fallback_for_many_near_ties_is_exact(monkeypatch):
    monkeypatch.setattr(coh, "_MAX_RECHECK", 0)  # every block is redone in float64
    D = np.random.default_rng(3).standard_normal((130, 12))
    values, i, j = brute_abs_cos(D)
    report = coherence_report(D, block_rows=40, baseline_draws=0)
    assert report.mu == pytest.approx(values.max(), abs=1e-13)
    assert report.pair == (i[np.argmax(values)], j[np.argmax(values)])


@pytest.mark.parametrize("m", [2, 3, 7, 20])
def test_regular_simplex_meets_welch_bound(m):
    assert welch_bound(m + 1, m) == pytest.approx(1.0 / m)
    assert mutual_coherence(simplex(m)) == pytest.approx(1.0 / m, abs=1e-12)


def test_equilateral_triangle_is_one_half():
    angles = 2 * np.pi * np.arange(3) / 3
    assert mutual_coherence(np.c_[np.cos(angles), np.sin(angles)]) == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("k, d, block_rows", [(5, 5, None), (64, 100, 10), (200, 256, 128)])
def test_orthonormal_rows_have_zero_coherence(k, d, block_rows):
    Q, _ = np.linalg.qr(np.random.default_rng(k).standard_normal((d, k)))
    assert mutual_coherence(3.0 * Q.T, block_rows) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("block_rows", [7, 33, 100, 299])
def test_blocked_and_unblocked_agree(block_rows):
    D = np.random.default_rng(5).standard_normal((301, 24)).astype(np.float32)
    whole = coherence_report(D, block_rows=301, baseline_draws=0)
    blocked = coherence_report(D, block_rows=block_rows, baseline_draws=0)
    assert (blocked.mu, blocked.pair) == (whole.mu, whole.pair)
    assert blocked.counts.sum() == whole.counts.sum() == 301 * 300 // 2
    assert np.abs(blocked.counts - whole.counts).sum() <= 4  # float32 values on a bin edge may move
    assert blocked.mean == pytest.approx(whole.mean, rel=1e-6)


@pytest.mark.parametrize("block_rows", [None, 2, 3])
def test_float64_recheck_picks_the_right_pair_on_a_near_tie(block_rows):
    c = 0.9
    D = np.zeros((4, 4))
    D[0, 0], D[1, :2] = 1.0, [c, np.sqrt(1 - c * c)]
    D[2, 2], D[3, 2:] = 1.0, [c + 1e-9, np.sqrt(1 - (c + 1e-9) ** 2)]
    G32 = np.abs(D.astype(np.float32) @ D.astype(np.float32).T)
    np.fill_diagonal(G32, 0)
    assert np.unravel_index(np.argmax(G32), G32.shape) == (0, 1)  # float32 alone picks the wrong pair
    report = coherence_report(D, block_rows=block_rows, baseline_draws=0)
    assert report.pair == (2, 3)
    assert report.mu == pytest.approx(c + 1e-9, abs=1e-15)


def test_report_distribution_matches_brute_force(monkeypatch):
    D = np.random.default_rng(7).standard_normal((200, 10))
    values, _, _ = brute_abs_cos(D)
    report = coherence_report(D, bins=20, block_rows=64, baseline_draws=0)
    assert report.quantiles_exact
    assert report.mean == pytest.approx(values.mean(), rel=1e-6)
    np.testing.assert_allclose(list(report.quantiles.values()), np.quantile(values, list(report.quantiles)),
                               atol=1e-6)
    assert np.abs(report.counts - np.histogram(values, bins=20, range=(0, 1))[0]).sum() <= 2
    assert report.histogram_frame()["fraction"].sum() == pytest.approx(1.0)
    monkeypatch.setattr(coh, "_EXACT_QUANTILE_PAIRS", 0)
    approx = coherence_report(D, bins=20, block_rows=64, baseline_draws=0)
    assert not approx.quantiles_exact
    np.testing.assert_allclose(list(approx.quantiles.values()), list(report.quantiles.values()),
                               atol=1.0 / (20 * 64) + 1e-6)
    frame = report.to_frame()
    assert frame.set_index("statistic").loc["mutual coherence mu", "value"] == report.mu


def test_random_baseline_is_seeded_and_above_welch():
    D = np.random.default_rng(0).standard_normal((150, 20))
    report = coherence_report(D, seed=4)
    assert report.random_baseline == random_coherence(150, 20, seed=4)
    assert report.random_baseline != random_coherence(150, 20, seed=5)
    assert report.welch < report.random_baseline < 1.0
    assert np.isnan(coherence_report(D, baseline_draws=0).random_baseline)


def test_welch_bound_values_and_errors():
    assert welch_bound(10, 10) == 0.0 == welch_bound(3, 10)
    n, m = 1000, 30
    assert welch_bound(n, m) == pytest.approx(np.sqrt((n - m) / (m * (n - 1))))
    with pytest.raises(ProbingInputError, match="n >= 2"):
        welch_bound(1, 3)


def test_babel_matches_brute_force():
    D = np.random.default_rng(2).standard_normal((45, 6))
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    A = np.abs(U @ U.T)
    np.fill_diagonal(A, -np.inf)
    expected = np.cumsum(-np.sort(-A, axis=1)[:, :8], axis=1).max(axis=0)
    result = babel(D, 8, block_rows=16)
    np.testing.assert_allclose(result, expected, atol=1e-12)
    assert result[0] == pytest.approx(mutual_coherence(D), abs=1e-12)
    with pytest.raises(ProbingInputError, match="p <= k - 1"):
        babel(D, 45)


def test_gram_is_cosines_and_refuses_large_sets():
    D = np.random.default_rng(1).standard_normal((30, 4)) * 5
    G = gram(D)
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    np.testing.assert_allclose(G, U @ U.T, atol=1e-12)
    with pytest.raises(ProbingInputError, match="max_rows"):
        gram(D, max_rows=10)


@pytest.mark.parametrize("bad, message", [(np.zeros((3, 4)), "all-zero rows"), (np.ones((1, 4)), "at least 2 rows"),
                                          (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"), (np.ones(4), "2-D")])
def test_bad_input_raises_clear_errors(bad, message):
    with pytest.raises(ProbingInputError, match=message):
        mutual_coherence(bad)
    with pytest.raises(ProbingInputError, match=message):
        coherence_report(bad)


def test_accuracy_falls_as_coherence_rises_under_fixed_noise():
    calls = []
    frame = coherence_vs_accuracy(cosines=(0.0, 0.5, 0.8, 0.9, 0.95, 0.99), n_samples=1200, d=16, noise=1.0,
                                  n_concepts=(8, 32, 128), max_probed=4, progress=lambda f, m: calls.append(f))
    pairs = frame[frame.experiment == "two concepts"]
    np.testing.assert_allclose(pairs.coherence, pairs.concept_cosine, atol=1e-12)
    assert spearmanr(pairs.coherence, pairs.accuracy).statistic < -0.8
    superposed = frame[frame.experiment == "k concepts in d dims"]
    assert superposed.coherence.is_monotonic_increasing and superposed.accuracy.is_monotonic_decreasing
    assert (superposed.coherence >= superposed.welch - 1e-12).all()
    assert (frame.accuracy > frame.chance).all()
    assert calls[-1] == 1.0


@pytest.mark.parametrize("scale, dtype", [(1e300, np.float64), (1e-300, np.float64), (1e30, np.float32)])
def test_extreme_lengths_do_not_overflow(scale, dtype):
    D = np.random.default_rng(4).standard_normal((60, 9))
    assert mutual_coherence((D * scale).astype(dtype), block_rows=16) == pytest.approx(mutual_coherence(D), abs=1e-6)
