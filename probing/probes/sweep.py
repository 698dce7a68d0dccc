"""Cross-validated probes at every layer, with a control task and honest statistics.

How a sweep stays cheap: the rows are split into ``cv`` stratified folds, and one pass
over the data computes per-layer, per-fold moments for the real labels, the control
labels and any label permutations at once (:func:`probing.stats.layer_moments`). The
training statistics of fold ``f`` are *total minus fold f*, so each of the ``cv`` probes
is a ``d x d`` solve, not a pass over the data. A second, cheap pass projects every row
onto the probes that did not see it (held-out scores). ``method="logistic"`` fits
scikit-learn's solver per fold instead (warm-started), and shares the second pass.

Selectivity (Hewitt & Liang 2019) is accuracy minus the accuracy of the same probe
family on a *control task*: labels that carry no information about the representation
beyond the identity of each input. A probe that is good at the control task is
memorising, not reading out the concept. The control probes (and permutation probes)
keep the real labels' regularisation -- the same shrinkage and the same ridge -- so both
have the same capacity; that also makes each a low-rank update of the real probe's
factorisation (:func:`probing.probes.closed_form.solve_from_moments`, ``like=``), not a
new ``d x d`` solve. ``ProbeSweep.seconds`` says where the time went.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from probing.budget import memory_budget
from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.probes.controls import control_column, control_labels, sweep_notes
from probing.probes.closed_form import METHODS, check_dimension, solve_from_moments
from probing.provenance import package_versions
from probing.probes.controls import SHUFFLED
from probing.probes.folds import (
    assign_folds,
    check_labels,
    duplicate_rows,
    merge_groups,
    resolve_groups,
)
from probing.probes.scoring import FoldProbe, held_out_scores, roc_curve
from probing.probes.span import span_bases, worth_projecting
from probing.stats import moment_engine, total_moments


@dataclass(frozen=True, eq=False)
class ProbeSweep:
    """Result of :func:`probe_layers`: one cross-validated probe per layer.

    Attributes
    ----------
    layers : tuple of str
    classes : ndarray of shape (n_classes,)
    accuracy, accuracy_std : ndarray of shape (n_layers,)
        Mean and standard deviation of the held-out accuracy over the folds.
    ci_low, ci_high : ndarray of shape (n_layers,)
        95 % Wilson interval of the held-out accuracy over all samples.
    majority_baseline : float
        Accuracy of always predicting the most frequent class.
    control_accuracy : ndarray of shape (n_layers,) or None
        Held-out accuracy of the same probe family on the control task.
    p_value : ndarray of shape (n_layers,) or None
        Permutation p-value (labels shuffled ``permutations`` times).
    mdl : pandas.DataFrame or None
        Per-layer online codelength and compression (see :func:`probing.probes.mdl.mdl_probe`).
    directions : ndarray of shape (n_layers, d) or (n_layers, n_classes, d)
        Unit probe direction(s) fitted on all samples.
    y : ndarray of shape (n_samples,)
        Class index of each sample.
    folds : ndarray of shape (n_samples,)
        Fold of each sample.
    decision : ndarray of shape (n_layers, n_samples, n_classes)
        Held-out class scores (each row scored by the probe that did not see it).
    projection : ndarray of shape (n_layers, n_samples) or (n_layers, n_samples, n_classes)
        Held-out projections: each sample projected onto the unit direction(s) of the probe
        of the fold that did not see it.
    control_y : ndarray of shape (n_samples,) or None
        Control-task class of each sample (drawn independently of the permutations).
    grouping : str
        How the folds were made (which rows were kept together), in words.
    seconds : dict
        Wall seconds per phase of the sweep: ``folds`` (duplicate scan and fold assignment),
        ``moments`` (the pass over the data), ``solves``, ``scoring`` (the held-out pass), ``mdl``.
    """

    layers: tuple
    classes: np.ndarray
    accuracy: np.ndarray
    accuracy_std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    majority_baseline: float
    control_accuracy: np.ndarray | None
    p_value: np.ndarray | None
    mdl: pd.DataFrame | None
    directions: np.ndarray
    y: np.ndarray
    folds: np.ndarray
    decision: np.ndarray
    projection: np.ndarray
    method: str
    reg: object
    cv: int
    seed: int
    fingerprint: str
    control_kind: str | None
    control_y: np.ndarray | None = None
    grouping: str = "stratified folds"
    warnings: tuple = ()
    versions: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    @property
    def selectivity(self) -> np.ndarray | None:
        """Accuracy minus control accuracy, per layer."""
        return None if self.control_accuracy is None else self.accuracy - self.control_accuracy

    @property
    def informative_control(self) -> bool:
        """Whether the control task measures memorisation (random classes per input type), not shuffled labels."""
        return self.control_accuracy is not None and self.control_kind != SHUFFLED

    def shown_frame(self) -> pd.DataFrame:
        """:meth:`to_frame` without the control columns when the control cannot measure memorisation."""
        frame = self.to_frame()
        if self.informative_control:
            return frame
        return frame.drop(columns=["control_accuracy", "selectivity"], errors="ignore")

    @property
    def best_layer(self) -> int:
        """Index of the layer with the highest accuracy (the earliest of equals)."""
        return int(np.argmax(self.accuracy))

    @property
    def near_best(self) -> np.ndarray:
        """Indices of the layers within noise of the best: accuracy inside its 95 % Wilson interval (best included)."""
        return np.flatnonzero(self.accuracy >= self.ci_low[self.best_layer])

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: accuracy with spread and interval, baselines, selectivity, p-value, MDL."""
        frame = pd.DataFrame({"layer": list(self.layers), "accuracy": self.accuracy,
                              "accuracy_std": self.accuracy_std, "ci_low": self.ci_low, "ci_high": self.ci_high,
                              "majority_baseline": self.majority_baseline})
        if self.control_accuracy is not None:
            frame["control_accuracy"] = self.control_accuracy
            frame["selectivity"] = self.selectivity
        if self.p_value is not None:
            frame["p_value"] = self.p_value
        if self.mdl is not None:
            frame = pd.concat([frame, self.mdl.drop(columns="layer").reset_index(drop=True)], axis=1)
        return frame

    def predictions(self, layer: int) -> np.ndarray:
        """Held-out predicted class labels at ``layer``, shape (n_samples,)."""
        return self.classes[self.decision[layer].argmax(axis=1)]

    def confusion_matrix(self, layer: int) -> pd.DataFrame:
        """Long-form held-out confusion matrix: columns ``true``, ``predicted``, ``count``, ``fraction`` (of the true class)."""
        k = len(self.classes)
        counts = np.zeros((k, k), dtype=np.int64)
        np.add.at(counts, (self.y, self.decision[layer].argmax(axis=1)), 1)
        true, pred = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        fraction = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        return pd.DataFrame({"true": self.classes[true.ravel()].astype(str), "predicted": self.classes[pred.ravel()].astype(str),
                             "count": counts.ravel(), "fraction": fraction.ravel()})

    def roc(self, layer: int, max_points: int | None = None) -> tuple[pd.DataFrame, float]:
        """Held-out ROC curve (binary labels only): frame ``fpr``, ``tpr``, ``threshold``, and the AUC.

        ``max_points`` thins the curve for drawing to points evenly spaced along its length
        (ends kept); the AUC always comes from the full curve.
        """
        if len(self.classes) != 2:
            raise ProbingInputError(f"A ROC curve needs two classes; this label has {len(self.classes)}.")
        score = self.decision[layer][:, 1] - self.decision[layer][:, 0]
        fpr, tpr, threshold, auc = roc_curve(self.y, score)
        curve = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": threshold})
        if max_points is not None and len(curve) > max_points:
            length = np.r_[0.0, np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))]
            keep = np.unique(np.searchsorted(length, np.linspace(0.0, length[-1], max_points - 1)).clip(0, len(fpr) - 1))
            curve = curve.iloc[np.union1d(keep, [0, len(fpr) - 1])].reset_index(drop=True)
        return curve, auc

    def projections(self, layer: int, direction: int = 0) -> pd.DataFrame:
        """Each sample's held-out projection onto the probe direction of the fold that did not see it.

        For several classes: onto class ``direction``'s one-vs-rest direction. Columns
        ``projection``, ``class``, ``fold``.
        """
        values = self.projection[layer]
        values = values if values.ndim == 1 else values[:, direction]
        return pd.DataFrame({"projection": values, "class": self.classes[self.y].astype(str), "fold": self.folds})

    def plot(self, height: int = 320):
        """The Probes page's accuracy-by-layer chart (see :func:`probing.charts.probe_sweep_chart`)."""
        from probing import charts

        return charts.probe_sweep_chart(self, height=height)

    def _repr_html_(self) -> str:
        from probing import charts

        best = self.best_layer
        numbers = {"layers": len(self.layers), "classes": len(self.classes), "best layer": self.layers[best],
                   "accuracy at the best layer": self.accuracy[best], "majority baseline": self.majority_baseline}
        if self.control_accuracy is not None:
            numbers["selectivity at the best layer"] = self.selectivity[best]
        return charts.html_summary(f"ProbeSweep ({self.method}, {self.cv} folds)", numbers, self.to_frame())

    def projection_histogram(self, layer: int, direction: int = 0, bins: int = 60) -> pd.DataFrame:
        """Counts of the held-out projections per class in ``bins`` shared bins (a chart of any n stays small).

        Columns ``class``, ``bin_start``, ``bin_end``, ``count``: one row per class and bin.
        """
        frame = self.projections(layer, direction)
        edges = np.histogram_bin_edges(frame["projection"], bins=bins)
        rows = [pd.DataFrame({"class": name, "bin_start": edges[:-1], "bin_end": edges[1:],
                              "count": np.histogram(group["projection"], bins=edges)[0]})
                for name, group in frame.groupby("class", sort=False)]
        return pd.concat(rows, ignore_index=True)


