"""The held-out pass of a probe sweep: every row scored by the probes of the fold that did not see it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probing.budget import chunk_rows
from probing.probes.closed_form import class_scores, readout
from probing.stats import work_dtype


@dataclass(frozen=True, eq=False)
class FoldProbe:
    """What the held-out pass needs of one probe: class scores ``x @ weights + offsets`` and unit direction(s).

    Attributes
    ----------
    weights : ndarray of shape (d, n_classes)
    offsets : ndarray of shape (n_classes,)
        ``-inf`` for a class the probe never saw.
    direction : ndarray of shape (d,) for two classes, else (n_classes, d)
    """

    weights: np.ndarray
    offsets: np.ndarray
    direction: np.ndarray

    @classmethod
    def from_solution(cls, solution: dict) -> "FoldProbe":
        """From :func:`probing.probes.closed_form.solve_from_moments` (as ``LinearProbe`` would score)."""
        coef, intercept, direction = readout(solution)
        return cls(*class_scores(coef, intercept), direction)

    @classmethod
    def from_probe(cls, probe, k: int) -> "FoldProbe":
        """From a fitted :class:`~probing.probes.estimator.LinearProbe` over class codes, padded to all ``k`` codes."""
        W, b = probe.class_scores()
        weights, offsets = np.zeros((W.shape[0], k)), np.full(k, -np.inf)
        weights[:, probe.classes_], offsets[probe.classes_] = W, b
        if k == 2:
            return cls(weights, offsets, probe.direction_.copy())
        direction = np.zeros((k, W.shape[0]))
        direction[probe.classes_] = probe.direction_
        return cls(weights, offsets, direction)


def held_out_scores(acts, block, probes, centres, folds, k, report, span):
    """The sweep's second pass: per layer, held-out class scores [coding] (n, k) and held-out projections.

    Both come from the probe of the fold that did not see the row: a projection onto the
    direction fitted on all rows would show training fit (two clean bumps even on noise).
    Each chunk's rows are regrouped by fold and centred (in place, in the data's float type)
    on the layer's mean, so each fold's rows meet only their own probe in one product.
    """
    n, _, d = acts.shape
    n_codings, cv = len(probes[0]), len(probes[0][0])
    m = 1 if k == 2 else k  # directions per probe
    work = work_dtype(acts.dtype)
    weights, offsets = [], []  # per layer, per fold: (d, n_codings * k + m) and its offsets for centred rows
    for li in range(len(block)):
        per_fold_w, per_fold_b = [], []
        for f in range(cv):
            fold = [probes[li][c][f] for c in range(n_codings)]
            directions = fold[0].direction.reshape(m, d).T  # (d, m)
            W = np.hstack([p.weights for p in fold] + [directions])
            per_fold_w.append(W.astype(work))
            per_fold_b.append(np.concatenate([p.offsets for p in fold] + [np.zeros(m)]) + centres[li] @ W)
        weights.append(per_fold_w)
        offsets.append(per_fold_b)
    held_out = [np.zeros((n_codings, n, k)) for _ in block]
    proj = [np.zeros((n, m)) for _ in block]
    rows = chunk_rows(d * (acts.dtype.itemsize + 2 * work.itemsize) + 8 * (n_codings * k + m), minimum=256)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        order = np.argsort(folds[start:stop], kind="stable")
        runs = np.searchsorted(folds[start:stop][order], np.arange(cv + 1))
        raw = np.asarray(acts[start:stop])
        for li, layer in enumerate(block):
            X = np.asarray(raw[order, layer, :], dtype=work)  # our own copy, grouped by fold
            X -= centres[li].astype(work)
            for f in np.flatnonzero(np.diff(runs)):
                a, b = runs[f], runs[f + 1]
                scores = (X[a:b] @ weights[li][f]).astype(np.float64) + offsets[li][f]
                rows_of_fold = start + order[a:b]
                held_out[li][:, rows_of_fold] = scores[:, :n_codings * k].reshape(b - a, n_codings, k).transpose(1, 0, 2)
                proj[li][rows_of_fold] = scores[:, n_codings * k:]
        report(span[0] + (0.55 + 0.45 * stop / n) * (span[1] - span[0]), f"held-out scores {stop:,}/{n:,}")
    return [(h, p[:, 0] if k == 2 else p) for h, p in zip(held_out, proj)]


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """ROC curve of binary labels ``y`` (0/1) ranked by ``score``, and its area.

    One point per distinct score (scikit-learn's ``roc_curve(..., drop_intermediate=False)``):
    false and true positive rates of "positive when the score is at least the threshold",
    starting at ``(0, 0)`` with threshold ``inf``; the area is the trapezoid rule over them,
    which is ``roc_auc_score``.

    Returns
    -------
    fpr, tpr, thresholds : ndarray of shape (n_points,)
    auc : float
    """
    order = np.argsort(-score, kind="mergesort")
    ranked, hits = score[order], np.asarray(y)[order] == 1
    ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last row of each distinct score
    true_pos = np.cumsum(hits)[ends]
    false_pos = ends + 1 - true_pos
    fpr, tpr = np.r_[0, false_pos] / max(false_pos[-1], 1), np.r_[0, true_pos] / max(true_pos[-1], 1)
    return fpr, tpr, np.r_[np.inf, ranked[ends]], float(np.trapezoid(tpr, fpr))
