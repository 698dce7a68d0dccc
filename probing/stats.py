"""One-pass, mergeable moments: counts, means and centred scatter matrices.

Most linear analyses need only second-order statistics. This module computes them in
one chunked pass over the rows (bounded memory, works on memory maps) and makes them
*mergeable*: ``a + b`` is the moments of the union of two disjoint sets of rows (Chan,
Golub & LeVeque's parallel formula) and ``total - part`` removes a subset again, which is
how cross-validation folds are derived without touching the data twice.

Precision follows the data (:func:`work_dtype`): each chunk is shifted (in place) by the
float64 mean of its first rows, so it is nearly centred however far the data sit from the
origin, and its Gram matrix and class sums are computed in the input's float type (float16 upcast per
chunk to float32; float64 stays float64); the chunks are merged in float64. A float32 pass
thus costs one float32 ``X^T X`` and agrees with a float64 computation to about 1e-6
relative on well-conditioned data. The Dask engine (:mod:`probing.distributed`) uses the
same chunk plan (the same rows per chunk, hence the same float32 products) and merges in a
tree instead of in sequence, so the two agree to float64 rounding of the merges.

Public names
------------
Moments              count, mean (d,), scatter (d, d) of one set of rows
ClassMoments         pooled moments plus per-class counts and means (enough for LDA)
compute_moments      Moments of an (n, d) array
labelled_moments     ClassMoments of an (n, d) array and its class codes
group_moments        one Moments per group label, one pass
class_moments        one Moments per class, as a dict
layer_class_moments  ClassMoments per layer and per group of an (n, n_layers, d) array,
                     reading each chunk of rows once for all layers
layer_moments        the same for several labelings of the rows at once
total_moments        one entry of layer_moments summed over its groups (e.g. all folds)
moment_engine        layer_moments of a named engine ("local" here, "dask" in probing.distributed)
work_dtype           the float type of a chunk's products for data of a given dtype
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from probing import budget
from probing.errors import ProbingInputError

Progress = Callable[[float, str], None] | None
ROUNDING_FLOOR = 2.0**-46
"""Relative size (to the pooled scatter's trace, 64 float64 epsilons) below which a within-class scatter is rounding."""
SHIFT_ROWS = 256
"""Rows whose float64 mean shifts a block before its products in the data's float type."""
ENGINES = {"local": "probing.stats", "dask": "probing.distributed"}
"""Engines that compute :func:`layer_moments`: each module has a function of that name and signature."""


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, mean and centred scatter of a set of rows.

    Attributes
    ----------
    count : int
        Number of rows.
    mean : ndarray of shape (d,), float64
    scatter : ndarray of shape (d, d), float64
        ``sum_i (x_i - mean)(x_i - mean)^T``.
    """

    count: int
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def zeros(cls, d: int) -> "Moments":
        """The moments of no rows in ``d`` dimensions (the identity of ``+``)."""
        return cls(0, np.zeros(d), np.zeros((d, d)))

    @property
    def d(self) -> int:
        return self.mean.shape[0]

    def __add__(self, other: "Moments") -> "Moments":
        if self.d != other.d:
            raise ProbingInputError(f"Cannot merge moments of dimension {self.d} and {other.d}.")
        n = self.count + other.count
        if n == 0:
            return Moments.zeros(self.d)
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        scatter = self.scatter + other.scatter
        scatter += np.outer(delta * (self.count * other.count / n), delta)
        return Moments(n, mean, scatter)

    def __sub__(self, part: "Moments") -> "Moments":
        """Moments of the rows of ``self`` that are not in ``part`` (``part`` must be a subset)."""
        if self.d != part.d:
            raise ProbingInputError(f"Cannot subtract moments of dimension {part.d} from {self.d}.")
        n = self.count - part.count
        if n < 0:
            raise ProbingInputError(f"Cannot remove {part.count} rows from moments of {self.count} rows.")
        if n == 0:
            return Moments.zeros(self.d)
        mean = (self.count * self.mean - part.count * part.mean) / n
        delta = part.mean - mean
        scatter = self.scatter - part.scatter
        scatter -= np.outer(delta * (n * part.count / self.count), delta)
        return Moments(n, mean, scatter)

    def covariance(self, ddof: int = 1) -> np.ndarray:
        """The ``(d, d)`` covariance ``scatter / (count - ddof)``."""
        if self.count - ddof <= 0:
            raise ProbingInputError(f"A covariance with ddof={ddof} needs more than {ddof} rows; got {self.count}.")
        return self.scatter / (self.count - ddof)

    def second_moment(self) -> np.ndarray:
        """The uncentred ``(d, d)`` second moment ``X^T X / count``."""
        if self.count == 0:
            raise ProbingInputError("The second moment of zero rows is undefined.")
        return self.scatter / self.count + np.outer(self.mean, self.mean)


@dataclass(frozen=True, eq=False)
class ClassMoments:
    """Pooled moments of a labelled set of rows plus each class's count and mean.

    This is everything a linear discriminant needs: the within-class scatter is the
    pooled scatter minus the between-class scatter. Mergeable like :class:`Moments`.

    Attributes
    ----------
    pooled : Moments
        Moments of all rows, ignoring the labels.
    counts : ndarray of shape (n_classes,), int64
    means : ndarray of shape (n_classes, d), float64 (zeros for empty classes)
    """

    pooled: Moments
    counts: np.ndarray
    means: np.ndarray

    def __add__(self, other: "ClassMoments") -> "ClassMoments":
        return self.merged(other, 1, self.pooled + other.pooled)

    def __sub__(self, part: "ClassMoments") -> "ClassMoments":
        return self.merged(part, -1, self.pooled - part.pooled)

    def merged(self, other: "ClassMoments", sign: int, pooled: Moments) -> "ClassMoments":
        """``self + other`` (``sign=1``) or ``self - other`` (``sign=-1``) given the pooled result.

        Labelings of the same rows (real labels, a control task, permutations) share their
        pooled moments: merging those once and passing them here saves a ``d x d`` merge per labeling.
        """
        counts = self.counts + sign * other.counts
        sums = self.counts[:, None] * self.means + sign * other.counts[:, None] * other.means
        return ClassMoments(pooled, counts, _safe_divide(sums, counts))

    def within_scatter(self) -> np.ndarray:
        """The ``(d, d)`` pooled within-class scatter ``sum_c sum_{i in c} (x_i - mu_c)(x_i - mu_c)^T``.

        Computed as pooled minus between-class scatter, which is exact only to the rounding
        of the pooled scatter: when every class's rows are (nearly) identical the difference
        can come out slightly *negative*, and a solve against it flips the probe. So
        ``ROUNDING_FLOOR * trace(pooled scatter)`` is added to its diagonal, making it
        positive definite; below that floor no within-class spread can be told from
        rounding, and the LDA direction tends to the mean difference. A new array each call.
        """
        offsets = (self.means - self.pooled.mean) * np.sqrt(self.counts)[:, None]
        within = self.pooled.scatter - offsets.T @ offsets
        within[np.diag_indices(self.pooled.d)] += ROUNDING_FLOOR * max(np.trace(self.pooled.scatter), 0.0)
        return within


def _safe_divide(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return sums / np.maximum(counts, 1)[:, None]


def work_dtype(dtype) -> np.dtype:
    """The float type of a chunk's products: float32 for float16/float32 data, else float64.

    This is the precision policy of the moments pass (as in scikit-learn, which computes in
    float32 for float32 input): float32 data costs one float32 pass, float16 is upcast
    chunk by chunk to float32, and float64 (or integer) input gets float64 products.
    """
    return np.dtype(np.float32) if np.dtype(dtype) in (np.float16, np.float32) else np.dtype(np.float64)


class _Accumulator:
    """In-place running moments (Chan's update per block); frozen into :class:`Moments` at the end.

    Each block is shifted in place by the float64 mean of its first rows (:data:`SHIFT_ROWS`)
    and its Gram matrix and class sums are computed in the block's float type (a float32
    Gram matrix for float32 rows); the block's exact mean and scatter follow from the
    shifted sums, and blocks are merged in float64. Shifting first keeps the float32
    product accurate however far the data sit from the origin (about 1e-6 relative to a
    float64 computation), for one in-place pass instead of a centred copy.
    """

    def __init__(self, d: int):
        self.count = 0
        self.mean = np.zeros(d)
        self.scatter = np.zeros((d, d))
        self.rank_one = []  # (vector, weight) terms of the scatter, added in one product by freeze()

    def add(self, block: np.ndarray, multihot: np.ndarray | None = None) -> np.ndarray | None:
        """Add a float32 or float64 ``(rows, d)`` block, *overwriting it*; return ``multihot.T @ block`` in float64.

        ``multihot`` is ``(rows, n_columns)`` with a 1 for each class a row belongs to, so the
        return value is the per-class sums of the block; None without ``multihot``.
        """
        m, d = block.shape
        if m == 0:
            return None if multihot is None else np.zeros((multihot.shape[1], d))
        shift = block[:SHIFT_ROWS].mean(axis=0, dtype=np.float64)
        block -= shift.astype(block.dtype)
        offset = block.sum(axis=0, dtype=np.float64) / m  # the block's mean minus the shift
        n = self.count + m
        delta = shift + offset - self.mean
        self.scatter += block.T @ block
        self.rank_one.append((offset, -m))  # the block's own mean ...
        if self.count:
            self.rank_one.append((delta, self.count * m / n))  # ... and Chan's merge term
        self.mean += delta * (m / n)
        self.count = n
        if multihot is None:
            return None
        sums = (multihot.T.astype(block.dtype, copy=False) @ block).astype(np.float64)
        return sums + multihot.sum(axis=0, dtype=np.float64)[:, None] * shift

    def freeze(self) -> Moments:
        if self.rank_one:
            vectors = np.stack([v for v, _ in self.rank_one])
            self.scatter += (vectors.T * np.array([w for _, w in self.rank_one])) @ vectors
            self.rank_one = []
        return Moments(self.count, self.mean, self.scatter)


def default_chunk_rows(d: int, n_layers: int = 1, itemsize: int = 8) -> int:
    """Rows per chunk of the moments pass: a quarter of the memory budget (:func:`probing.budget.chunk_rows`).

    A row costs two copies in the file's dtype (read, then regrouped by fold) and three
    rows of one layer in the product's float type (promoted, centred, product temporaries;
    budgeted at float64). Large chunks keep each fold's matrix product big enough to run at
    full BLAS speed.
    """
    d, n_layers = max(d, 1), max(n_layers, 1)
    return budget.chunk_rows(2 * n_layers * d * itemsize + 24 * d, share=4, minimum=64)


def _check_rows(X, what: str = "X") -> None:
    if X.ndim != 2:
        raise ProbingInputError(f"{what} must be 2-D (n_samples, d); got shape {X.shape}. Pick one layer first.")


def _codes(groups, n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n:
        raise ProbingInputError(f"{what} must be 1-D with one value per row ({n}); got shape {groups.shape}.")
    return np.unique(groups, return_inverse=True)


def compute_moments(X, chunk_rows: int | None = None, progress: Progress = None) -> Moments:
    """Count, mean and centred scatter of the rows of ``X`` in one chunked pass.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
        Any float dtype; memory maps are read chunk by chunk. float16 and float32 data
        are multiplied in float32, float64 in float64 (see :func:`work_dtype`); the result
        is float64 either way.
    chunk_rows : int, optional
        Rows per chunk (default: from the memory budget, see :func:`default_chunk_rows`).
    progress : callable(fraction, message), optional

    Returns
    -------
    Moments
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    return labelled_moments(X, np.zeros(len(X), dtype=np.int64), 1, chunk_rows, progress).pooled


