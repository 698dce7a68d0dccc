"""Example maps: random low-rank, projection, rotation, shear, reflection, and the lessons' own matrices.

``LESSON_MAPS`` holds the matrices the two lessons work through (with a right-hand side
``b`` for ``A x = b``) and ``LESSON_BASES`` their change-of-basis examples, each with what
the lesson says about it, so a page can pre-fill them and a test can check the numbers.
"""

from __future__ import annotations

import numpy as np

from probing.errors import ProbingInputError
from probing.linalg.systems import projection


def random_low_rank(m: int, n: int, rank: int, seed: int = 0) -> np.ndarray:
    """A random ``(m, n)`` map of exactly ``rank`` (Gaussian factors ``(m, rank) @ (rank, n)``)."""
    if not 0 <= rank <= min(m, n):
        raise ProbingInputError(f"rank must be between 0 and min(m, n) = {min(m, n)}; got {rank}.")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n)) / np.sqrt(max(rank, 1))


def random_projection(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Orthogonal projection of ``R^n`` onto a random ``k``-dimensional subspace."""
    if not 0 < k <= n:
        raise ProbingInputError(f"need 0 < k <= n for a projection; got k={k}, n={n}.")
    return projection(np.random.default_rng(seed).standard_normal((n, k)))


def rotation(theta: float, n: int = 2, plane: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Rotation by ``theta`` radians in the ``plane`` of two coordinates of ``R^n`` (identity elsewhere)."""
    i, j = plane
    if n < 2 or not (0 <= i < n and 0 <= j < n and i != j):
        raise ProbingInputError(
            f"rotation needs n >= 2 and two different coordinates below n; got n={n}, plane={plane}.")
    R = np.eye(n)
    c, s = np.cos(theta), np.sin(theta)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def shear(factor: float = 1.0, n: int = 2) -> np.ndarray:
    """Shear of ``R^n``: ``x_0 += factor * x_1`` (volume and the first axis are kept)."""
    if n < 2:
        raise ProbingInputError(f"shear needs n >= 2; got {n}.")
    S = np.eye(n)
    S[0, 1] = factor
    return S


def reflection(normal) -> np.ndarray:
    """Householder reflection ``I - 2 u u^T`` across the hyperplane orthogonal to ``normal``."""
    u = np.asarray(normal, dtype=np.float64).ravel()
    if not np.isfinite(u).all() or np.linalg.norm(u) == 0:
        raise ProbingInputError(f"reflection needs a finite non-zero normal vector; got {u}.")
    u = u / np.linalg.norm(u)
    return np.eye(len(u)) - 2.0 * np.outer(u, u)


SQRT_HALF = float(np.sqrt(0.5))

LESSON_MAPS = {
    "Level 2 Debug: projection onto a rank-1 column space": (
        [[1, 2], [2, 4], [3, 6]], [1, 3, 2],
        ("Columns are proportional (rank 1), so AᵀA is singular and A(AᵀA)⁻¹Aᵀ breaks. The projection of "
         "b = (1, 3, 2) onto the column space is (13/14)(1, 2, 3) = (0.929, 1.857, 2.786).")),
    "Exercise 1(a): [[1, 2, 3], [4, 5, 6], [7, 8, 9]]": (
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [1, 0, 0],
        ("row 3 = 2 row 2 − row 1: rank 2, nullity 1, kernel spanned by (1, −2, 1). The lesson's 'random vector' "
         "b = (1, 0, 0) is not in the column space (residual > 0).")),
    "Part 7 diagnostics: a 3 × 4 map of rank 2": (
        [[1, 2, 0, 1], [2, 4, 1, 3], [3, 6, 1, 4]], [1, 2, 4],
        ("rank 2, nullity 2 (rank + nullity = 4). The lesson projects b = (1, 2, 4) onto the column space and checks "
         "the residual is orthogonal to it.")),
    "Part 4: square singular [[1, 2, 3], [2, 4, 6], [1, 1, 1]]": (
        [[1, 2, 3], [2, 4, 6], [1, 1, 1]], [1, 2, 1],
        ("row 2 = 2 row 1: rank 2, nullity 1. b = (1, 2, 1) is in the column space, so there are infinitely many "
         "solutions.")),
    "Section 2.4: R⁴ → R³ of full row rank": (
        [[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], [1, 1, 1],
        "rank 3 (full row rank), nullity 4 − 3 = 1, kernel spanned by (−1, −1, 1, 0). Every b is reachable."),
    "Appendix D.1: kernel by row reduction": (
        [[1, 2, -1, 0], [2, 4, -2, 3], [-1, -2, 1, 2]], [0, 3, 2],
        "pivots in columns 1 and 4: rank 2, nullity 2, kernel spanned by (−2, 1, 0, 0) and (1, 0, 1, 0)."),
    "Appendix A.3: a plane collapsed to zero": (
        [[1, 2, -1], [2, 4, -2]], [1, 2],
        "rows are multiples: rank 1, nullity 2 (a plane through the origin is sent to 0); image span{(1, 2)}."),
    "Part 2: [[1, 2], [2, 4]], det = 0": (
        [[1, 2], [2, 4]], [1, 1],
        "row 2 = 2 row 1: rank 1, dim ker = 1, not invertible."),
    "Exercise 1(b): projection to the first two coordinates": (
        [[1, 0, 0], [0, 1, 0]], [2, 3],
        "kernel = the third axis, image = all of R²: rank 2, nullity 1."),
}

LESSON_BASES = {
    "Section 3.3 worked example: [[3, 1], [0, 3]] in basis (1, 0), (1, 1)": (
        [[3, 1], [0, 3]], [[1, 1], [0, 1]],
        ("P⁻¹AP = [[3, 1], [0, 3]]: this Jordan block commutes with P, so the matrix does not change. (The lesson "
         "prints [[3, 2], [0, 3]]; by hand P⁻¹A = [[3, −2], [0, 3]] and (P⁻¹A)P = [[3, 1], [0, 3]].)")),
    "Exercise 2: reflection across y = x in basis (1, 1)/√2, (1, −1)/√2": (
        [[0, 1], [1, 0]], [[SQRT_HALF, SQRT_HALF], [SQRT_HALF, -SQRT_HALF]],
        "P⁻¹AP = diag(1, −1): the line y = x is kept, the line y = −x is flipped. The new basis is the eigenbasis."),
    "Section 3.2: T(x, y) = (x + y, x − y) in basis (1, 1), (1, −1)": (
        [[1, 1], [1, -1]], [[1, 1], [1, -1]],
        ("[T]_B = [[1, 1], [1, −1]]: T(1, 1) = (2, 0) = 1·(1, 1) + 1·(1, −1) and T(1, −1) = (0, 2) = 1·(1, 1) − "
         "1·(1, −1).")),
    "Appendix A.2: rotation by 30° in the basis rotated by 45°": (
        [[np.sqrt(3) / 2, -0.5], [0.5, np.sqrt(3) / 2]], [[SQRT_HALF, -SQRT_HALF], [SQRT_HALF, SQRT_HALF]],
        ("P⁻¹AP = R₋₄₅ R₃₀ R₄₅ = R₃₀: 2-D rotations commute, so a rotation has the same matrix in every "
         "orthonormal (right-handed) basis.")),
}
