"""Mutual coherence: how close to orthogonal a set of directions is (the seeds' Exercise 8(e)).

The rows of ``D`` (shape ``(k, d)``) are directions: planted concepts, probe weights, SAE
decoder rows, unembedding rows. Their *mutual coherence* is the largest ``|cos|`` between
two different rows,

    mu(D) = max_{i != j} |<u_i, u_j>|,      u_i = D_i / ||D_i||.

Orthonormal rows give 0. More than ``d`` rows cannot all be orthogonal: the Welch bound
``sqrt((k - d) / (d (k - 1)))`` is the lowest coherence any ``k`` unit vectors in
``R^d`` can have, so packing many features into few dimensions forces interference.

The scan never holds the ``k x k`` Gram matrix: it multiplies row blocks in float32, only
for block pairs on or above the diagonal, and rechecks in float64 every entry that float32
rounding could have ranked wrongly, so the answer is exact to float64 precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from probing.data import as_2d_float, check_finite, is_lazy
from probing.errors import ProbingInputError

Progress = Callable[[float, str], None] | None

DEFAULT_BLOCK_ROWS = 1024
_FINE_BINS_PER_BIN = 64  # quantiles come from a histogram this much finer than the displayed one
_EXACT_QUANTILE_PAIRS = 2_000_000  # up to this many pairs, quantiles are taken from all values
_MAX_RECHECK = 4096  # more float32 near-ties than this in one block: redo the block in float64
_F32_EPS = 2.0 ** -24


def welch_bound(n: int, m: int) -> float:
    """The lowest possible mutual coherence of ``n`` unit vectors in ``R^m``.

    ``sqrt((n - m) / (m (n - 1)))``, and 0 when ``n <= m`` (orthonormal vectors fit).
    A regular simplex (``m + 1`` vectors in ``R^m``) meets it with coherence ``1/m``.

    Parameters
    ----------
    n : int
        Number of vectors (at least 2).
    m : int
        Dimension (at least 1).
    """
    if int(n) != n or int(m) != m or n < 2 or m < 1:
        raise ProbingInputError(f"welch_bound needs integers n >= 2 and m >= 1; got n={n}, m={m}.")
    if n <= m:
        return 0.0
    return float(np.sqrt((n - m) / (m * (n - 1))))


def unit_rows(D) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``D (k, d)`` and return it with its float64 inverse row norms ``(k,)``.

    A memory map stays on disk (checked for NaN/Inf in chunks, cast block by block later).
    """
    if is_lazy(D) and isinstance(D, np.ndarray) and D.ndim == 2 and D.dtype.kind == "f":
        check_finite(D, "D (directions, one per row)")
    else:
        D = as_2d_float(D, "D (directions, one per row)", min_samples=1)
    if D.shape[0] < 2:
        raise ProbingInputError(f"Coherence compares pairs of rows, so D needs at least 2 rows; got shape {D.shape}. "
                                "Pass one direction per row, e.g. np.stack([u, v]).")
    norms = np.concatenate([_row_norms(D[s:s + 1024]) for s in range(0, D.shape[0], 1024)])
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ProbingInputError(f"D has {zero.size} all-zero rows (first: {zero[:5].tolist()}); a zero vector has no "
                                "direction. Drop those rows before computing coherence.")
    with np.errstate(over="ignore"):
        inv = 1.0 / norms
    if not np.isfinite(inv).all():
        raise ProbingInputError(f"D has rows with norms below 1e-300 (smallest {norms.min():.3g}); their direction "
                                "cannot be computed in float64. Rescale D, e.g. D / np.abs(D).max().")
    return D, inv


def _row_norms(block: np.ndarray) -> np.ndarray:
    """Euclidean row norms in float64, scaled by each row's largest entry so nothing over- or underflows."""
    block = block.astype(np.float64)
    peak = np.abs(block).max(axis=1)
    scaled = block / np.where(peak > 0, peak, 1.0)[:, None]
    return peak * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


def resolve_block_rows(block_rows: int | None, k: int) -> int:
    """Rows per block for ``k`` directions: ``block_rows`` if given, else ``min(k, DEFAULT_BLOCK_ROWS)``."""
    if block_rows is None:
        return min(k, DEFAULT_BLOCK_ROWS)
    if int(block_rows) != block_rows or block_rows < 1:
        raise ProbingInputError(f"block_rows must be a positive integer; got {block_rows}.")
    return int(min(block_rows, k))