def labelled_moments(X, y_codes, n_classes: int, chunk_rows: int | None = None,
                     progress: Progress = None) -> ClassMoments:
    """:class:`ClassMoments` of the rows of ``X``: one chunked pass, chunks in order (no regrouping).

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
        Any float dtype; memory maps are read chunk by chunk (products in :func:`work_dtype`).
    y_codes : array_like of int, shape (n_samples,)
        Class index of each row in ``0 .. n_classes - 1``.
    n_classes : int
    chunk_rows : int, optional
        Rows per chunk (default :func:`default_chunk_rows`, the plan of :func:`layer_moments`).
    progress : callable(fraction, message), optional

    Returns
    -------
    ClassMoments
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    _check_rows(X)
    (n, d), work = X.shape, work_dtype(X.dtype)
    _, _, codes, _ = check_codings((n, 1, d), [(y_codes, n_classes)], None, 1, None)
    chunk_rows = chunk_rows or default_chunk_rows(d, 1, X.dtype.itemsize)
    acc, sums = _Accumulator(d), np.zeros((n_classes, d))
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        multihot = np.zeros((stop - start, n_classes), dtype=work)
        multihot[np.arange(stop - start), codes[0][start:stop]] = 1.0
        sums += acc.add(np.array(X[start:stop], dtype=work), multihot)  # a copy: add() overwrites it
        if progress is not None:
            progress(stop / n, f"moments: {stop:,}/{n:,} rows")
    counts = np.bincount(codes[0], minlength=n_classes)
    return ClassMoments(acc.freeze(), counts, _safe_divide(sums, counts))


def group_moments(X, groups, n_groups: int, chunk_rows: int | None = None, progress: Progress = None) -> list[Moments]:
    """One :class:`Moments` per group, in one chunked pass.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
    groups : array_like of int, shape (n_samples,)
        Group index of each row, in ``0 .. n_groups - 1``.
    n_groups : int
    chunk_rows : int, optional
    progress : callable(fraction, message), optional

    Returns
    -------
    list of Moments, length n_groups (empty groups have count 0)
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    _check_rows(X)
    result = layer_class_moments(X[:, None, :], np.zeros(X.shape[0], dtype=np.int64), 1, groups, n_groups,
                                 chunk_rows=chunk_rows, progress=progress)
    return [cm.pooled for cm in result[0]]


