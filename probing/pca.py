"""PCA as a change of basis (the seeds' Exercise 8(c)).

The covariance ``C`` of a layer's activations is a symmetric ``d x d`` map. Its
eigenvectors form an orthonormal basis ``P`` (the principal components), and in that
basis the covariance is diagonal: ``P^T C P = diag(variances)``. The coordinates
``z = P^T (x - mean)`` are decorrelated features, sorted by how much variance they carry.

:func:`fit_pca` gets ``C`` from one chunked pass over the rows
(:func:`probing.stats.compute_moments`, so memory maps stream; float32 products for
float32 data) and then only works on the ``d x d`` matrix: a dense symmetric
eigendecomposition, a subset solve for the top ``k``, or Lanczos iteration (ARPACK) when
only a few of many components are wanted. All are exact to rounding.

Small eigenvalues of float32 data. The covariance of float32 rows comes from float32 chunk
products, whose rounding is about 1e-9 to 1e-8 of the *largest* eigenvalue: an eigenvalue
``1e-8`` times the largest would be off by order one. So when the requested spectrum
reaches below ``REFINE_BELOW`` (1e-3) of its largest eigenvalue and the products were in
float32, :func:`fit_pca` makes a second pass over the rows: it projects each centred
float32 chunk on the eigenvectors of that tail and redoes the eigendecomposition inside
the tail (a Rayleigh-Ritz step). The tail's Gram matrix then only holds tail-sized
numbers, so its float32 rounding is relative to the tail eigenvalues themselves.
Measured against a float64 eigendecomposition, every eigenvalue then comes out within
about 1e-5 relative (2e-6 to 8e-6 on spans of 1e6 to 1e9; scikit-learn's float32 SVD is at
2e-5 to 5e-3 on the same data). What is left is the rounding of the float32 projection,
about ``eps32^2 * total variance / eigenvalue``: eigenvalues below ~1e-9 of the total
variance (spans beyond ~1e9) lose accuracy again (2e-4 at a span of 1e10). The pass costs
``2 n d t + n t^2`` flops for ``t`` tail eigenvalues against ``n d^2`` for the covariance:
0.6x for ``t = 107`` of ``d = 384`` (``benchmarks/bench_pca.py``), up to 3x when nearly the
whole spectrum is tail (a few outlier dimensions 100x larger than the rest: ``t = 376`` of
384, still 0.1x of scikit-learn's full SVD). It is skipped when the spectrum does not need
it, for float64 rows (their products' rounding is ~1e-16 of the largest eigenvalue), and in
:meth:`PCABasis.from_moments` (which has no rows to read). When ``n_components`` stops inside
the tail, the whole tail is refined (all eigenpairs are computed first): refining only the
requested part leaves it mixed with the eigenvectors just below (3e-4 instead of 6e-6 in a test).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.sparse.linalg import eigsh

from probing.data import ActivationSet, check_finite
from probing.errors import ProbingInputError
from probing.linalg import as_matrix
from probing.stats import Moments, compute_moments, default_chunk_rows, layer_class_moments, work_dtype

SOLVERS = ("auto", "eigh", "lanczos")
REFINE_BELOW = 1e-3
"""Eigenvalues of float32 data below this fraction of the largest are recomputed by :func:`fit_pca`'s second pass."""
_TRANSFORM_CHUNK_ROWS = 65536
_REFINE_CHUNK_ROWS = 8192


def _moments(X, chunk_rows, progress) -> Moments:
    """Moments of ``X`` (array, memmap or ``(ActivationSet, layer)``), streamed in chunks.

    An ``(ActivationSet, layer)`` was validated when the set was built; its rows are read
    straight from ``acts`` (memmap, Zarr, shards, Dask), never as a whole layer in memory.
    """
    if isinstance(X, tuple) and len(X) == 2 and isinstance(X[0], ActivationSet):
        aset, layer = X
        return layer_class_moments(aset.acts, np.zeros(aset.n_samples, np.int64), 1, layers=[aset.layer_index(layer)],
                                   chunk_rows=chunk_rows, progress=progress)[0][0].pooled
    return compute_moments(X, chunk_rows=chunk_rows, progress=progress)


