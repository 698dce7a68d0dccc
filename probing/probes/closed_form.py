"""Closed-form linear probes from class moments: shrinkage LDA and the class-mean difference.

Everything a linear discriminant needs -- class counts, class means and the pooled
within-class scatter -- comes from one pass of :mod:`probing.stats`, so a probe costs one
``d x d`` Cholesky factorisation, and another labeling of the same rows (a control task, a
permutation) only a low-rank update of it. numpy and scipy only: a probe sweep runs
without importing scikit-learn (:class:`probing.probes.estimator.LinearProbe` wraps these
solutions as a scikit-learn estimator).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from probing.errors import ProbingInputError
from probing.stats import ClassMoments

METHODS = ("lda", "logistic", "mean_diff")
MAX_SCATTER_BYTES = 2 * 2**30  # the d x d solve needs a few copies of this


def check_dimension(d: int, copies: int = 4) -> None:
    """Raise :class:`ProbingInputError` when ``copies`` float64 ``d x d`` matrices do not fit the budget."""
    need = copies * 8 * d * d
    if need > MAX_SCATTER_BYTES:
        raise ProbingInputError(
            f"d={d} needs about {need / 2**30:.1f} GiB for {copies} d x d float64 matrices, more than the "
            f"{MAX_SCATTER_BYTES / 2**30:.0f} GiB the closed-form solver may use. Reduce the dimension first "
            "(e.g. PCA to a few hundred components) or use method='logistic'."
        )


def oas_shrinkage(cov: np.ndarray, n_samples: int, dim: int | None = None) -> float:
    """Oracle-Approximating-Shrinkage intensity (Chen et al. 2010) towards the scaled identity.

    Parameters
    ----------
    cov : ndarray of shape (d, d)
        A covariance estimate from ``n_samples`` (effective) samples.
    n_samples : int
        The number of rows ``cov`` was computed from. The LDA probe passes all ``n`` rows
        (not ``n - n_classes``, although the class means use up degrees of freedom), so its
        shrinkage equals :func:`sklearn.covariance.oas` on the class-centred rows.
    dim : int, optional
        The dimension of the space ``cov`` lives in when it is written in an orthonormal
        basis of a subspace that holds all the data (zero outside it); default ``cov``'s size.

    Returns
    -------
    float in [0, 1]
        Weight of the target in ``(1 - s) cov + s (trace(cov) / d) I``, as
        :func:`sklearn.covariance.oas` computes it.
    """
    d = dim or cov.shape[0]
    mu = np.trace(cov) / d
    alpha = np.einsum("ij,ij->", cov, cov) / d**2  # not BLAS: a threaded dot of one matrix costs more to start than to do
    denominator = (n_samples + 1) * (alpha - mu**2 / d)
    return 1.0 if d == 1 or denominator <= 0 else float(min((alpha + mu**2) / denominator, 1.0))


def unit_rows(W: np.ndarray) -> np.ndarray:
    """``W`` with each row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(W, axis=-1, keepdims=True)
    return W / np.where(norms > 0, norms, 1.0)


