"""The geometry of a linear map ``x -> A x``: the four subspaces, rank, spectrum, low-rank versions.

A matrix ``A`` of shape ``(m, n)`` is one coordinate picture of a map from ``R^n``
(inputs) to ``R^m`` (outputs). Its singular value decomposition ``A = U S V^T`` reads
off everything here: the directions with ``sigma > tol`` span the image (what the
map can produce) and the row space (the inputs it listens to); the input directions
with ``sigma <= tol`` span the kernel (the "dead" directions the map sends to zero)
and the output directions no input reaches span the left null space. Rank-nullity
holds both ways: ``rank + nullity = n`` for ``A`` and ``rank + dim(left null) = m``
for ``A^T``. Truncating the SVD gives the best rank-``r`` map (Eckart-Young).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError


def as_matrix(A, what: str = "A", square: bool = False) -> np.ndarray:
    """Validate a finite 2-D numeric matrix and return it as float64.

    Parameters
    ----------
    A : array_like of shape (m, n)
    what : str
        Name used in error messages.
    square : bool
        Require ``m == n``.
    """
    A = np.asarray(A)
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise ProbingInputError(f"{what} must be a numeric matrix; got dtype {A.dtype}.")
    if A.ndim != 2 or 0 in A.shape:
        raise ProbingInputError(
            f"{what} must be a non-empty 2-D matrix (m, n); got shape {A.shape}. "
            "Pick one 2-D weight, or reshape, e.g. W.reshape(W.shape[0], -1).")
    if square and A.shape[0] != A.shape[1]:
        raise ProbingInputError(
            f"{what} must be square (a map from a space to itself) to change its basis; got shape {A.shape}.")
    if not np.isfinite(A).all():
        raise ProbingInputError(f"{what} contains {int((~np.isfinite(A)).sum())} NaN/Inf entries; fix them first.")
    return A.astype(np.float64)


def default_tol(singular_values: np.ndarray, shape: tuple[int, int], dtype=np.float64) -> float:
    """numpy's rank tolerance ``S.max() * max(m, n) * eps`` (``eps`` of the input's float type)."""
    eps = np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).eps
    return float(singular_values.max(initial=0.0) * max(shape) * eps)


def entropy_effective_rank(singular_values: np.ndarray) -> float:
    """Roy & Vetterli's effective rank ``exp(H(p))`` with ``p = sigma / sum(sigma)``; 0 for the zero map."""
    s = np.asarray(singular_values, dtype=np.float64)
    if s.sum() <= 0:
        return 0.0
    p = s[s > 0] / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def energy_rank(singular_values: np.ndarray, energy: float = 0.9) -> int:
    """Smallest ``k`` whose top ``k`` singular values hold ``energy`` of ``sum(sigma^2)``."""
    if not 0.0 < energy <= 1.0:
        raise ProbingInputError(f"energy must be in (0, 1]; got {energy}.")
    s2 = np.asarray(singular_values, dtype=np.float64) ** 2
    if s2.sum() <= 0:
        return 0
    share = np.cumsum(s2) / s2.sum()
    return int(np.searchsorted(share, energy * (1 - 1e-12)) + 1)


