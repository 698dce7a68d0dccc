"""Concept erasure with LEACE (Belrose et al. 2023), in closed form from class moments.

LEACE removes exactly the linearly available information about a label while moving
the activations as little as possible:

    r(x) = x - W⁺ P W (x - mu),   W = Sigma^(-1/2),  P = projection onto col(W Sigma_XZ)

(``P`` has rank at most ``n_classes - 1``, so the eraser is stored and applied in low rank)
where ``Sigma`` is the covariance of ``X`` and ``Sigma_XZ`` its cross-covariance with the
one-hot label. Afterwards every class has the same mean, so no linear probe can do better
than predicting the majority class.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

import numpy as np
import scipy.linalg
from sklearn.model_selection import StratifiedKFold

from probing.data import ActivationSet, as_2d_float, check_finite
from probing.errors import ProbingInputError
from probing.stats import ClassMoments, Moments, default_chunk_rows, work_dtype

_CHUNK_ROWS = 8192
"""Most rows per chunk of the moments pass: the shifted copy of a chunk stays small and is reused."""


@dataclass(frozen=True)
class Eraser:
    """A fitted linear concept eraser ``x -> x - ((x - mean) @ right) @ left.T``.

    The removed map ``proj = left @ right.T`` has rank at most ``n_classes - 1``, so it is
    kept as its two thin factors and applied as a low-rank update: one ``(n, d) x (d, r)``
    and one ``(n, r) x (r, d)`` product in the input's float type (float32 rows stay
    float32), instead of a dense ``d x d`` product.

    Attributes
    ----------
    mean : ndarray of shape (d,)
    left : ndarray of shape (d, r)
        ``W⁺`` applied to an orthonormal basis of the erased subspace (whitened coordinates).
    right : ndarray of shape (d, r)
        ``W`` applied to the same basis: ``(x - mean) @ right`` are the erased coordinates.
    """

    mean: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @property
    def rank(self) -> int:
        """Dimension of the erased subspace (at most n_classes - 1)."""
        return self.left.shape[1]

    @property
    def proj(self) -> np.ndarray:
        """The ``(d, d)`` oblique projection ``W⁺ P W`` removed from centred activations."""
        return self.left @ self.right.T

    def transform(self, X) -> np.ndarray:
        """Erase the concept from ``X (n, d)``; float32 rows give float32 rows (float64 stays float64)."""
        X = as_2d_float(X, "X", min_samples=1)
        if X.shape[1] != self.mean.shape[0]:
            raise ProbingInputError(f"X has {X.shape[1]} features; this eraser was fitted on {self.mean.shape[0]}.")
        dtype = X.dtype
        out = X - self.mean.astype(dtype)  # (n, d) centred, then reused for the update and the result
        coords = out @ self.right.astype(dtype)  # (n, r)
        np.matmul(coords, self.left.T.astype(dtype), out=out)
        np.subtract(X, out, out=out)
        return out

    __call__ = transform


def fit_eraser(X, y, layer=None, method: str = "leace", tol: float = 1e-8) -> Eraser:
    """Fit a concept eraser for label ``y`` from the class moments (one chunked pass over ``X``).

    Parameters
    ----------
    X : array_like of shape (n_samples, d) or ActivationSet
        Activations (with an ActivationSet, ``layer`` picks the layer and ``y`` may be a label name).
        float32 rows are multiplied in float32 and merged in float64 (:func:`class_sums_in_gram`).
    y : array_like of shape (n_samples,) or str
        Class labels (two or more classes).
    layer : int or str, optional
        Layer of an ActivationSet.
    method : {"leace", "orth"}
        ``"leace"`` is the least-squares eraser; ``"orth"`` is the plain orthogonal projection
        onto the complement of the class-mean differences (erases too, but moves data more).
    tol : float
        Relative eigenvalue cut-off for the covariance's pseudo-inverse square root.

    Returns
    -------
    Eraser
    """
    if isinstance(X, ActivationSet):
        y = X.label(y)
        X = X.layer(0 if layer is None else layer)
    X = as_2d_float(X, "X", finite=False)  # non-finite values show up in the moments, checked there
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ProbingInputError(f"y must be 1-D with one label per row of X ({len(X)}); got shape {y.shape}.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ProbingInputError("Erasure needs at least 2 classes in y; got one. There is nothing to erase.")
    moments = class_sums_in_gram(X, codes, len(classes))
    total = moments.pooled
    mean = moments.counts @ moments.means / total.count  # the class means' own average: consistent with them
    # the cross-covariance with the one-hot label, (d, k); its columns sum to zero, so the first k - 1
    # span it (dropping the last keeps rounding in the class sums from adding a spurious direction)
    sigma_xz = ((moments.means - mean) * (moments.counts / total.count)[:, None]).T[:, :-1]
    if method == "orth":
        basis = _column_basis(sigma_xz, tol)
        return Eraser(mean, basis, basis)
    if method != "leace":
        raise ProbingInputError(f"Unknown erasure method {method!r}; choose 'leace' or 'orth'.")
    sigma = total.covariance(ddof=0)
    basis = _column_basis(sigma_xz, tol)  # (d, r): col(Sigma_XZ), all the eraser depends on
    solved = _solve_well_conditioned(sigma, basis, tol)
    if solved is not None:
        # full-rank Sigma: W⁺ P W = U (U^T Sigma^-1 U)^-1 U^T Sigma^-1, one Cholesky solve instead of an eigh
        return Eraser(mean, basis, solved @ np.linalg.inv(basis.T @ solved))
    eigval, eigvec = np.linalg.eigh(sigma)
    keep = eigval > tol * max(eigval.max(), np.finfo(float).tiny)
    vecs, root = eigvec[:, keep], np.sqrt(eigval[keep])
    # W = vecs diag(1/root) vecs^T and W⁺ = vecs diag(root) vecs^T, applied to thin (d, k) matrices only
    basis = _column_basis(vecs @ ((vecs.T @ sigma_xz) / root[:, None]), tol)  # orthonormal basis of col(W Sigma_XZ)
    in_eigenbasis = vecs.T @ basis
    return Eraser(mean, vecs @ (in_eigenbasis * root[:, None]), vecs @ (in_eigenbasis / root[:, None]))


def class_sums_in_gram(X: np.ndarray, codes: np.ndarray, n_classes: int) -> ClassMoments:
    """:class:`~probing.stats.ClassMoments` of ``X (n, d)`` from one Gram matrix per chunk that also holds the class sums.

    Each chunk of rows is shifted by one common point (the first chunk's mean, near the mean
    of all rows) into a reused buffer whose last ``n_classes`` columns are the rows' one-hot
    labels, so one symmetric product (``syrk``) of the buffer gives the chunk's shifted
    scatter, class sums and counts together. The precision policy of :mod:`probing.stats`:
    products in :func:`~probing.stats.work_dtype` (float32 for float32 rows), accumulated in
    float64; the shift plays the part of the per-chunk centring, so the float32 products
    stay as accurate however far the data sit from the origin (rows ordered so that the first
    chunk is far from the rest, e.g. by class, lose a little: the rounding scales with the
    squared distance from the shift, not from the mean). Non-finite or overflowing input makes
    the result non-finite and raises :class:`ProbingInputError`.
    """
    (n, d), work = X.shape, work_dtype(X.dtype)
    width = d + n_classes
    chunk = min(n, _CHUNK_ROWS, default_chunk_rows(width, 1, X.dtype.itemsize))
    shift = np.asarray(X[:chunk]).mean(axis=0, dtype=np.float64)
    buffer, gram = np.empty((chunk, width), dtype=work), np.zeros((width, width))
    rows = np.arange(chunk)
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        for start in range(0, n, chunk):
            block = buffer[:min(chunk, n - start)]
            np.subtract(X[start:start + len(block)], shift.astype(work), out=block[:, :d])
            block[:, d:] = 0
            block[rows[:len(block)], d + codes[start:start + len(block)]] = 1
            gram += block.T @ block
    if not np.isfinite(gram).all():
        check_finite(X, "X")  # names the first NaN/Inf
        raise ProbingInputError(f"X's values are too large to square in {work} (the covariance overflowed); "
                                "scale them down or pass float64 rows.")
    counts, sums = np.bincount(codes, minlength=n_classes), gram[d:, :d]  # class sums of the shifted rows
    offset = sums.sum(axis=0) / n  # mean minus shift
    pooled = Moments(n, shift + offset, gram[:d, :d] - n * np.outer(offset, offset))
    return ClassMoments(pooled, counts, sums / np.maximum(counts, 1)[:, None] + shift)


def _solve_well_conditioned(sigma: np.ndarray, B: np.ndarray, tol: float) -> np.ndarray | None:
    """``sigma^-1 B`` by Cholesky, or None when ``sigma`` is singular or its reciprocal condition is below ``tol``
    (then the pseudo-inverse of the eigendecomposition decides what is noise)."""
    try:
        factor = scipy.linalg.cho_factor(sigma, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    rcond, info = scipy.linalg.lapack.dpocon(factor[0], np.abs(sigma).sum(axis=0).max(),
                                                uplo="L" if factor[1] else "U")
    if info != 0 or rcond < tol:
        return None
    return scipy.linalg.cho_solve(factor, B, check_finite=False)


def _column_basis(A: np.ndarray, tol: float) -> np.ndarray:
    """Orthonormal basis of the column space of ``A`` (rank decided relative to its largest singular value)."""
    u, s, _ = np.linalg.svd(A, full_matrices=False)
    rank = int((s > tol * max(s.max(initial=0.0), np.finfo(float).tiny) * 10).sum()) if s.size else 0
    return u[:, :rank]


@dataclass(frozen=True)
class ErasureSweep:
    """Held-out probe accuracy per layer before and after erasure.

    Attributes
    ----------
    frame : DataFrame
        ``layer``, ``accuracy_before``, ``accuracy_after``, ``majority_baseline``,
        ``msc_leace`` and ``msc_orth`` (mean squared change of LEACE and of plain
        orthogonal projection).
    params : dict
    """

    frame: pd.DataFrame
    params: dict

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


def erasure_sweep(aset: ActivationSet, y, cv: int = 5, seed: int = 0, progress=None) -> ErasureSweep:
    """Does erasure work out of sample? Per layer, fit the eraser and a fresh probe on training folds only.

    Erasing with an eraser fitted on *all* rows and then cross-validating a probe is biased
    below chance (the held-out fold's class means are the mirror image of the rest), so the
    eraser is fitted inside each training fold and applied to the held-out fold.

    Parameters
    ----------
    aset : ActivationSet
    y : str or array_like of shape (n_samples,)
    cv : int
        Number of stratified folds.
    seed : int
        Seed for the fold assignment.
    progress : callable(fraction, message), optional

    Returns
    -------
    ErasureSweep
    """
    from probing.probes import fit_probe

    labels = aset.label(y)
    folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))
    rows = []
    for i in range(aset.n_layers):
        X = np.asarray(aset.layer(i), dtype=np.float64)
        before = after = 0
        for train, test in folds:
            before += (fit_probe(X[train], labels[train]).predict(X[test]) == labels[test]).sum()
            eraser = fit_eraser(X[train], labels[train])
            after += (fit_probe(eraser(X[train]), labels[train]).predict(eraser(X[test])) == labels[test]).sum()
        msc = {m: mean_squared_change(X, fit_eraser(X, labels, method=m).transform(X)) for m in ("leace", "orth")}
        rows.append({"layer": aset.layers[i], "accuracy_before": before / len(labels),
                     "accuracy_after": after / len(labels), "msc_leace": msc["leace"], "msc_orth": msc["orth"]})
        if progress:
            progress((i + 1) / aset.n_layers, aset.layers[i])
    frame = pd.DataFrame(rows)
    _, counts = np.unique(labels, return_counts=True)
    frame.insert(3, "majority_baseline", counts.max() / counts.sum())
    return ErasureSweep(frame, {"cv": cv, "seed": seed, "fingerprint": aset.fingerprint})


def erase_layers(aset: ActivationSet, y, method: str = "leace") -> ActivationSet:
    """A copy of ``aset`` with label ``y`` erased from every layer (each layer fitted on its own)."""
    labels = aset.label(y)
    acts = np.empty(aset.shape, dtype=np.float32)
    for i in range(aset.n_layers):
        X = np.asarray(aset.layer(i), dtype=np.float32)
        acts[:, i, :] = fit_eraser(X, labels, method=method).transform(X)
    return ActivationSet(acts, aset.layers, aset.labels, aset.meta, name=f"{aset.name} ({method}-erased)")


def mean_squared_change(X, erased) -> float:
    """Average squared Euclidean distance between rows before and after erasure."""
    return float(np.mean(np.sum((np.asarray(X, dtype=np.float64) - erased) ** 2, axis=1)))
