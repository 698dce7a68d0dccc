"""Change of basis: the same map in other coordinates (``P^-1 A P``), the eigenbasis, and whitening.

A basis is a choice of coordinates. If the columns of ``P`` are new basis vectors written
in the old coordinates, a vector's new coordinates are ``P^-1 x`` and a map ``A`` becomes
``P^-1 A P``: a different table of numbers for the same map, with the same trace,
determinant, rank and eigenvalues. In the basis of its eigenvectors a diagonalisable map
only scales each axis; PCA picks the eigenbasis of the covariance, and whitening rescales
it so the covariance becomes the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.examples import rotation
from probing.linalg.maps import analyze_map, as_matrix, default_tol


def change_of_basis(A, P) -> np.ndarray:
    """The map ``A`` written in the basis whose vectors are the columns of ``P``: ``P^-1 A P``.

    Parameters
    ----------
    A : array_like of shape (n, n)
        The map in the old coordinates.
    P : array_like of shape (n, n)
        Invertible; column ``j`` is new basis vector ``j`` in old coordinates.

    Returns
    -------
    ndarray of shape (n, n)
        The same map in new coordinates (same eigenvalues, trace and determinant).
    """
    A, P = as_matrix(A, "A", square=True), as_matrix(P, "P (the new basis)", square=True)
    if A.shape != P.shape:
        raise ProbingInputError(f"A and P must have the same shape; got A {A.shape} and P {P.shape}.")
    s = np.linalg.svd(P, compute_uv=False)
    if s[-1] <= default_tol(s, P.shape):
        raise ProbingInputError(
            f"P is singular (smallest singular value {s[-1]:.3g}): its columns are not a basis. "
            "Pick linearly independent basis vectors.")
    return np.linalg.solve(P, A @ P)


def eigenbasis(A, tol: float = 1e-12) -> np.ndarray | None:
    """Real eigenvectors of ``A`` as the columns of a basis, or ``None`` when ``A`` has no such basis.

    A rotation turns every direction (complex eigenvalues); a shear has a single
    eigen-direction (defective): neither can be diagonalised over the reals. A symmetric
    ``A`` gets orthonormal eigenvectors (``eigh``), largest eigenvalue first.

    Parameters
    ----------
    A : array_like of shape (n, n)
    tol : float
        Imaginary parts above ``tol`` (relative to the largest eigenvalue) mean complex.

    Returns
    -------
    ndarray of shape (n, n) or None
        Column ``j`` is an eigenvector; non-symmetric ``A`` gets columns scaled to a largest entry of 1.
    """
    A = as_matrix(A, square=True)
    if np.allclose(A, A.T, rtol=0, atol=tol * max(np.abs(A).max(), 1.0)):
        _, vectors = np.linalg.eigh((A + A.T) / 2)
        return vectors[:, ::-1]
    values, vectors = np.linalg.eig(A)
    scale = max(np.abs(values).max(), 1.0)
    if np.abs(values.imag).max() > tol * scale or np.abs(vectors.imag).max() > tol:
        return None
    vectors = vectors.real / np.abs(vectors.real).max(axis=0)
    s = np.linalg.svd(vectors, compute_uv=False)
    if s[-1] <= 1e-8 * s[0]:
        return None
    return vectors


def _eigenvalue_text(M: np.ndarray) -> str:
    values = np.sort_complex(np.linalg.eigvals(M))
    if np.abs(values.imag).max() < 1e-12:
        return ", ".join(f"{v:.4g}" for v in values.real)
    return ", ".join(f"{v.real:.4g}{v.imag:+.4g}i" for v in values)


@dataclass(frozen=True)
class BasisChange:
    """One map in two bases: ``A`` (old coordinates), ``P`` (new basis vectors as columns), ``B = P^-1 A P``.

    Attributes
    ----------
    A, P, B : ndarray of shape (n, n)
    note : str
        Empty, or why the requested basis was replaced (e.g. no real eigenbasis).
    """

    A: np.ndarray
    P: np.ndarray
    B: np.ndarray
    note: str = ""

    @property
    def diagonal(self) -> bool:
        """``B`` is diagonal (up to rounding): in this basis the map only scales each axis."""
        off = self.B - np.diag(np.diag(self.B))
        return bool(np.abs(off).max() <= 1e-9 * max(np.abs(self.B).max(), 1.0))

    def invariants(self) -> pd.DataFrame:
        """Trace, determinant, rank and eigenvalues of ``A`` and ``B``: properties of the map, not of the basis."""
        rows = []
        for name, f in (("trace", lambda M: f"{np.trace(M):.4g}"), ("determinant", lambda M: f"{np.linalg.det(M):.4g}"),
                        ("rank", lambda M: str(analyze_map(M).rank)), ("eigenvalues", _eigenvalue_text)):
            rows.append({"invariant": name, "A (old basis)": f(self.A), "P⁻¹AP (new basis)": f(self.B)})
        return pd.DataFrame(rows)


def same_map_two_bases(A, P=None) -> BasisChange:
    """The map ``A`` in the basis ``P``; with ``P=None``, in ``A``'s eigenbasis when it has one.

    Parameters
    ----------
    A : array_like of shape (n, n)
    P : array_like of shape (n, n), optional
        New basis vectors as columns. ``None`` picks :func:`eigenbasis` and falls back to
        the standard basis rotated by 45 degrees (in the first two coordinates), saying so
        in ``note``, when ``A`` cannot be diagonalised over the reals.

    Returns
    -------
    BasisChange
    """
    A = as_matrix(A, square=True)
    note = ""
    if P is None:
        P = eigenbasis(A)
        if P is None:
            note = ("This map has no basis of real eigenvectors (a rotation turns every direction; a shear has only "
                    "one eigen-direction), so it cannot be diagonalised. Showing the basis rotated by 45° instead.")
            P = rotation(np.pi / 4, n=len(A))
    P = as_matrix(P, "P (the new basis)", square=True)
    return BasisChange(A=A, P=P, B=change_of_basis(A, P), note=note)


@dataclass(frozen=True)
class Whitening:
    """A change of basis in which a covariance becomes the identity: ``W C W^T = I``.

    Attributes
    ----------
    transform : ndarray of shape (k, d)
        ``W = Lambda^-1/2 Q^T``: whitened coordinates are ``W (x - mean)``.
    basis : ndarray of shape (d, k)
        ``P = Q Lambda^1/2``: the new basis vectors in old coordinates (the principal
        axes, each as long as its standard deviation); ``W P = I``.
    variances : ndarray of shape (k,)
        The covariance's eigenvalues kept, largest first.
    mean : ndarray of shape (d,)
    dropped : int
        Directions with (numerically) zero variance: they cannot be scaled to 1, so the
        whitened space has dimension ``k = d - dropped``.
    """

    transform: np.ndarray
    basis: np.ndarray
    variances: np.ndarray
    mean: np.ndarray
    dropped: int

    def __call__(self, X) -> np.ndarray:
        """Whitened coordinates of the rows of ``X`` (shape ``(n_samples, d)``), shape ``(n_samples, k)``."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.transform.T

    def contour(self, points: int = 121) -> pd.DataFrame:
        """The one-standard-deviation ellipse ``{P u : |u| = 1}`` of a 2-D covariance and its whitened image.

        Columns ``stage`` (``"before: covariance ellipse"``, ``"after whitening"``), ``order``,
        ``x``, ``y``. Whitening maps the ellipse onto the unit circle.
        """
        if self.basis.shape != (2, 2):
            raise ProbingInputError(f"The picture is for a full-rank 2-D covariance; got basis shape {self.basis.shape}.")
        t = np.linspace(0, 2 * np.pi, points)
        ellipse = self.basis @ np.vstack([np.cos(t), np.sin(t)]) + self.mean[:, None]
        white = self(ellipse.T).T
        return pd.concat([pd.DataFrame({"stage": stage, "order": np.arange(points), "x": xy[0], "y": xy[1]})
                          for stage, xy in (("before: covariance ellipse", ellipse), ("after whitening", white))],
                         ignore_index=True)