def _unit(D: np.ndarray, inv: np.ndarray, start: int, stop: int, dtype=np.float32) -> np.ndarray:
    """Rows ``start:stop`` of ``D`` scaled to unit length, as ``dtype``."""
    block, scale = D[start:stop], inv[start:stop, None]
    if block.dtype == dtype and 1e-30 < scale.min() and scale.max() < 1e30:  # no float64 temporary needed
        return block * scale.astype(dtype)
    return (block * scale).astype(dtype, copy=False)


def _cos64(D: np.ndarray, inv: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Signed cosines of the row pairs ``(rows[t], cols[t])``, in float64 from the original ``D``."""
    a = D[rows].astype(np.float64) * inv[rows, None]
    b = D[cols].astype(np.float64) * inv[cols, None]
    return np.einsum("ij,ij->i", a, b)


class _TopPairs:
    """The ``n`` pairs with the largest float64 ``|cos|`` seen so far (ties: smaller indices first)."""

    def __init__(self, n: int):
        self.n = n
        self.i = np.empty(0, np.int64)
        self.j = np.empty(0, np.int64)
        self.cos = np.empty(0, np.float64)

    def threshold(self) -> float:
        return float(np.abs(self.cos[-1])) if self.cos.size == self.n else -np.inf

    def merge(self, i: np.ndarray, j: np.ndarray, cos: np.ndarray) -> None:
        i, j, cos = np.r_[self.i, i], np.r_[self.j, j], np.r_[self.cos, cos]
        order = np.lexsort((j, i, -np.abs(cos)))[:self.n]
        self.i, self.j, self.cos = i[order], j[order], cos[order]


def _exact_block(D, inv, i0, j0, b, n_top, lower):
    """The top ``n_top`` pairs of one block pair from a float64 product (many float32 near-ties)."""
    G = _unit(D, inv, i0, i0 + b, np.float64) @ _unit(D, inv, j0, j0 + b, np.float64).T
    A = np.abs(G)
    if lower is not None:
        np.putmask(A, lower[:len(A), :len(A)], -1.0)
    flat = A.ravel()
    m = min(n_top, flat.size)
    cand = np.argpartition(flat, -m)[-m:]
    cand = cand[flat[cand] >= 0]
    return cand // A.shape[1] + i0, cand % A.shape[1] + j0, G.ravel()[cand]


@dataclass
class _Scan:
    """What one pass over the blocks collects."""

    top: _TopPairs
    counts: np.ndarray | None  # fine histogram of float32 |cos| over [0, 1]
    total: float = 0.0  # sum of float32 |cos| over all pairs
    values: list = field(default_factory=list)  # all float32 |cos| values, when kept


def scan_pairs(D, inv, block_rows, n_top=1, fine_bins=0, keep_values=False, progress: Progress = None,
               pairs=None) -> _Scan:
    """One pass over the upper triangle of row-block pairs (see the module docstring).

    ``pairs`` (block starts ``(i0, j0)`` with ``j0 >= i0``) restricts the scan to those block
    pairs: :mod:`probing.distributed` hands each worker its own and keeps the best.
    """
    k, d = D.shape
    b = resolve_block_rows(block_rows, k)
    # Any float32 |cos| of unit rows is within tol of the true value: a dot product of length d
    # errs by at most d * eps * ||u|| ||v||, and normalising in float32 adds a few eps.
    tol = 1.01 * (d + 8) * _F32_EPS
    scan = _Scan(_TopPairs(n_top), np.zeros(fine_bins, np.int64) if fine_bins else None)
    lower = np.tril(np.ones((b, b), bool))  # diagonal blocks: keep only pairs i < j
    pairs = block_pairs(k, b) if pairs is None else pairs
    Ui, i_cached = None, -1
    for step, (i0, j0) in enumerate(pairs):
        if i0 != i_cached:
            Ui, i_cached = _unit(D, inv, i0, i0 + b), i0
        G = Ui @ (Ui if j0 == i0 else _unit(D, inv, j0, j0 + b)).T  # (bi, bj) float32 cosines
        np.abs(G, out=G)
        diagonal = i0 == j0
        if diagonal:
            np.putmask(G, lower[:len(G), :len(G)], -1.0)
        if scan.counts is not None:
            values = G[~lower[:len(G), :len(G)]] if diagonal else G.ravel()
            scan.total += float(values.sum(dtype=np.float64))
            index = (values * fine_bins).astype(np.int32)
            scan.counts += np.bincount(np.minimum(index, fine_bins - 1, out=index), minlength=fine_bins)
            if keep_values:
                scan.values.append(values.copy())
        flat = G.ravel()
        nth = flat.max() if n_top == 1 else np.partition(flat, -min(n_top, flat.size))[-min(n_top, flat.size)]
        # An entry below either threshold cannot reach the top n: its true value is at most
        # (its float32 value + tol), below the n-th best found so far, or below n entries of
        # this same block (each at least its float32 value - tol).
        threshold = max(scan.top.threshold() - tol, float(nth) - 2 * tol, 0.0)
        cand = np.flatnonzero(flat >= threshold)
        if cand.size > _MAX_RECHECK:
            scan.top.merge(*_exact_block(D, inv, i0, j0, b, n_top, lower if diagonal else None))
        else:
            rows, cols = cand // G.shape[1] + i0, cand % G.shape[1] + j0
            scan.top.merge(rows, cols, _cos64(D, inv, rows, cols))
        if progress is not None:
            progress((step + 1) / len(pairs), f"block pair {step + 1}/{len(pairs)}")
    return scan


def block_pairs(k: int, b: int) -> list[tuple[int, int]]:
    """Starts ``(i0, j0)`` of the row-block pairs on or above the diagonal for ``k`` rows in blocks of ``b``."""
    starts = range(0, k, b)
    return [(i0, j0) for i0 in starts for j0 in starts if j0 >= i0]


def mutual_coherence(D, block_rows: int | None = None, progress: Progress = None) -> float:
    """The largest ``|cos|`` between two different rows of ``D``, exact to float64 precision.

    Parameters
    ----------
    D : array_like of shape (k, d)
        The vectors, one per row (any non-zero length; they are normalised).
    block_rows : int, optional
        Rows per block (default 1024, or ``k`` if smaller). Memory is about three
        ``block_rows x block_rows`` float32 blocks on top of ``D``.
    progress : callable(fraction, message), optional
        Called after each block pair.

    Returns
    -------
    float
        ``max_{i != j} |<D_i, D_j>| / (||D_i|| ||D_j||)``; :func:`coherence_report` also
        returns the pair and the distribution.

    Examples
    --------
    >>> mutual_coherence([[1, 0], [-0.5, 3 ** 0.5 / 2], [-0.5, -(3 ** 0.5) / 2]])  # doctest: +ELLIPSIS
    0.5...
    """
    D, inv = unit_rows(D)
    return float(abs(scan_pairs(D, inv, block_rows, progress=progress).top.cos[0]))


def random_coherence(k: int, d: int, seed: int = 0, n_draws: int = 1, block_rows: int | None = None,
                     progress: Progress = None) -> float:
    """The coherence of ``k`` random unit vectors in ``R^d`` (Gaussian directions), averaged over draws.

    The baseline a learned dictionary is compared with: below it, the directions are spread
    out more evenly than chance; above it, some pairs crowd together. The draws come from a
    stream of their own (``default_rng([seed, 0xC0E])``), so a set drawn with
    ``default_rng(seed)`` is not compared with itself.
    """
    if int(k) != k or int(d) != d or k < 2 or d < 1 or n_draws < 1:
        raise ProbingInputError(f"random_coherence needs k >= 2, d >= 1, n_draws >= 1; got k={k}, d={d}, "
                                f"n_draws={n_draws}.")
    rng = np.random.default_rng([seed, 0xC0E])
    draws = []
    for draw in range(n_draws):
        step = None if progress is None else (lambda f, m, s=draw: progress((s + f) / n_draws, f"random draw: {m}"))
        draws.append(mutual_coherence(rng.standard_normal((int(k), int(d)), dtype=np.float32), block_rows, step))
    return float(np.mean(draws))


@dataclass(frozen=True)
class CoherenceReport:
    """Mutual coherence of a set of directions, with the bounds and the distribution of ``|cos|``.

    Attributes
    ----------
    mu : float
        Mutual coherence (float64-exact); ``pair`` ``(i, j)``, ``i < j``, attains it with signed cosine ``cos``.
    welch : float
        Welch bound for ``k`` vectors in ``R^d``: no set can have a lower ``mu``.
    random_baseline : float
        Coherence of ``k`` random unit vectors in ``R^d`` (seed ``seed``); NaN if not measured.
    mean : float
        Mean ``|cos|`` over all ``k (k - 1) / 2`` pairs.
    quantiles : dict[float, float]
        Quantiles of ``|cos|`` over pairs: exact (from every float32 value) when
        ``quantiles_exact``, otherwise interpolated from a histogram with bins of width
        ``1 / (64 * bins)``, so accurate to that width.
    bin_edges, counts : ndarray of shape (bins + 1,), (bins,)
        Histogram of ``|cos|`` over all pairs on ``[0, 1]``.
    top_pairs : DataFrame
        The most coherent pairs: ``i``, ``j``, ``cos`` (signed), ``abs_cos``, most coherent first.
    """

    mu: float
    pair: tuple[int, int]
    cos: float
    welch: float
    random_baseline: float
    k: int
    d: int
    mean: float
    quantiles: dict
    quantiles_exact: bool
    bin_edges: np.ndarray
    counts: np.ndarray
    top_pairs: pd.DataFrame
    seed: int

    def to_frame(self) -> pd.DataFrame:
        """One row per statistic: ``statistic``, ``value``."""
        rows = [("k (vectors)", self.k), ("d (dimensions)", self.d), ("mutual coherence mu", self.mu),
                ("most coherent pair i", self.pair[0]), ("most coherent pair j", self.pair[1]),
                ("signed cosine of that pair", self.cos), ("Welch bound", self.welch),
                (f"random baseline (seed {self.seed})", self.random_baseline), ("mean |cos|", self.mean)]
        kind = "exact" if self.quantiles_exact else "approx."
        rows += [(f"|cos| quantile {q:g} ({kind})", v) for q, v in self.quantiles.items()]
        return pd.DataFrame(rows, columns=["statistic", "value"])

    def histogram_frame(self) -> pd.DataFrame:
        """The ``|cos|`` histogram: ``bin_left``, ``bin_right``, ``pairs``, ``fraction``."""
        return pd.DataFrame({"bin_left": self.bin_edges[:-1], "bin_right": self.bin_edges[1:], "pairs": self.counts,
                             "fraction": self.counts / max(self.counts.sum(), 1)})

    def plot(self):
        """The Coherence page's ``|cos|`` histogram (see :func:`probing.charts.coherence_histogram`)."""
        from probing import charts

        return charts.coherence_histogram(self)

    def _repr_html_(self) -> str:
        from probing import charts

        numbers = {"directions k": self.k, "dimension d": self.d, "mutual coherence μ": self.mu,
                   "attained by rows": f"{self.pair[0]} and {self.pair[1]}", "Welch bound": self.welch,
                   "random baseline": self.random_baseline}
        return charts.html_summary("CoherenceReport", numbers, self.to_frame())


def coherence_report(D, bins: int = 50, n_top: int = 10, quantiles=(0.5, 0.9, 0.99, 0.999), seed: int = 0,
                     baseline_draws: int = 1, block_rows: int | None = None, max_rows: int | None = None,
                     progress: Progress = None) -> CoherenceReport:
    """Mutual coherence of the rows of ``D`` with its pair, bounds and ``|cos|`` distribution.

    One blocked pass as in :func:`mutual_coherence` (no ``k x k`` matrix), accumulating the
    histogram per block, plus a pass over random vectors for the baseline.

    Parameters
    ----------
    D : array_like of shape (k, d)
        The vectors, one per row.
    bins : int
        Histogram bins on ``[0, 1]``.
    n_top : int
        How many of the most coherent pairs to list (their ``|cos|`` exact in float64).
    quantiles : sequence of float in [0, 1]
        Which ``|cos|`` quantiles to report.
    seed : int
        Seed of the random baseline.
    baseline_draws : int
        Random sets averaged for the baseline (0 skips it: NaN). Each costs about one pass over ``D``.
    block_rows : int, optional
        Rows per block.
    max_rows : int, optional
        Refuse more rows than this (the work grows with ``k^2``: 40,000 rows take about 16 s, ten
        million days); a hosted dashboard sets it so one upload cannot take the server.
    progress : callable(fraction, message), optional

    Returns
    -------
    CoherenceReport
    """
    k = np.shape(D)[0] if np.ndim(D) else 0
    if max_rows is not None and k > max_rows:
        raise ProbingInputError(f"D has {k:,} rows, more than the {max_rows:,} allowed here: coherence compares every "
                                f"pair, {k * (k - 1) // 2:,} pairs. Pass a subset of rows (e.g. the first {max_rows:,} "
                                "or a random sample) or run coherence_report on your own machine.")
    D, inv = unit_rows(D)
    k, d = D.shape
    if bins < 1 or n_top < 1 or baseline_draws < 0 or not all(0 <= q <= 1 for q in quantiles):
        raise ProbingInputError(f"Need bins >= 1, n_top >= 1, baseline_draws >= 0 and quantiles in [0, 1]; got "
                                f"bins={bins}, n_top={n_top}, baseline_draws={baseline_draws}, quantiles={quantiles}.")
    share = 1.0 if baseline_draws == 0 else 0.5
    main = None if progress is None else (lambda f, m: progress(share * f, m))
    n_pairs = k * (k - 1) // 2
    exact = n_pairs <= _EXACT_QUANTILE_PAIRS
    scan = scan_pairs(D, inv, block_rows, n_top, bins * _FINE_BINS_PER_BIN, keep_values=exact, progress=main)
    if exact:
        values = np.concatenate(scan.values)
        qs = dict(zip(quantiles, np.quantile(values, quantiles).tolist()))
    else:
        cdf = np.r_[0.0, np.cumsum(scan.counts) / n_pairs]
        qs = dict(zip(quantiles, np.interp(quantiles, cdf, np.linspace(0, 1, len(scan.counts) + 1)).tolist()))
    baseline = np.nan
    if baseline_draws:
        rest = None if progress is None else (lambda f, m: progress(0.5 + 0.5 * f, m))
        baseline = random_coherence(k, d, seed, baseline_draws, block_rows, rest)
    top = scan.top
    table = pd.DataFrame({"i": top.i, "j": top.j, "cos": top.cos, "abs_cos": np.abs(top.cos)})
    return CoherenceReport(
        mu=float(abs(top.cos[0])), pair=(int(top.i[0]), int(top.j[0])), cos=float(top.cos[0]),
        welch=welch_bound(k, d), random_baseline=float(baseline), k=k, d=d, mean=scan.total / n_pairs,
        quantiles=qs, quantiles_exact=exact, bin_edges=np.linspace(0.0, 1.0, bins + 1),
        counts=scan.counts.reshape(bins, _FINE_BINS_PER_BIN).sum(axis=1), top_pairs=table, seed=seed)


def gram(D, max_rows: int = 2000) -> np.ndarray:
    """The cosine Gram matrix ``G[i, j] = cos(D_i, D_j)`` (float64) for small ``k``.

    Parameters
    ----------
    D : array_like of shape (k, d)
    max_rows : int
        Refuse larger ``k`` (the matrix has ``k^2`` entries); use :func:`coherence_report` instead.

    Returns
    -------
    ndarray of shape (k, k)
    """
    D, inv = unit_rows(D)
    if D.shape[0] > max_rows:
        raise ProbingInputError(f"gram builds a k x k matrix; got k={D.shape[0]} rows, more than max_rows={max_rows}. "
                                "Use coherence_report for large sets, or pass a subset of rows.")
    U = _unit(D, inv, 0, D.shape[0], np.float64)
    return U @ U.T


def babel(D, p: int, block_rows: int = 512) -> np.ndarray:
    """The babel function (cumulative coherence) ``mu_1(1), ..., mu_1(p)``.

    ``mu_1(q) = max_i max_{|S| = q, i not in S} sum_{j in S} |cos(D_i, D_j)|``: how much
    the ``q`` directions most aligned with one direction can add up against it. ``mu_1(1)``
    is the mutual coherence and ``mu_1(q) <= q mu``; when ``mu_1(q-1) + mu_1(q) < 1`` every
    ``q``-sparse combination of the directions is recoverable (Tropp, 2004).

    Parameters
    ----------
    D : array_like of shape (k, d)
    p : int
        Largest set size, ``1 <= p <= k - 1``.
    block_rows : int
        Rows compared with all ``k`` rows at a time (float64; memory ``block_rows x k``).

    Returns
    -------
    ndarray of shape (p,)
    """
    D, inv = unit_rows(D)
    k = D.shape[0]
    if int(p) != p or not 1 <= p <= k - 1:
        raise ProbingInputError(f"babel needs an integer 1 <= p <= k - 1 = {k - 1}; got p={p}.")
    b = resolve_block_rows(block_rows, k)
    U = _unit(D, inv, 0, k, np.float64)
    best = np.zeros(int(p))
    for start in range(0, k, b):
        A = np.abs(U[start:start + b] @ U.T)  # (b, k)
        A[np.arange(len(A)), np.arange(start, start + len(A))] = 0.0
        top = -np.sort(-np.partition(A, k - p, axis=1)[:, k - p:], axis=1)  # (b, p), largest first
        np.maximum(best, np.cumsum(top, axis=1).max(axis=0), out=best)
    return best
