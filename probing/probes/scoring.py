"""The held-out pass of a probe sweep: every row scored by the probes of the fold that did not see it."""

from __future__ import annotations

import numpy as np

from probing.budget import chunk_rows
from probing.probes.estimator import LinearProbe
from probing.stats import work_dtype


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
            parts = [_scores_over_codes(probes[li][c][f], d, k) for c in range(n_codings)]
            W = np.hstack([w for w, _ in parts] + [_directions_over_codes(probes[li][0][f], d, k)])
            per_fold_w.append(W.astype(work))
            per_fold_b.append(np.concatenate([b for _, b in parts] + [np.zeros(m)]) + centres[li] @ W)
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


def _directions_over_codes(probe: LinearProbe, d: int, k: int) -> np.ndarray:
    """Unit direction(s) of a fold's probe, shape (d, 1) for two classes, else (d, k) with zeros for unseen codes."""
    if k == 2:
        return probe.direction_.reshape(d, 1)
    padded = np.zeros((d, k))
    padded[:, probe.classes_] = probe.direction_.T
    return padded


def _scores_over_codes(probe: LinearProbe, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-score weights (d, k) over all ``k`` class codes; codes the probe never saw get -inf."""
    W, b = probe.class_scores()
    full_W, full_b = np.zeros((d, k)), np.full(k, -np.inf)
    full_W[:, probe.classes_], full_b[probe.classes_] = W, b
    return full_W, full_b
