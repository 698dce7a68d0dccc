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
memorising, not reading out the concept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from probing.budget import chunk_rows, memory_budget
from probing.data import ActivationSet, is_categorical
from probing.errors import ProbingInputError
from probing.probes.estimator import METHODS, LinearProbe, check_dimension
from probing.provenance import package_versions
from probing.stats import moment_engine

TYPE_COLUMNS = ("type", "word", "token", "text")


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
        Each sample projected onto the layer's direction(s).
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
    warnings: tuple = ()
    versions: dict = field(default_factory=dict)

    @property
    def selectivity(self) -> np.ndarray | None:
        """Accuracy minus control accuracy, per layer."""
        return None if self.control_accuracy is None else self.accuracy - self.control_accuracy

    @property
    def best_layer(self) -> int:
        """Index of the layer with the highest accuracy."""
        return int(np.argmax(self.accuracy))

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

    def roc(self, layer: int) -> tuple[pd.DataFrame, float]:
        """Held-out ROC curve (binary labels only): frame ``fpr``, ``tpr``, ``threshold``, and the AUC."""
        if len(self.classes) != 2:
            raise ProbingInputError(f"A ROC curve needs two classes; this label has {len(self.classes)}.")
        score = self.decision[layer][:, 1] - self.decision[layer][:, 0]
        fpr, tpr, threshold = roc_curve(self.y, score)
        return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": threshold}), float(roc_auc_score(self.y, score))

    def projections(self, layer: int, direction: int = 0) -> pd.DataFrame:
        """Each sample's projection onto the layer's probe direction (for multi-class: class ``direction``'s one-vs-rest direction)."""
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


def control_labels(codes: np.ndarray, n_classes: int, meta: pd.DataFrame | None = None, seed: int = 0,
                   type_column: str | None = None) -> tuple[np.ndarray, str]:
    """Control-task labels (Hewitt & Liang): random labels tied to input identity.

    When ``meta`` has a column naming each input's type (``type_column``, or the first of
    ``type``, ``word``, ``token``, ``text``) in which some types repeat, every type gets
    one class drawn from the empirical class distribution, so a probe can only succeed
    by memorising types. Otherwise the labels are shuffled (same class balance).

    Parameters
    ----------
    codes : ndarray of int, shape (n_samples,)
    n_classes : int
    meta : DataFrame, optional
    seed : int
    type_column : str, optional

    Returns
    -------
    codes : ndarray of int, shape (n_samples,)
    kind : str
        Description of the control used.
    """
    rng = np.random.default_rng(seed)
    column = type_column or next((c for c in TYPE_COLUMNS if meta is not None and c in meta.columns), None)
    if column is not None:
        types, inverse = np.unique(meta[column].astype(str).to_numpy(), return_inverse=True)
        if len(types) < len(codes):
            prior = np.bincount(codes, minlength=n_classes) / len(codes)
            return rng.choice(n_classes, size=len(types), p=prior)[inverse], f"random class per {column!r} type"
    return rng.permutation(codes), "shuffled labels"


