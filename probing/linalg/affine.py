"""Affine maps ``x -> A x + t`` as one matrix in homogeneous coordinates.

Appending a 1 to every point, ``(x, 1)``, turns the affine map into the linear map
``[[A, t], [0, 1]]`` on ``R^(n+1)``: composition becomes a matrix product,
``[[A2, t2], [0, 1]] [[A1, t1], [0, 1]] = [[A2 A1, A2 t1 + t2], [0, 1]]``. The lesson's
Exercise 6 composes "rotate by 45 degrees, then translate by (1, 0)" with "scale by 2,
then translate by (0, 1)".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.examples import rotation
from probing.linalg.maps import as_matrix


def affine_matrix(A, t) -> np.ndarray:
    """The augmented ``(n+1, n+1)`` matrix ``[[A, t], [0, 1]]`` of ``x -> A x + t``.

    Parameters
    ----------
    A : array_like of shape (n, n)
        The linear part.
    t : array_like of shape (n,)
        The translation.
    """
    A = as_matrix(A, "the linear part A", square=True)
    t = np.asarray(t, dtype=np.float64).ravel()
    if t.shape != (len(A),) or not np.isfinite(t).all():
        raise ProbingInputError(f"The translation needs {len(A)} finite entries; got {t.size}.")
    M = np.eye(len(A) + 1)
    M[:-1, :-1], M[:-1, -1] = A, t
    return M


def rotate_scale_translate(degrees: float, scale: float = 1.0, t=(0.0, 0.0)) -> np.ndarray:
    """The ``3 x 3`` matrix of ``x -> scale * R(degrees) x + t`` in the plane (rotate and scale first, then move)."""
    return affine_matrix(scale * rotation(np.deg2rad(degrees)), t)


def apply_affine(M, points) -> np.ndarray:
    """Apply an augmented matrix to points (rows of shape ``(k, n)``, or one point ``(n,)``) via ``(x, 1)``."""
    M = as_matrix(M, "M", square=True)
    P = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if P.shape[1] != len(M) - 1:
        raise ProbingInputError(f"M is {len(M)} x {len(M)}, so points need {len(M) - 1} coordinates; "
                                f"got {P.shape[1]}.")
    out = (np.c_[P, np.ones(len(P))] @ M.T)[:, :-1]
    return out[0] if np.ndim(points) == 1 else out


@dataclass(frozen=True)
class AffineComposition:
    """``f2 after f1`` as ``M2 @ M1``, with its effective rotation, scale and translation.

    Attributes
    ----------
    M1, M2, product : ndarray of shape (3, 3)
        ``product = M2 @ M1``: apply ``f1`` first.
    point : ndarray of shape (2,)
    via_product, via_steps : ndarray of shape (2,)
        ``point`` mapped by the product and by ``f1`` then ``f2``: equal.
    """

    M1: np.ndarray
    M2: np.ndarray
    product: np.ndarray
    point: np.ndarray
    via_product: np.ndarray
    via_steps: np.ndarray

    @property
    def translation(self) -> np.ndarray:
        return self.product[:2, 2]

    @property
    def scales(self) -> np.ndarray:
        """Singular values of the linear part: equal when it is a scaled rotation."""
        return np.linalg.svd(self.product[:2, :2], compute_uv=False)

    @property
    def rotation_degrees(self) -> float:
        """Angle of the linear part's first column (the rotation, when it is a scaled rotation)."""
        A = self.product[:2, :2]
        return float(np.degrees(np.arctan2(A[1, 0], A[0, 0])))

    def to_frame(self) -> pd.DataFrame:
        """The three matrices side by side, one row per matrix row."""
        return pd.concat([pd.DataFrame(M, columns=["c1", "c2", "c3"]).assign(matrix=name, row=[1, 2, 3])
                          for name, M in (("M1", self.M1), ("M2", self.M2), ("M2 M1", self.product))],
                         ignore_index=True)[["matrix", "row", "c1", "c2", "c3"]]


def compose_affine(M1, M2, point=(1.0, 0.0)) -> AffineComposition:
    """Compose two planar affine maps (``f1`` first) and map ``point`` both ways.

    Parameters
    ----------
    M1, M2 : array_like of shape (3, 3)
        Augmented matrices, last row ``(0, 0, 1)``.
    point : array_like of shape (2,)

    Returns
    -------
    AffineComposition
    """
    M1, M2 = as_matrix(M1, "M1", square=True), as_matrix(M2, "M2", square=True)
    for name, M in (("M1", M1), ("M2", M2)):
        if M.shape != (3, 3) or not np.allclose(M[2], [0, 0, 1]):
            raise ProbingInputError(f"{name} must be a 3 x 3 augmented matrix with last row (0, 0, 1); got {M.shape} "
                                    f"with last row {M[-1].round(3).tolist()}.")
    point = np.asarray(point, dtype=np.float64).ravel()
    product = M2 @ M1
    return AffineComposition(M1, M2, product, point, apply_affine(product, point),
                             apply_affine(M2, apply_affine(M1, point)))