def readout(solution: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class weights a fitted probe keeps, and its unit direction(s), from a :func:`solve_from_moments` solution.

    Two classes keep one row, class 1 minus class 0 (``coef`` (1, d), ``intercept`` (1,),
    direction (d,)); more keep one row per class and a one-vs-rest direction each.
    """
    coef, intercept = solution["coef"], solution["intercept"]
    if len(coef) == 2:
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
        return coef, intercept, unit_rows(coef[0])
    return coef, intercept, unit_rows(solution["ovr"])


def class_scores(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(d, n_classes)`` and offsets ``(n_classes,)`` whose argmax over ``X @ W + b`` is the predicted class.

    ``coef`` and ``intercept`` as :func:`readout` keeps them (one row for two classes).
    """
    if len(coef) == 1:
        return np.column_stack([np.zeros(coef.shape[1]), coef[0]]), np.array([0.0, intercept[0]])
    return coef.T, intercept


def _solve_shrunk(cm: ClassMoments, offsets: np.ndarray, rhs: np.ndarray, reg, dim: int | None) -> tuple:
    """``A^{-1} rhs`` for the shrunk within-class covariance ``A`` of ``cm``, and the system that solved it.

    ``A = (1 - s) W / n + s (tr W / (n dim)) I``. The system (Cholesky factor, shrinkage, the
    class offsets) lets another labeling of the same rows be solved by :func:`_solve_relabelled`.
    Least squares when ``A`` is singular (no shrinkage and a singular scatter).
    """
    n, d = max(cm.pooled.count, 1), cm.pooled.d
    within = cm.within_scatter()  # our own array: shrunk in place (OAS is scale-free, so n cancels)
    shrinkage = oas_shrinkage(within, n, dim) if reg == "auto" else float(reg)
    target = shrinkage * np.trace(within) / (dim or d)
    within *= (1.0 - shrinkage) / n
    within[np.diag_indices(d)] += target / n
    system = {"shrinkage": shrinkage, "offsets": offsets, "count": cm.pooled.count, "factor": None}
    try:
        system["factor"] = scipy.linalg.cho_factor(within, check_finite=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.lstsq(within, rhs, check_finite=False)[0], system
    return scipy.linalg.cho_solve(system["factor"], rhs, check_finite=False), system


def _solve_relabelled(system: dict, offsets: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``A_c^{-1} rhs`` for another labeling of the rows of ``system``, with its shrinkage.

    The within-class scatters of two labelings of the same rows differ only by their
    between-class terms, so ``A_c = A + (1 - s) (O^T O - O_c^T O_c)`` (``O``: class offsets,
    ``sqrt(prior) * (class mean - mean)``), a rank ``<= 2k`` change: Woodbury's identity
    solves it with ``A``'s Cholesky factor. ``A_c`` is positive definite whenever ``A`` is
    shrunk (``s > 0``), so the small ``2k x 2k`` system is never singular.
    """
    s = system["shrinkage"]
    if s >= 1.0:  # A is the scaled identity alone: the labels do not enter it
        return scipy.linalg.cho_solve(system["factor"], rhs, check_finite=False)
    U = np.vstack([system["offsets"], offsets])
    solved = scipy.linalg.cho_solve(system["factor"], np.hstack([U.T, rhs]), check_finite=False)
    towards_u, plain = solved[:, :len(U)], solved[:, len(U):]
    signs = np.r_[np.ones(len(system["offsets"])), -np.ones(len(offsets))]
    inner = np.diag(signs / (1.0 - s)) + U @ towards_u
    return plain - towards_u @ np.linalg.solve(inner, U @ plain)


def solve_from_moments(cm: ClassMoments, method: str = "lda", reg="auto", dim: int | None = None,
                       like: dict | None = None) -> dict:
    """Closed-form probe weights from class moments.

    Parameters
    ----------
    cm : ClassMoments
        Pooled moments and per-class counts/means of the training rows (n_classes >= 2).
    method : {"lda", "mean_diff"}
    reg : "auto" or float in [0, 1]
        LDA shrinkage towards the scaled identity (``(1 - s) S + s (tr S / d) I``); ignored by ``mean_diff``.
    dim : int, optional
        Dimension of the original space when ``cm`` is written in an orthonormal basis of
        a subspace holding all the rows: the solution is then the original space's, in that basis.
    like : dict, optional
        The ``system`` of an LDA solution for *another labeling of the same rows* (e.g. the
        real labels, when ``cm`` holds a control task or a permutation). This labeling is then
        solved with that solution's shrinkage (matched regularisation: probes of equal
        capacity, as a control task asks) by a low-rank update of its factorisation, with no
        new ``d x d`` factorisation. ``reg`` is then not used.

    Returns
    -------
    dict with
        ``coef`` (n_classes, d) and ``intercept`` (n_classes,): class scores ``x @ coef.T + intercept``,
        from the class means minus the overall mean (scikit-learn's scores minus a term common
        to all classes: same predictions and posteriors, without cancelling a large offset);
        ``ovr`` (n_classes, d): unnormalised one-vs-rest directions;
        ``subspace`` (min(n_classes - 1, d), d): orthonormal discriminant subspace, most discriminative first;
        ``shrinkage`` (float or None);
        ``system`` (dict or None): what ``like`` takes (LDA only).
    """
    means, counts = cm.means, cm.counts
    n, d = cm.pooled.count, cm.pooled.d
    priors = counts / max(n, 1)
    rest = (n * cm.pooled.mean - counts[:, None] * means) / np.maximum(n - counts, 1)[:, None]
    centred = means - cm.pooled.mean  # (k, d): class scores from centred means keep a large offset from cancelling
    offsets = centred * np.sqrt(priors)[:, None]  # (k, d): between = offsets.T @ offsets
    shrinkage = system = None
    if method == "mean_diff":
        coef, ovr, solved_offsets = centred, means - rest, offsets
        intercept = -np.einsum("kd,kd->k", coef, 0.5 * centred + cm.pooled.mean)
    elif method == "lda":
        rhs = np.vstack([centred, means - rest, offsets]).T
        if like is None or like["factor"] is None:
            solved, system = _solve_shrunk(cm, offsets, rhs, reg, dim)
        else:
            if like["count"] != n or like["offsets"].shape[1] != d:
                raise ProbingInputError(f"like= must come from the same rows: {like['count']} rows in "
                                        f"{like['offsets'].shape[1]} dimensions, not {n} in {d}.")
            solved, system = _solve_relabelled(like, offsets, rhs), like
        shrinkage, solved, k = system["shrinkage"], solved.T, len(counts)  # solved: (3k, d)
        coef, ovr, solved_offsets = solved[:k], solved[k:2 * k], solved[2 * k:]
        intercept = (-np.einsum("kd,kd->k", coef, 0.5 * centred + cm.pooled.mean)
                     + np.log(np.clip(priors, 1e-12, None)))
    else:
        raise ProbingInputError(f"Unknown closed-form method {method!r}; expected 'lda' or 'mean_diff'.")
    intercept[counts == 0] = -np.inf
    return {"coef": coef, "intercept": intercept, "ovr": ovr, "shrinkage": shrinkage, "system": system,
            "subspace": _discriminant_subspace(solved_offsets, offsets, len(counts), d)}


def _discriminant_subspace(solved_offsets: np.ndarray, offsets: np.ndarray, k: int, d: int) -> np.ndarray:
    """Orthonormal basis of span(S^-1 offsets), ordered by the generalised eigenvalues of (B, S)."""
    rank = min(k - 1, d)
    small = offsets @ solved_offsets.T  # (k, k) = O^T S^-1 O, symmetric
    values, vectors = np.linalg.eigh((small + small.T) / 2)
    order = np.argsort(values)[::-1][:rank]
    basis = vectors[:, order].T @ solved_offsets  # (rank, d)
    q, r = np.linalg.qr(basis.T)
    return (q * np.sign(np.where(np.diag(r) == 0, 1, np.diag(r)))).T