def _row_chunks(X, chunk_rows: int | None):
    """``(stop, rows)`` chunks of ``X`` (array, memmap or ``(ActivationSet, layer)``) in their product dtype."""
    if isinstance(X, tuple):
        acts, layer = X[0].acts, X[0].layer_index(X[1])
        n, d, itemsize = acts.shape[0], acts.shape[2], acts.dtype.itemsize * acts.shape[1]
    else:
        acts, layer, (n, d), itemsize = X, None, X.shape, X.dtype.itemsize
    work = work_dtype(acts.dtype)
    chunk_rows = chunk_rows or min(_REFINE_CHUNK_ROWS, default_chunk_rows(d, 1, itemsize))
    for start in range(0, n, chunk_rows):
        block = np.asarray(acts[start:start + chunk_rows])
        yield start + len(block), np.asarray(block if layer is None else block[:, layer], dtype=work)


def _refine_tail(basis: "PCABasis", X, center: bool, chunk_rows, progress) -> "PCABasis":
    """Recompute the eigenpairs below ``REFINE_BELOW`` of the largest from a second pass over the rows.

    Each centred chunk is projected on the tail's eigenvectors in its float type
    (``Y = (x - mean) V_tail``) and ``Y^T Y`` accumulated in float64; the eigenvectors of
    that ``t x t`` matrix rotate ``V_tail`` (Rayleigh-Ritz). Needs the whole tail
    (:func:`fit_pca` asks for all components when the requested ones reach into it).
    """
    values = basis.explained_variance
    tail = np.flatnonzero(values < REFINE_BELOW * values[0])
    vectors = basis.components[tail]  # (t, d)
    shift = basis.mean if center else np.zeros(basis.d)
    gram, sums, n = np.zeros((len(tail), len(tail))), np.zeros(len(tail)), basis.n_samples
    for stop, rows in _row_chunks(X, chunk_rows):
        projected = (rows - shift.astype(rows.dtype)) @ vectors.T.astype(rows.dtype)
        gram += projected.T @ projected
        sums += projected.sum(axis=0, dtype=np.float64)
        if progress is not None:
            progress(stop / n, f"refining the {len(tail)} smallest eigenvalues: {stop:,}/{n:,} rows")
    gram = (gram - np.outer(sums, sums) / n) / (n - 1) if center else gram / n
    tail_values, rotation = np.linalg.eigh(gram)
    values, components = values.copy(), basis.components.copy()
    values[tail], components[tail] = np.maximum(tail_values[::-1], 0.0), (vectors.T @ rotation[:, ::-1]).T
    order = np.argsort(values, kind="stable")[::-1]
    return replace(basis, components=_flip_signs(components[order]), explained_variance=values[order],
                   explained_variance_ratio=values[order] / basis.total_variance)