def probe_layers(aset, y, cv: int = 5, method: str = "lda", control: bool = True, seed: int = 0,
                 progress: Callable[[float, str], None] | None = None, permutations: int = 0, mdl: bool = False,
                 reg="auto", type_column: str | None = None, backend: str = "local") -> ProbeSweep:
    """Cross-validated linear probes at every layer.

    Parameters
    ----------
    aset : ActivationSet or array_like of shape (n_samples, n_layers, d) or (n_samples, d)
    y : str or array_like of shape (n_samples,)
        A label name in ``aset.labels`` or the labels themselves (categorical).
    cv : int
        Number of stratified folds (seeded by ``seed``).
    method : {"lda", "logistic", "mean_diff"}
    control : bool
        Also probe a control task (see :func:`control_labels`) to report selectivity.
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
        Column of ``aset.meta`` naming input types for the control task.
    backend : {"local", "dask"}
        Engine of the moments pass (see :func:`probing.stats.moment_engine`): ``"dask"``
        spreads the row chunks over the Dask cluster of :func:`probing.distributed.get_client`.
        Results equal the local ones to float64 rounding. The held-out pass and the
        ``"logistic"`` method stay local.

    Returns
    -------
    ProbeSweep
    """
    aset = aset if isinstance(aset, ActivationSet) else ActivationSet(aset)
    moment_engine(backend)  # unknown backends fail before any work
    report = progress or (lambda fraction, message: None)
    classes, codes = _check_labels(aset.label(y), cv, aset.n_samples)
    if method not in METHODS:
        raise ProbingInputError(f"Unknown probe method {method!r}; choose one of {METHODS}.")
    if permutations < 0:
        raise ProbingInputError(f"permutations must be >= 0; got {permutations}.")
    n, n_layers, d = aset.shape
    k = len(classes)
    if method == "lda":
        check_dimension(d)
    folds = np.empty(n, dtype=np.int64)
    for fold, (_, test) in enumerate(StratifiedKFold(cv, shuffle=True, random_state=seed).split(np.zeros(n), codes)):
        folds[test] = fold
    rng = np.random.default_rng(seed)
    codings = [codes]
    control_kind = None
    if control:
        control_codes, control_kind = control_labels(codes, k, aset.meta, seed, type_column)
        codings.append(control_codes)
    codings += [rng.permutation(codes) for _ in range(permutations)]
    notes = _warnings(codes, k, d, cv)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)

    accuracy = np.zeros((len(codings), n_layers, cv))
    correct = np.zeros(n_layers)
    directions = np.zeros((n_layers, d) if k == 2 else (n_layers, k, d))
    decision = np.zeros((n_layers, n, k), dtype=np.float32)
    projection = np.zeros((n_layers, n) if k == 2 else (n_layers, n, k), dtype=np.float32)
    per_block = max(1, memory_budget() // (2 * 8 * cv * d * d)) if method != "logistic" else 1
    blocks = [list(range(a, min(a + per_block, n_layers))) for a in range(0, n_layers, per_block)]
    for b, block in enumerate(blocks):
        span = (b / len(blocks), (b + 1) / len(blocks))
        probes, full = _fit_block(aset, block, codings, k, folds, cv, method, reg, report, span, backend)
        scores = _held_out_scores(aset.acts, block, probes, full, folds, k, report, span)
        for li, layer in enumerate(block):
            held_out, proj = scores[li]
            for c, coding in enumerate(codings):
                hits = held_out[c].argmax(axis=1) == coding
                accuracy[c, layer] = np.bincount(folds, weights=hits, minlength=cv) / np.bincount(folds, minlength=cv)
                if c == 0:
                    correct[layer] = hits.sum()
            decision[layer] = held_out[0]
            projection[layer] = proj
            directions[layer] = full[li].direction_
    low, high = _wilson(correct, n)
    mdl_frame = None
    if mdl:
        from probing.probes.mdl import mdl_layers

        report(0.99, "MDL codelengths")
        mdl_frame = mdl_layers(aset, codes, k, seed=seed, reg=reg if method == "lda" else "auto")
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
        fingerprint=aset.fingerprint, control_kind=control_kind, warnings=tuple(notes),
        versions=package_versions())