@dataclass(frozen=True)
class MapReport:
    """What a map ``A: R^n -> R^m`` keeps and what it kills (see :func:`analyze_map`).

    Attributes
    ----------
    shape : (m, n)
    singular_values : ndarray of shape (min(m, n),), descending
    tol : float
        Singular values above ``tol`` count towards the rank.
    rank, nullity : int
        ``rank + nullity == n``.
    left_vectors : ndarray of shape (m, min(m, n))
        Left singular vectors ``U`` (columns).
    right_vectors : ndarray of shape (n, n)
        All right singular vectors ``V^T`` (rows), including those of the kernel.
    entropy_rank : float
        Roy & Vetterli effective rank.
    energy, energy_rank : float, int
        Smallest ``k`` holding ``energy`` of the squared singular values.

    The four fundamental subspaces are properties: :attr:`row_space` and :attr:`kernel`
    (orthogonal complements in ``R^n``), :attr:`image` and :attr:`left_null_space`
    (orthogonal complements in ``R^m``).
    """

    shape: tuple[int, int]
    singular_values: np.ndarray
    tol: float
    rank: int
    nullity: int
    left_vectors: np.ndarray
    right_vectors: np.ndarray
    entropy_rank: float
    energy: float
    energy_rank: int

    @property
    def kernel(self) -> np.ndarray:
        """Orthonormal basis of the kernel, shape ``(n, nullity)``: inputs the map sends to ~0."""
        return self.right_vectors[self.rank:].T

    @property
    def image(self) -> np.ndarray:
        """Orthonormal basis of the image (column space), shape ``(m, rank)``: every output is a mix of these."""
        return self.left_vectors[:, :self.rank]

    @property
    def row_space(self) -> np.ndarray:
        """Orthonormal basis of the row space, shape ``(n, rank)``: the inputs the map listens to (image of ``A^T``)."""
        return self.right_vectors[:self.rank].T

    @cached_property
    def left_null_space(self) -> np.ndarray:
        """Orthonormal basis of the left null space ``ker(A^T)``, shape ``(m, m - rank)``.

        The outputs no input can reach: every ``b`` splits into a part in the image and a
        part here, and ``A x = b`` is solvable exactly when the second part is zero.
        """
        m = self.shape[0]
        if not self.rank:
            return np.eye(m)
        Q, _ = np.linalg.qr(self.image, mode="complete")
        return Q[:, self.rank:]

    @property
    def condition_number(self) -> float:
        """``sigma_max / sigma_min`` over the ``min(m, n)`` singular values (``numpy.linalg.cond``); inf if rank-deficient.

        How much the map can amplify a relative error in ``x`` when solving ``A x = b``:
        about ``log10(condition_number)`` digits are lost.
        """
        s = self.singular_values
        if s[-1] <= self.tol:
            return float("inf")
        return float(s[0] / s[-1])

    def rank_nullity(self, transpose: bool = False) -> str:
        """The rank-nullity check as one line of text, for ``A`` (``n`` inputs) or ``A^T`` (``m`` inputs)."""
        m, n = self.shape
        if transpose:
            left = m - self.rank
            ok = "holds" if self.rank + left == m else "FAILS"
            return (f"rank(Aᵀ) + nullity(Aᵀ) = {self.rank} + {left} = {self.rank + left} = m = {m} "
                    f"(output dimension of A): {ok}")
        ok = "holds" if self.rank + self.nullity == n else "FAILS"
        return (f"rank + nullity = {self.rank} + {self.nullity} = {self.rank + self.nullity} = n = {n} "
                f"(input dimension): {ok}")

    def subspaces(self) -> pd.DataFrame:
        """The four fundamental subspaces: where each lives, its dimension and what it means."""
        m, n = self.shape
        return pd.DataFrame([
            {"subspace": "row space  im(Aᵀ)", "lives in": f"R^{n} (inputs)", "dimension": self.rank,
             "meaning": "the input directions the map listens to"},
            {"subspace": "kernel  ker(A)", "lives in": f"R^{n} (inputs)", "dimension": self.nullity,
             "meaning": "inputs sent to 0: invisible downstream"},
            {"subspace": "column space  im(A)", "lives in": f"R^{m} (outputs)", "dimension": self.rank,
             "meaning": "every output the map can produce"},
            {"subspace": "left null space  ker(Aᵀ)", "lives in": f"R^{m} (outputs)", "dimension": m - self.rank,
             "meaning": "outputs no input reaches: the residual of A x = b lives here"}])

    def to_frame(self) -> pd.DataFrame:
        """The spectrum, one row per singular value, with what the best rank-``k`` map loses and costs."""
        m, n = self.shape
        s = self.singular_values
        s2 = s ** 2
        total = s2.sum() if s2.sum() > 0 else 1.0
        tail = np.sqrt(np.r_[np.cumsum(s2[::-1])[::-1][1:], 0.0])  # summed directly: small tails survive
        k = np.arange(1, len(s) + 1)
        return pd.DataFrame({
            "k": k, "singular_value": s, "above_tol": s > self.tol, "energy_share": s2 / total,
            "cumulative_energy": np.cumsum(s2) / total,
            "spectral_error_rank_k": np.r_[s[1:], 0.0], "frobenius_error_rank_k": tail,
            "lora_params_rank_k": k * (m + n), "full_params": m * n})


def analyze_map(A, tol: float | None = None, energy: float = 0.9, rtol: float | None = None) -> MapReport:
    """Rank, nullity, kernel and image bases, spectrum and effective rank of ``A``.

    Parameters
    ----------
    A : array_like of shape (m, n)
        The map ``x -> A x`` from ``R^n`` to ``R^m``.
    tol : float, optional
        Singular values ``> tol`` count towards the rank. Default: numpy's
        ``S.max() * max(m, n) * eps`` with ``eps`` of ``A``'s float type.
    energy : float in (0, 1]
        Share of ``sum(sigma^2)`` for the energy-based effective rank.
    rtol : float, optional
        A tolerance relative to the largest singular value (``tol = rtol * sigma_max``),
        as in ``numpy.linalg.matrix_rank``; give ``tol`` or ``rtol``, not both.

    Returns
    -------
    MapReport
    """
    dtype = np.asarray(A).dtype
    M = as_matrix(A)
    m, n = M.shape
    U, s, Vt = np.linalg.svd(M, full_matrices=n > m)
    U = U[:, :min(m, n)]
    if tol is not None and rtol is not None:
        raise ProbingInputError(f"Give tol (absolute) or rtol (relative), not both; got tol={tol}, rtol={rtol}.")
    if rtol is not None:
        tol = float(rtol) * float(s.max(initial=0.0))
    tol = default_tol(s, M.shape, dtype) if tol is None else float(tol)
    if tol < 0:
        raise ProbingInputError(f"tol must be non-negative; got {tol}.")
    rank = int((s > tol).sum())
    return MapReport(shape=(m, n), singular_values=s, tol=tol, rank=rank, nullity=n - rank,
                     left_vectors=U, right_vectors=Vt, entropy_rank=entropy_effective_rank(s),
                     energy=energy, energy_rank=energy_rank(s, energy))