def class_moments(X, y, classes=None, chunk_rows: int | None = None) -> dict:
    """One :class:`Moments` per class of ``y``.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
    y : array_like of shape (n_samples,)
    classes : sequence, optional
        Classes to report (default: the sorted unique values of ``y``); classes absent
        from ``y`` get empty moments.
    chunk_rows : int, optional

    Returns
    -------
    dict mapping class -> Moments
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    _check_rows(X)
    uniques, codes = _codes(y, X.shape[0], "y")
    classes = uniques if classes is None else np.asarray(classes)
    moments = group_moments(X, codes, len(uniques), chunk_rows)
    by_class = dict(zip(uniques.tolist(), moments))
    return {c: by_class.get(c, Moments.zeros(X.shape[1])) for c in classes.tolist()}


def layer_class_moments(acts, y_codes, n_classes: int, groups=None, n_groups: int = 1, layers=None,
                        chunk_rows: int | None = None, progress: Progress = None) -> list[list[ClassMoments]]:
    """:class:`ClassMoments` per layer and per group, reading each chunk of rows once for all layers.

    Parameters
    ----------
    acts : array_like of shape (n_samples, n_layers, d)
        E.g. ``ActivationSet.acts`` (memory maps are read chunk by chunk).
    y_codes : array_like of int, shape (n_samples,)
        Class index of each row in ``0 .. n_classes - 1``.
    n_classes : int
    groups : array_like of int, shape (n_samples,), optional
        Group index of each row (e.g. the cross-validation fold) in ``0 .. n_groups - 1``;
        default: one group.
    n_groups : int
    layers : sequence of int, optional
        Layer indices to compute (default: all).
    chunk_rows : int, optional
    progress : callable(fraction, message), optional

    Returns
    -------
    list (per requested layer) of list (per group) of ClassMoments
    """
    result = layer_moments(acts, [(y_codes, n_classes)], groups, n_groups, layers, chunk_rows, progress)
    return [[per_coding[0] for per_coding in per_group] for per_group in result]


def check_codings(shape: tuple, codings, groups, n_groups: int, layers) -> tuple:
    """Validate the arguments of :func:`layer_moments` for activations of ``shape``.

    Returns
    -------
    layers : list of int, groups : int array (n,), codes : list of int arrays (n,), sizes : list of int
    """
    n, n_layers, _ = shape
    layers = list(range(n_layers)) if layers is None else [int(i) for i in layers]
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    codes = [np.asarray(c, dtype=np.int64) for c, _ in codings]
    sizes = [int(k) for _, k in codings]
    if groups.shape != (n,) or any(c.shape != (n,) for c in codes):
        raise ProbingInputError(f"Class and group codes need one value per row ({n}); got "
                                f"{[groups.shape] + [c.shape for c in codes]}.")
    if n and (groups.min() < 0 or groups.max() >= n_groups or any(c.min() < 0 or c.max() >= k
                                                                   for c, k in zip(codes, sizes))):
        raise ProbingInputError(f"Codes out of range: classes must lie in 0..n_classes-1 ({sizes}), "
                                f"groups in 0..{n_groups - 1}.")
    return layers, groups, codes, sizes


def layer_moments(acts, codings, groups=None, n_groups: int = 1, layers=None, chunk_rows: int | None = None,
                  progress: Progress = None) -> list[list[tuple[ClassMoments, ...]]]:
    """Like :func:`layer_class_moments` for several labelings of the same rows at once.

    The scatter is computed once per layer and group; each labeling (e.g. the real
    labels, a control task and label permutations) only adds its class counts and means.
    Per-chunk products are in :func:`work_dtype` of ``acts.dtype``, merged in float64.

    Parameters
    ----------
    acts : array_like of shape (n_samples, n_layers, d)
    codings : sequence of (codes, n_classes)
        Each ``codes`` is an int array (n_samples,) in ``0 .. n_classes - 1``.
    groups, n_groups, layers, chunk_rows, progress
        As in :func:`layer_class_moments`.

    Returns
    -------
    list (per layer) of list (per group) of tuple (per labeling) of ClassMoments
    """
    n, _, d = acts.shape
    layers, groups, codes, sizes = check_codings(acts.shape, codings, groups, n_groups, layers)
    offsets = np.cumsum([0] + sizes)
    columns = np.stack([c + o for c, o in zip(codes, offsets[:-1])], axis=1)  # (n, n_codings) multi-hot columns
    chunk_rows = chunk_rows or default_chunk_rows(d, len(layers), acts.dtype.itemsize)
    work = work_dtype(acts.dtype)
    accs = [[_Accumulator(d) for _ in range(n_groups)] for _ in layers]
    sums = np.zeros((len(layers), n_groups, offsets[-1], d))
    counts = np.zeros((n_groups, offsets[-1]), dtype=np.int64)
    for column in columns.T:
        np.add.at(counts, (groups, column), 1)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        order = np.argsort(groups[start:stop], kind="stable")  # rows of one group become one contiguous run
        raw = np.asarray(acts[start:stop])  # a view of arrays and memory maps; lazy stores read the chunk here
        g, hot = groups[start:stop][order], columns[start:stop][order]
        runs = np.searchsorted(g, np.arange(n_groups + 1))
        multihot = np.zeros((stop - start, offsets[-1]), dtype=work)
        np.put_along_axis(multihot, hot, 1.0, axis=1)
        for li, layer in enumerate(layers):
            block = np.asarray(raw[order, layer, :], dtype=work)  # (rows, d): our own copy, regrouped by group
            for group in np.flatnonzero(np.diff(runs)):
                a, b = runs[group], runs[group + 1]
                sums[li, group] += accs[li][group].add(block[a:b], multihot[a:b])
        if progress is not None:
            progress(stop / n, f"moments: {stop:,}/{n:,} rows")
    return [[tuple(ClassMoments(pooled, counts[gi, a:b].copy(), _safe_divide(sums[li, gi, a:b], counts[gi, a:b]))
                   for a, b in zip(offsets[:-1], offsets[1:]))
             for gi, pooled in enumerate(acc.freeze() for acc in accs[li])] for li in range(len(layers))]


def total_moments(per_group) -> tuple[ClassMoments, ...]:
    """The moments of all groups together, per labeling, from ``per_group[g][c]`` (one entry of :func:`layer_moments`).

    The labelings share their pooled moments, which are merged once.
    """
    pooled = sum((group[0].pooled for group in per_group[1:]), per_group[0][0].pooled)
    totals = []
    for c in range(len(per_group[0])):
        counts = sum(group[c].counts for group in per_group)
        sums = sum(group[c].counts[:, None] * group[c].means for group in per_group)
        totals.append(ClassMoments(pooled, counts, _safe_divide(sums, counts)))
    return tuple(totals)


def moment_engine(backend: str = "local") -> Callable:
    """The :func:`layer_moments` of engine ``backend`` (same signature and results, to float64 rounding).

    An engine is any module with a ``layer_moments(acts, codings, groups, n_groups, layers,
    chunk_rows, progress)``; adding one (e.g. Ray) is one entry in ``ENGINES``.
    """
    if backend not in ENGINES:
        raise ProbingInputError(f"Unknown backend {backend!r}; choose one of {sorted(ENGINES)}.")
    return importlib.import_module(ENGINES[backend]).layer_moments