def _check_labels(labels: np.ndarray, cv: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ProbingInputError(f"cv must be an integer >= 2 folds; got {cv!r}.")
    if not is_categorical(labels):
        raise ProbingInputError("The label looks continuous (many distinct non-integer values); a probe needs "
                                "classes. Bin it first, e.g. y = values > np.median(values).")
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ProbingInputError(f"The label has only one class ({classes.tolist()}); a probe needs at least two. "
                                "Pick another label or add samples of the other classes.")
    counts = np.bincount(codes)
    if counts.min() < cv:
        rare = {str(c): int(m) for c, m in zip(classes, counts) if m < cv}
        raise ProbingInputError(f"Classes {rare} have fewer members than the {cv} folds, so some folds would "
                                f"miss them. Use cv <= {counts.min()} (at least 2) or drop/merge the rare classes.")
    return classes, codes


def _warnings(codes: np.ndarray, k: int, d: int, cv: int) -> list[str]:
    smallest = int(np.bincount(codes, minlength=k).min() * (cv - 1) / cv)
    if smallest < d:
        return [f"Only about {smallest} training samples in the smallest class but d={d} dimensions: a linear probe "
                "can separate almost any labels here (memorise), so compare with the control accuracy, reduce d "
                "(PCA) or add samples."]
    return []


def _fit_block(aset, block, codings, k, folds, cv, method, reg, report, span, backend):
    """Per layer in ``block``: the fold probes [coding][fold] and the probe on all samples."""
    if method == "logistic":
        return _fit_logistic(aset, block, codings, k, folds, cv, reg, report, span)
    moments = moment_engine(backend)(aset.acts, [(c, k) for c in codings], folds, cv, block,
                            progress=lambda f, m: report(span[0] + 0.45 * f * (span[1] - span[0]), m))
    classes = np.arange(k)
    probes, full = [], []
    for li, per_fold in enumerate(moments):
        totals = [sum((fold[c] for fold in per_fold[1:]), per_fold[0][c]) for c in range(len(codings))]
        probes.append([[LinearProbe.from_moments(totals[c] - per_fold[f][c], classes, method, reg) for f in range(cv)]
                       for c in range(len(codings))])
        full.append(LinearProbe.from_moments(totals[0], classes, method, reg))
        report(span[0] + (0.45 + 0.1 * (li + 1) / len(block)) * (span[1] - span[0]), f"solved {aset.layers[block[li]]}")
    return probes, full


def _fit_logistic(aset, block, codings, k, folds, cv, reg, report, span):
    probes, full = [], []
    for layer in block:
        X = np.asarray(aset.layer(layer), dtype=np.float64)
        per_coding = []
        for c, coding in enumerate(codings):
            model = LinearProbe("logistic", reg, warm_start=True)
            per_coding.append([_clone_fit(model, X[folds != f], coding[folds != f]) for f in range(cv)])
            report(span[0] + 0.55 * (c + 1) / len(codings) * (span[1] - span[0]), f"logistic {aset.layers[layer]}")
        probes.append(per_coding)
        full.append(LinearProbe("logistic", reg).fit(X, codings[0]))
    return probes, full


def _clone_fit(model: LinearProbe, X, y) -> LinearProbe:
    """Fit the shared warm-started model and return a snapshot of its solution."""
    model.fit(X, y)
    snapshot = LinearProbe("logistic", model.reg)
    snapshot.classes_, snapshot.coef_, snapshot.intercept_ = model.classes_, model.coef_, model.intercept_
    return snapshot


def _held_out_scores(acts, block, probes, full, folds, k, report, span):
    """Second pass: per layer, held-out class scores [coding] (n, k) and projections onto the full directions."""
    n, _, d = acts.shape
    n_codings, cv = len(probes[0]), len(probes[0][0])
    weights, offsets = [], []
    for li in range(len(block)):
        W = np.zeros((d, n_codings, cv, k))
        b = np.full((n_codings, cv, k), -np.inf)
        for c in range(n_codings):
            for f in range(cv):
                probe = probes[li][c][f]
                w, off = _scores_over_codes(probe, d, k)
                W[:, c, f], b[c, f] = w, off
        weights.append(W.reshape(d, -1))
        offsets.append(b)
    held_out = [np.zeros((n_codings, n, k)) for _ in block]
    proj = [np.zeros((n,) + ((k,) if k > 2 else ())) for _ in block]
    rows = chunk_rows(len(block) * (d * (acts.dtype.itemsize + 16) + 8 * n_codings * cv * k), minimum=256)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        chunk = np.asarray(acts[start:stop][:, block, :], dtype=np.float64)
        f = folds[start:stop]
        for li in range(len(block)):
            scores = (chunk[:, li, :] @ weights[li]).reshape(stop - start, n_codings, cv, k) + offsets[li]
            held_out[li][:, start:stop] = scores[np.arange(stop - start), :, f].transpose(1, 0, 2)
            proj[li][start:stop] = chunk[:, li, :] @ full[li].direction_.T
        report(span[0] + (0.55 + 0.45 * stop / n) * (span[1] - span[0]), f"held-out scores {stop:,}/{n:,}")
    return list(zip(held_out, proj))


def _scores_over_codes(probe: LinearProbe, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-score weights (d, k) over all ``k`` class codes; codes the probe never saw get -inf."""
    W, b = probe.class_scores()
    full_W, full_b = np.zeros((d, k)), np.full(k, -np.inf)
    full_W[:, probe.classes_], full_b[probe.classes_] = W, b
    return full_W, full_b


def _wilson(correct: np.ndarray, n: int, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    p = correct / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half