def _rows(X) -> np.ndarray:
    """Validate an array or memmap ``X`` as ``(n, d)`` numeric rows without copying it."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ProbingInputError(f"X must be numeric; got dtype {X.dtype}. Convert it to floats first.")
    if X.ndim != 2:
        raise ProbingInputError(f"X must be 2-D (n_samples, d); got shape {X.shape}. "
                                "Pass one layer, e.g. aset.layer(i) or (aset, i).")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ProbingInputError(f"PCA needs at least 2 samples and 1 feature; got shape {X.shape}.")
    check_finite(X, "X")
    return X


def _flip_signs(vectors: np.ndarray) -> np.ndarray:
    """Make the largest-|loading| entry of each row positive (scikit-learn's ``svd_flip`` convention)."""
    rows = np.arange(vectors.shape[0])
    signs = np.sign(vectors[rows, np.argmax(np.abs(vectors), axis=1)])
    return vectors * np.where(signs == 0, 1.0, signs)[:, None]


def _top_eigen(C: np.ndarray, k: int, solver: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of symmetric ``C``, descending: values ``(k,)``, vectors ``(k, d)``.

    ``"eigh"`` is LAPACK's divide-and-conquer ``syevd`` on the whole matrix when more than
    a quarter of the spectrum is wanted, else the bisection/inverse-iteration subset solver
    (``syevx``), which only computes the ``k`` wanted pairs.
    """
    d = C.shape[0]
    if solver == "auto":
        solver = "lanczos" if d >= 1000 and k <= d // 10 else "eigh"
    if solver == "lanczos" and k < d:
        v0 = np.random.default_rng(seed).standard_normal(d)
        values, vectors = eigsh(C, k=k, which="LA", v0=v0, tol=0)
    elif 4 * k > d:
        values, vectors = np.linalg.eigh(C)
        values, vectors = values[d - k:], vectors[:, d - k:]
    else:
        values, vectors = scipy.linalg.eigh(C, subset_by_index=[d - k, d - 1], driver="evx", check_finite=False)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


@dataclass(frozen=True, eq=False)
class Alignment:
    """``|cos|`` between principal components and given directions (see :meth:`PCABasis.alignment`).

    Attributes
    ----------
    cosines : ndarray of shape (k, m)
        ``|cos(PC_i, direction_j)|``.
    names : list of str
        One per direction.
    """

    cosines: np.ndarray
    names: list

    @property
    def subspace_cosine(self) -> np.ndarray:
        """Per direction, ``sqrt(sum_i cos^2)``: the norm of its projection onto the span of the ``k`` PCs."""
        return np.sqrt((self.cosines ** 2).sum(axis=0))

    def summary(self) -> pd.DataFrame:
        """One row per direction: its best-aligned PC, that |cos|, and how much lies in the top-k span."""
        best = self.cosines.argmax(axis=0)
        return pd.DataFrame({"direction": self.names, "best_pc": [f"PC{i + 1}" for i in best],
                             "abs_cos": self.cosines[best, np.arange(len(self.names))],
                             f"cos_with_top_{self.cosines.shape[0]}_span": self.subspace_cosine})

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (PC, direction) with ``abs_cos``."""
        k, m = self.cosines.shape
        return pd.DataFrame({"pc": np.repeat(np.arange(1, k + 1), m), "direction": self.names * k,
                             "abs_cos": self.cosines.ravel()})


@dataclass(frozen=True, eq=False)
class PCABasis:
    """A fitted PCA basis: orthonormal directions sorted by the variance they carry.

    Attributes
    ----------
    components : ndarray of shape (k, d)
        Orthonormal rows: the new basis vectors in the old coordinates (``P^T``).
        Sign convention: each row's largest-|loading| entry is positive.
    explained_variance : ndarray of shape (k,)
        Variance of the data along each component (``ddof=1``), descending.
    explained_variance_ratio : ndarray of shape (k,)
        ``explained_variance / total_variance``.
    mean : ndarray of shape (d,)
        Subtracted before projecting (zeros when fitted with ``center=False``).
    n_samples : int
    total_variance : float
        Trace of the covariance: the variance summed over all ``d`` directions.
    """

    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray
    n_samples: int
    total_variance: float

    @property
    def n_components(self) -> int:
        return self.components.shape[0]

    @property
    def d(self) -> int:
        return self.components.shape[1]

    def transform(self, X) -> np.ndarray:
        """Coordinates in the new basis, ``(X - mean) @ components.T``; shape ``(n, k)`` float64."""
        X = X if isinstance(X, np.ndarray) else np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ProbingInputError(f"transform expects (n, {self.d}) rows; got shape {X.shape}.")
        out = np.empty((X.shape[0], self.n_components))
        for start in range(0, X.shape[0], _TRANSFORM_CHUNK_ROWS):
            block = np.asarray(X[start:start + _TRANSFORM_CHUNK_ROWS], dtype=np.float64)
            out[start:start + len(block)] = (block - self.mean) @ self.components.T
        return out

    def inverse_transform(self, Z) -> np.ndarray:
        """Back to the old coordinates, ``Z @ components + mean``; exact with all components."""
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.n_components:
            raise ProbingInputError(f"inverse_transform expects (n, {self.n_components}) coordinates; got {Z.shape}.")
        return Z @ self.components + self.mean

    def change_of_basis(self, A) -> np.ndarray:
        """A ``d x d`` map in PCA coordinates: ``P^T A P`` with ``P = components.T``, shape ``(k, k)``.

        With all ``d`` components ``P`` is orthogonal, so ``P^T = P^-1`` and this is the
        same map in the new basis (same eigenvalues and trace). With fewer it is the
        map compressed to the span of the top ``k`` components. For the covariance
        itself the result is ``diag(explained_variance)``.
        """
        A = as_matrix(A, "A", square=True)
        if A.shape[0] != self.d:
            raise ProbingInputError(f"A must be {self.d} x {self.d} to act on this basis's space; got {A.shape}.")
        return self.components @ A @ self.components.T

    def alignment(self, directions, names=None) -> Alignment:
        """``|cos|`` of every component with each direction (planted, probe, steering ...).

        Parameters
        ----------
        directions : array_like of shape (m, d) or (d,), or dict of name -> (d,) vector
        names : list of str, optional
            One per direction (default: the dict keys or ``direction_0`` ...).
        """
        if isinstance(directions, dict):
            names = list(directions) if names is None else names
            directions = np.array([np.ravel(v) for v in directions.values()])
        D = as_matrix(np.atleast_2d(directions), "directions")
        if D.shape[1] != self.d:
            raise ProbingInputError(f"directions must have {self.d} entries each; got shape {D.shape}.")
        norms = np.linalg.norm(D, axis=1)
        if np.any(norms == 0):
            raise ProbingInputError(f"directions {np.flatnonzero(norms == 0).tolist()} are zero vectors; drop them.")
        names = [f"direction_{j}" for j in range(len(D))] if names is None else [str(n) for n in names]
        if len(names) != len(D):
            raise ProbingInputError(f"Got {len(names)} names for {len(D)} directions.")
        return Alignment(np.abs(self.components @ (D / norms[:, None]).T), names)

    @classmethod
    def from_moments(cls, moments: Moments, n_components: int | None = None, center: bool = True,
                     solver: str = "auto", seed: int = 0) -> "PCABasis":
        """The PCA basis of rows summarised by ``moments`` (see :func:`fit_pca` for the parameters)."""
        if solver not in SOLVERS:
            raise ProbingInputError(f"solver must be one of {SOLVERS}; got {solver!r}.")
        n, d = moments.count, moments.d
        if n < 2:
            raise ProbingInputError(f"PCA needs at least 2 samples; got {n}.")
        k = min(n, d) if n_components is None else int(n_components)
        if not 1 <= k <= min(n, d):
            raise ProbingInputError(f"n_components must be between 1 and min(n_samples, d) = {min(n, d)}; got {k}.")
        C = moments.covariance(ddof=1) if center else moments.second_moment()
        values, vectors = _top_eigen(C, k, solver, seed)
        values = np.maximum(values, 0.0)
        total = float(np.trace(C))
        return cls(components=_flip_signs(vectors), explained_variance=values,
                   explained_variance_ratio=values / total if total > 0 else np.zeros_like(values),
                   mean=moments.mean if center else np.zeros(d), n_samples=n, total_variance=total)

    def to_frame(self) -> pd.DataFrame:
        """The scree table: one row per component with variance, its share and the cumulative share."""
        return pd.DataFrame({"pc": np.arange(1, self.n_components + 1),
                             "explained_variance": self.explained_variance,
                             "explained_variance_ratio": self.explained_variance_ratio,
                             "cumulative_ratio": np.cumsum(self.explained_variance_ratio)})

    def plot(self, n: int = 50, height: int = 280):
        """The PCA page's scree chart of the first ``n`` components (see :func:`probing.charts.scree_chart`)."""
        from probing import charts

        return charts.scree_chart(self, n=n, height=height)

    def _repr_html_(self) -> str:
        from probing import charts

        cumulative = np.cumsum(self.explained_variance_ratio)
        numbers = {"samples": self.n_samples, "dimension d": self.d, "components": self.n_components,
                   "total variance": self.total_variance, "share of the first component": cumulative[0],
                   "share of all components": cumulative[-1]}
        return charts.html_summary("PCABasis", numbers, self.to_frame(), max_rows=10)


def fit_pca(X, n_components: int | None = None, center: bool = True, solver: str = "auto", seed: int = 0,
            chunk_rows: int | None = None, progress: Callable[[float, str], None] | None = None) -> PCABasis:
    """Fit a PCA basis from one pass over the rows of ``X``.

    Parameters
    ----------
    X : array_like of shape (n_samples, d), or (ActivationSet, layer)
        Any float dtype; memory maps are read in chunks. Precision follows the data: the
        covariance of float16/float32 rows comes from float32 chunk products merged in
        float64 (about 1e-6 relative to a float64 computation), of float64 rows from float64
        products (see :mod:`probing.stats`). For float16/float32 rows, eigenvalues below
        ``REFINE_BELOW`` (1e-3) of the largest are recomputed from a second pass over the rows
        (see the module docstring), so each is within about 1e-5 relative of float64; when
        ``n_components`` reaches below that, all components are computed first.
    n_components : int, optional
        Number of components ``k`` (default ``min(n_samples, d)``, like scikit-learn).
    center : bool
        Subtract the mean first (PCA of the covariance). ``False`` uses the uncentred
        second moment ``X^T X / n`` (directions of largest mean square, mean kept).
    solver : {"auto", "eigh", "lanczos"}
        ``"eigh"``: dense symmetric eigendecomposition of the ``d x d`` covariance (all of
        it by divide and conquer when ``k > d / 4``, else only the top ``k`` eigenpairs). ``"lanczos"``: ARPACK to machine precision,
        faster when ``k`` is a small part of a large ``d``. ``"auto"`` picks Lanczos for
        ``d >= 1000`` and ``k <= d / 10``.
    seed : int
        Starting vector of the Lanczos iteration.
    chunk_rows : int, optional
        Rows per chunk of the moments pass.
    progress : callable(fraction, message), optional

    Returns
    -------
    PCABasis
    """
    rows = X if isinstance(X, tuple) and len(X) == 2 and isinstance(X[0], ActivationSet) else _rows(X)
    return basis_of_rows(_moments(rows, chunk_rows, progress), rows, n_components, center, solver, seed, chunk_rows,
                         progress)


def basis_of_rows(moments: Moments, X, n_components: int | None = None, center: bool = True, solver: str = "auto",
                  seed: int = 0, chunk_rows: int | None = None,
                  progress: Callable[[float, str], None] | None = None) -> PCABasis:
    """The PCA basis of rows whose moments are known: :meth:`PCABasis.from_moments`, tail refined as :func:`fit_pca` does.

    Parameters
    ----------
    moments : Moments
        The moments of ``X`` (e.g. :func:`probing.stats.compute_moments`, which a page also
        needs for the covariance itself).
    X : array_like of shape (n_samples, d), or (ActivationSet, layer)
        The rows, read again only when float32 products left small eigenvalues to refine.
    n_components, center, solver, seed, chunk_rows, progress
        As in :func:`fit_pca`.

    Returns
    -------
    PCABasis
    """
    basis = PCABasis.from_moments(moments, n_components=n_components, center=center, solver=solver, seed=seed)
    dtype = X[0].acts.dtype if isinstance(X, tuple) else X.dtype
    values = basis.explained_variance
    if work_dtype(dtype) == np.float64 or values[-1] >= REFINE_BELOW * values[0]:
        return basis
    if basis.n_components < min(moments.count, moments.d):  # the tail must be whole to be refined
        basis = PCABasis.from_moments(moments, center=center, solver="eigh")
    refined = _refine_tail(basis, X, center, chunk_rows, progress)
    k = len(values)
    return replace(refined, components=refined.components[:k], explained_variance=refined.explained_variance[:k],
                   explained_variance_ratio=refined.explained_variance_ratio[:k])