@dataclass(frozen=True)
class Composition:
    """The map ``A B`` (first ``B``, then ``A``) and the ranks that bound it."""

    product: np.ndarray
    rank_a: int
    rank_b: int
    rank_product: int
    inner_dim: int

    @property
    def upper_bound(self) -> int:
        """``min(rank A, rank B)``: a map cannot pass on more than either factor carries."""
        return min(self.rank_a, self.rank_b)

    @property
    def lower_bound(self) -> int:
        """Sylvester's ``rank A + rank B - k`` (``k`` the inner dimension), at least 0."""
        return max(self.rank_a + self.rank_b - self.inner_dim, 0)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"rank A": self.rank_a, "rank B": self.rank_b, "rank AB": self.rank_product,
                              "Sylvester lower bound": self.lower_bound, "upper bound min(rank A, rank B)":
                              self.upper_bound}])


def compose(A, B) -> Composition:
    """Compose two maps: ``x -> A (B x)``, with ``rank(AB) <= min(rank A, rank B)``.

    Parameters
    ----------
    A : array_like of shape (m, k)
    B : array_like of shape (k, n)
    """
    A, B = as_matrix(A, "A"), as_matrix(B, "B")
    if A.shape[1] != B.shape[0]:
        raise ProbingInputError(
            f"A B needs A's input dimension to equal B's output dimension; got A {A.shape} and B {B.shape}.")
    product = A @ B
    return Composition(product, analyze_map(A).rank, analyze_map(B).rank, analyze_map(product).rank, A.shape[1])


@dataclass(frozen=True)
class LowRankApprox:
    """The best rank-``r`` map ``left @ right`` and what it loses (Eckart-Young) and saves (LoRA).

    Attributes
    ----------
    r : int
    left : ndarray of shape (m, r)
        ``U_r diag(sigma_r)`` (LoRA's ``B``).
    right : ndarray of shape (r, n)
        ``V_r^T`` (LoRA's ``A``).
    spectral_error, frobenius_error : float
        Measured ``||A - A_r||_2`` and ``||A - A_r||_F``.
    eckart_young_spectral, eckart_young_frobenius : float
        The optimum over all rank-``r`` maps: ``sigma_{r+1}`` and ``sqrt(sum_{i>r} sigma_i^2)``.
    norm_frobenius : float
        ``||A||_F``.
    """

    r: int
    left: np.ndarray
    right: np.ndarray
    spectral_error: float
    frobenius_error: float
    eckart_young_spectral: float
    eckart_young_frobenius: float
    norm_frobenius: float

    @property
    def approx(self) -> np.ndarray:
        """The rank-``r`` matrix, shape ``(m, n)``."""
        return self.left @ self.right

    @property
    def full_params(self) -> int:
        return self.left.shape[0] * self.right.shape[1]

    @property
    def lora_params(self) -> int:
        """``r (m + n)``: the numbers stored by the two factors."""
        return self.r * (self.left.shape[0] + self.right.shape[1])

    def to_frame(self) -> pd.DataFrame:
        rel = self.frobenius_error / self.norm_frobenius if self.norm_frobenius else 0.0
        return pd.DataFrame([{"r": self.r, "spectral error": self.spectral_error,
                              "Eckart-Young sigma_(r+1)": self.eckart_young_spectral,
                              "Frobenius error": self.frobenius_error,
                              "Eckart-Young Frobenius": self.eckart_young_frobenius, "relative Frobenius": rel,
                              "params r(m+n)": self.lora_params, "params m*n": self.full_params}])


def low_rank_approx(A, r: int, report: MapReport | None = None) -> LowRankApprox:
    """Best rank-``r`` approximation of ``A`` by truncated SVD, with measured and optimal errors.

    Parameters
    ----------
    A : array_like of shape (m, n)
    r : int
        Target rank, ``0 <= r <= min(m, n)``.
    report : MapReport, optional
        ``analyze_map(A)``, to reuse its SVD.
    """
    M = as_matrix(A)
    report = report if report is not None else analyze_map(M)
    if report.shape != M.shape:
        raise ProbingInputError(f"report is for a {report.shape} map but A has shape {M.shape}.")
    s = report.singular_values
    if not 0 <= int(r) <= len(s):
        raise ProbingInputError(f"r must be between 0 and min(m, n) = {len(s)}; got {r}.")
    r = int(r)
    left = report.left_vectors[:, :r] * s[:r]
    right = report.right_vectors[:r]
    residual = M - left @ right
    spectral = float(np.linalg.norm(residual, 2)) if residual.size else 0.0
    return LowRankApprox(r=r, left=left, right=right, spectral_error=spectral,
                         frobenius_error=float(np.linalg.norm(residual)),
                         eckart_young_spectral=float(s[r]) if r < len(s) else 0.0,
                         eckart_young_frobenius=float(np.sqrt((s[r:] ** 2).sum())),
                         norm_frobenius=float(np.linalg.norm(M)))