def whitening(covariance, mean=None) -> Whitening:
    """The PCA whitening transform of a covariance matrix (covariance -> identity).

    Parameters
    ----------
    covariance : array_like of shape (d, d)
        Symmetric positive semi-definite.
    mean : array_like of shape (d,), optional
        Subtracted before whitening (default 0).

    Returns
    -------
    Whitening
    """
    C = as_matrix(covariance, "covariance", square=True)
    d = len(C)
    if not np.allclose(C, C.T, rtol=1e-8, atol=1e-12 * max(np.abs(C).max(), 1.0)):
        raise ProbingInputError("A covariance must be symmetric (C = Cᵀ); got a non-symmetric matrix.")
    values, vectors = np.linalg.eigh((C + C.T) / 2)
    values, vectors = values[::-1], vectors[:, ::-1]
    floor = default_tol(np.abs(values), C.shape)
    if values[-1] < -floor:
        raise ProbingInputError(f"A covariance has no negative variances; this matrix has eigenvalue {values[-1]:.3g}. "
                                "Use X.T @ X / (n - 1) of centred data.")
    keep = values > floor
    if not keep.any():
        raise ProbingInputError("The covariance is zero: there is no variance to whiten.")
    values, vectors = values[keep], vectors[:, keep]
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64).reshape(d)
    return Whitening(transform=vectors.T / np.sqrt(values)[:, None], basis=vectors * np.sqrt(values),
                     variances=values, mean=mean, dropped=int(d - keep.sum()))
