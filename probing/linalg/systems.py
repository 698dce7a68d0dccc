"""Solving ``A x = b`` and projecting onto a column space, rank-deficient cases included.

Both use the SVD with the tolerance of :func:`probing.linalg.analyze_map`, never
``inv(A^T A)``: that formula (the regression "hat matrix") only holds for full column
rank, and the lessons' "Level 2: Debug" case ``A = [[1, 2], [2, 4], [3, 6]]`` (rank 1)
is exactly where it breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.linalg.maps import MapReport, analyze_map, as_matrix


def projection(basis, tol: float | None = None) -> np.ndarray:
    """Orthogonal projection onto the span of the columns of ``basis``: ``P = U_r U_r^T``.

    The span is read off the SVD, so dependent columns are fine: ``basis`` may be any
    ``(n, k)`` matrix, of any rank. ``P`` equals ``basis @ pinv(basis)``.

    Parameters
    ----------
    basis : array_like of shape (n, k)
        Columns spanning the subspace (not necessarily independent).
    tol : float, optional
        Singular values ``> tol`` count towards the span's dimension; default as in
        :func:`probing.linalg.analyze_map` (``S.max() * max(n, k) * eps``).

    Returns
    -------
    ndarray of shape (n, n)
        Symmetric, idempotent, trace = rank of ``basis``.

    Examples
    --------
    >>> P = projection([[1, 2], [2, 4], [3, 6]])   # rank 1: the line through (1, 2, 3)
    >>> (P @ [1.0, 3.0, 2.0]).round(3)              # (13/14) (1, 2, 3)
    array([0.929, 1.857, 2.786])
    """
    image = analyze_map(as_matrix(basis, "basis"), tol=tol).image
    return image @ image.T


@dataclass(frozen=True)
class LinearSolve:
    """What ``A x = b`` has: its minimum-norm least-squares solution and whether it is exact and unique.

    Attributes
    ----------
    x : ndarray of shape (n,)
        ``pinv(A) b``: the exact solution of least norm when one exists, else the
        least-squares solution of least norm. Every other (least-squares) solution is
        ``x + k`` with ``k`` in the kernel.
    fitted : ndarray of shape (m,)
        ``A x``: the projection of ``b`` onto the column space.
    residual : ndarray of shape (m,)
        ``b - A x``: lies in the left null space, orthogonal to every column of ``A``.
    consistent : bool
        ``b`` is in the column space (``||residual|| <= rtol * ||b||``): an exact solution exists.
    unique : bool
        Full column rank (nullity 0): at most one (least-squares) solution.
    rtol : float
        The relative tolerance used for ``consistent``.
    report : MapReport
        ``analyze_map(A)``: rank, the four subspaces, the condition number.
    """

    x: np.ndarray
    fitted: np.ndarray
    residual: np.ndarray
    consistent: bool
    unique: bool
    rtol: float
    report: MapReport

    @property
    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.residual))

    def verdict(self) -> str:
        """One sentence: how many solutions ``A x = b`` has."""
        if self.consistent:
            return ("exactly one solution" if self.unique else
                    f"infinitely many solutions: x plus anything in the {self.report.nullity}-dimensional kernel")
        return ("no exact solution: b is not in the column space; x is the least-squares solution"
                + ("" if self.unique else " of least norm (others differ by a kernel vector)"))

    def to_frame(self) -> pd.DataFrame:
        """One row per output coordinate: ``b``, its projection ``A x`` and the residual."""
        b = self.fitted + self.residual
        return pd.DataFrame({"coordinate": np.arange(1, len(b) + 1), "b": b, "A x (projection of b)": self.fitted,
                             "residual b - A x": self.residual})


def solve(A, b, rtol: float = 1e-9, tol: float | None = None) -> LinearSolve:
    """Solve ``A x = b`` in the least-squares sense with the pseudoinverse, and say what kind of system it is.

    Parameters
    ----------
    A : array_like of shape (m, n)
    b : array_like of shape (m,)
    rtol : float
        ``b`` counts as in the column space when ``||b - A x|| <= rtol * ||b||``.
    tol : float, optional
        Rank tolerance for the singular values (default as in :func:`analyze_map`).

    Returns
    -------
    LinearSolve

    Examples
    --------
    >>> result = solve([[1, 2], [2, 4], [3, 6]], [1, 3, 2])
    >>> result.consistent, result.unique, result.fitted.round(3)
    (False, False, array([0.929, 1.857, 2.786]))
    """
    M = as_matrix(A)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 1 or len(b) != M.shape[0]:
        raise ProbingInputError(
            f"b must be a vector with one entry per row of A ({M.shape[0]}); got shape {b.shape}.")
    if not np.isfinite(b).all():
        raise ProbingInputError("b contains NaN/Inf entries; fix them first.")
    if rtol < 0:
        raise ProbingInputError(f"rtol must be non-negative; got {rtol}.")
    report = analyze_map(M, tol=tol)
    r = report.rank
    s = report.singular_values[:r]
    x = report.right_vectors[:r].T @ ((report.image.T @ b) / s)
    fitted = M @ x
    residual = b - fitted
    consistent = bool(np.linalg.norm(residual) <= rtol * max(np.linalg.norm(b), np.finfo(float).tiny))
    return LinearSolve(x=x, fitted=fitted, residual=residual, consistent=consistent,
                       unique=report.nullity == 0, rtol=float(rtol), report=report)