def probe_layers(aset, y, cv: int = 5, method: str = "lda", control: bool = True, seed: int = 0,
                 progress: Callable[[float, str], None] | None = None, permutations: int = 0, mdl: bool = False,
                 reg="auto", type_column: str | None = None, backend: str = "local", groups="auto") -> ProbeSweep:
    """Cross-validated linear probes at every layer.

    Parameters
    ----------
    aset : ActivationSet or array_like of shape (n_samples, n_layers, d) or (n_samples, d)
    y : str or array_like of shape (n_samples,)
        A label name in ``aset.labels`` or the labels themselves (categorical).
    cv : int
        Number of stratified folds (seeded by ``seed``); grouped rows stay in one fold (see ``groups``).
    method : {"lda", "logistic", "mean_diff"}
    control : bool
        Also probe a control task (see :func:`control_labels`) to report selectivity. Control
        and permutation probes use the real labels' shrinkage and ridge on each fold.
    seed : int
        Seeds the folds, the control labels and the permutations.
    progress : callable(fraction, message), optional
    permutations : int
        Number of label permutations for a per-layer p-value (0: none).
    mdl : bool
        Also compute the online-code MDL per layer (always with the LDA probe, whose
        posteriors are calibrated enough to be a code).
    reg : "auto" or float
        See :class:`probing.probes.LinearProbe`.
    type_column : str, optional
        Column of ``aset.meta`` (or a label) naming input types for the control task.
    backend : {"local", "dask"}
        Engine of the moments pass (see :func:`probing.stats.moment_engine`): ``"dask"``
        spreads the row chunks over the Dask cluster of :func:`probing.distributed.get_client`.
        Results equal the local ones to float64 rounding. The held-out pass and the
        ``"logistic"`` method stay local.
    groups : "auto", str, array_like of shape (n_samples,) or None
        Rows that must share a fold: a label or ``aset.meta`` column name, or the groups
        themselves. ``"auto"`` groups by ``pair_id`` when the dataset has one. Exact
        duplicate rows (identical at every layer) are always kept together, with a warning.
        Grouped folds come from scikit-learn's ``StratifiedGroupKFold``.

    Returns
    -------
    ProbeSweep
    """
    aset = aset if isinstance(aset, ActivationSet) else ActivationSet(aset)
    moment_engine(backend)  # unknown backends fail before any work
    report = progress or (lambda fraction, message: None)
    classes, codes = check_labels(aset.label(y), cv, aset.n_samples)
    if method not in METHODS:
        raise ProbingInputError(f"Unknown probe method {method!r}; choose one of {METHODS}.")
    if permutations < 0:
        raise ProbingInputError(f"permutations must be >= 0; got {permutations}.")
    n, n_layers, d = aset.shape
    k = len(classes)
    original, bases, dim = aset, None, None
    if method != "logistic" and worth_projecting(n, d):
        report(0.0, "span of the rows")
        aset, bases = span_bases(original)
        dim = d
    if method == "lda":
        check_dimension(aset.d)
    group_codes, group_name = resolve_groups(groups, original.labels, original.meta, n)
    watch = Stopwatch()
    with watch("folds"):
        copies = duplicate_rows(original.acts, seed)
        folds = assign_folds(codes, cv, seed, merge_groups(group_codes, copies))
    grouping = _grouping(group_name, n - (copies.max() + 1))
    control_stream, permutation_stream = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(permutation_stream)
    codings = [codes]
    control_kind = control_codes = None
    if control:
        types = original.meta.assign(**original.labels)
        if type_column is not None and type_column not in types.columns:
            raise ProbingInputError(f"Unknown control type column {type_column!r}; available labels and meta "
                                    f"columns: {sorted(map(str, types.columns)) or 'none'}.")
        control_codes, control_kind = control_labels(codes, k, types, control_stream, type_column)
        type_column = control_column(types, type_column)
        codings.append(control_codes)
    codings += [rng.permutation(codes) for _ in range(permutations)]
    notes = sweep_notes(n, d, cv, n - (copies.max() + 1), type_column if control else None, group_name)
    if bases is not None:
        notes.append(f"{n} rows in d={d} dimensions: the probes were fitted in the {aset.d}-dimensional span of the "
                     "centred rows, where every closed-form probe of these rows lives (same directions and scores, "
                     f"{aset.d}x{aset.d} instead of {d}x{d} matrices).")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)

    accuracy = np.zeros((len(codings), n_layers, cv))
    correct = np.zeros(n_layers)
    directions = np.zeros((n_layers, d) if k == 2 else (n_layers, k, d))
    decision = np.zeros((n_layers, n, k), dtype=np.float32)
    projection = np.zeros((n_layers, n) if k == 2 else (n_layers, n, k), dtype=np.float32)
    per_block = max(1, memory_budget() // (2 * 8 * cv * aset.d**2)) if method != "logistic" else 1
    blocks = [list(range(a, min(a + per_block, n_layers))) for a in range(0, n_layers, per_block)]
    for b, block in enumerate(blocks):
        span = (b / len(blocks), (b + 1) / len(blocks))
        probes, full, centres = _fit_block(aset, block, codings, k, folds, cv, method, reg, report, span, backend,
                                           dim, watch)
        with watch("scoring"):
            scores = held_out_scores(aset.acts, block, probes, centres, folds, k, report, span)
        for li, layer in enumerate(block):
            held_out, proj = scores[li]
            for c, coding in enumerate(codings):
                hits = held_out[c].argmax(axis=1) == coding
                accuracy[c, layer] = np.bincount(folds, weights=hits, minlength=cv) / np.bincount(folds, minlength=cv)
                if c == 0:
                    correct[layer] = hits.sum()
            decision[layer] = held_out[0]
            projection[layer] = proj
            directions[layer] = full[li].direction if bases is None else full[li].direction @ bases[layer].T
    low, high = _wilson(correct, n)
    mdl_frame = None
    if mdl:
        from probing.probes.mdl import mdl_layers

        report(0.99, "MDL codelengths")
        with watch("mdl"):
            mdl_frame = mdl_layers(aset, codes, k, seed=seed, reg=reg if method == "lda" else "auto", dim=dim)
    report(1.0, "done")
    mean = accuracy.mean(axis=2)
    p_value = None
    if permutations:
        p_value = (1 + (mean[-permutations:] >= mean[0]).sum(axis=0)) / (1 + permutations)
    return ProbeSweep(
        layers=tuple(aset.layers), classes=classes, accuracy=mean[0], accuracy_std=accuracy[0].std(axis=1),
        ci_low=low, ci_high=high, majority_baseline=float(np.bincount(codes).max() / n),
        control_accuracy=mean[1] if control else None, p_value=p_value, mdl=mdl_frame, directions=directions,
        y=codes, folds=folds, decision=decision, projection=projection, method=method, reg=reg, cv=cv, seed=seed,
        fingerprint=original.fingerprint, control_kind=control_kind, control_y=control_codes, grouping=grouping,
        warnings=tuple(notes), versions=package_versions(), seconds=dict(watch))


class Stopwatch(dict):
    """Wall seconds per named phase: ``with watch("solves"): ...`` adds to ``watch["solves"]``."""

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self[phase] = self.get(phase, 0.0) + time.perf_counter() - start


def _grouping(group_name: str | None, n_copies: int) -> str:
    kept = ([f"each {group_name!r} group" if group_name != "array" else "each group given"] if group_name else []) + (
        [f"the {n_copies} exact duplicate rows with their copies"] if n_copies else [])
    return "stratified folds" + (f", keeping {' and '.join(kept)} in one fold" if kept else "")


def _fit_block(aset, block, codings, k, folds, cv, method, reg, report, span, backend, dim, watch):
    """Per layer in ``block``: the fold probes [coding][fold], the probe on all samples and the mean row."""
    if method == "logistic":
        with watch("solves"):
            return _fit_logistic(aset, block, codings, k, folds, cv, reg, report, span)
    with watch("moments"):
        moments = moment_engine(backend)(aset.acts, [(c, k) for c in codings], folds, cv, block,
                                         progress=lambda f, m: report(span[0] + 0.45 * f * (span[1] - span[0]), m))
    with watch("solves"):
        return _solve_block(aset, block, moments, codings, k, cv, method, reg, report, span, dim)


def _solve_block(aset, block, moments, codings, k, cv, method, reg, report, span, dim):
    probes, full, centres = [], [], []
    for li, per_fold in enumerate(moments):
        totals = total_moments(per_fold)
        centres.append(totals[0].pooled.mean)
        per_coding = [[] for _ in codings]
        for f in range(cv):
            pooled = totals[0].pooled - per_fold[f][0].pooled  # the training rows, shared by every labeling
            real = None  # the real labels' system: other labelings reuse its factorisation and shrinkage
            for c, (total, held) in enumerate(zip(totals, per_fold[f])):
                solution = solve_from_moments(total.merged(held, -1, pooled), method, reg, dim, like=real)
                real = real or solution["system"]
                per_coding[c].append(FoldProbe.from_solution(solution))
        probes.append(per_coding)
        full.append(FoldProbe.from_solution(solve_from_moments(totals[0], method, reg, dim)))
        report(span[0] + (0.45 + 0.1 * (li + 1) / len(block)) * (span[1] - span[0]), f"solved {aset.layers[block[li]]}")
    return probes, full, centres


def _fit_logistic(aset, block, codings, k, folds, cv, reg, report, span):
    from probing.probes.estimator import LinearProbe  # scikit-learn: imported only for this method

    probes, full, centres = [], [], []
    for layer in block:
        X = np.asarray(aset.layer(layer), dtype=np.float64)
        centres.append(X.mean(axis=0))
        per_coding = []
        for c, coding in enumerate(codings):
            model = LinearProbe("logistic", reg, warm_start=True)  # each fold starts from the previous solution
            per_coding.append([FoldProbe.from_probe(model.fit(X[folds != f], coding[folds != f]), k)
                               for f in range(cv)])
            report(span[0] + 0.55 * (c + 1) / len(codings) * (span[1] - span[0]), f"logistic {aset.layers[layer]}")
        probes.append(per_coding)
        full.append(FoldProbe.from_probe(LinearProbe("logistic", reg).fit(X, codings[0]), k))
    return probes, full, centres


def _wilson(correct: np.ndarray, n: int, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    p = correct / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half
