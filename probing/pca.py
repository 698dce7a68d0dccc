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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.sparse.linalg import eigsh

from probing.data import ActivationSet, check_finite
from probing.errors import ProbingInputError
from probing.linalg import as_matrix
from probing.stats import Moments, compute_moments, layer_class_moments

SOLVERS = ("auto", "eigh", "lanczos")
_TRANSFORM_CHUNK_ROWS = 65536


def _moments(X, chunk_rows, progress) -> Moments:
    """Moments of ``X`` (array, memmap or ``(ActivationSet, layer)``), streamed in chunks.

    An ``(ActivationSet, layer)`` was validated when the set was built; its rows are read
    straight from ``acts`` (memmap, Zarr, shards, Dask), never as a whole layer in memory.
    """
    if isinstance(X, tuple) and len(X) == 2 and isinstance(X[0], ActivationSet):
        aset, layer = X
        return layer_class_moments(aset.acts, np.zeros(aset.n_samples, np.int64), 1, layers=[aset.layer_index(layer)],
                                   chunk_rows=chunk_rows, progress=progress)[0][0].pooled
    return compute_moments(_rows(X), chunk_rows=chunk_rows, progress=progress)


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
        products (see :mod:`probing.stats`).
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
    moments = _moments(X, chunk_rows, progress)
    return PCABasis.from_moments(moments, n_components=n_components, center=center, solver=solver, seed=seed)
