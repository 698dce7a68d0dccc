"""Steering vectors: estimate a direction, add it to activations, measure what it does.

A probe that finds a direction shows correlation; adding the direction and watching a
readout move shows the representation *uses* it. Vectors come from class moments
(mean difference), from a probe, or from paired differences (representation
engineering); :func:`steering_sweep` runs the real model with the vector added inside
the forward pass and measures the dose-response; :func:`generate` (from
:mod:`probing.generation`) shows what a language model writes with the vector added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from probing.data import ActivationSet, as_2d_float
from probing.errors import ProbingInputError
from probing.generation import generate, generation_sweep  # noqa: F401  (also importable from here)
from probing.stats import class_moments, layer_class_moments

METHODS = ("mean_diff", "probe", "pca_pairs")


def binary_classes(y, positive=None) -> tuple:
    """The (negative, positive) classes of a binary label; ``positive`` defaults to the larger class value."""
    classes = np.unique(np.asarray(y))
    if len(classes) != 2:
        raise ProbingInputError(
            f"Steering needs a binary label with exactly 2 classes; got {len(classes)} ({classes[:5].tolist()}). "
            "Pick a binary label or map the classes to two groups."
        )
    if positive is None:
        return classes[0], classes[1]
    if positive not in classes:
        raise ProbingInputError(f"positive={positive!r} is not one of the label's classes {classes.tolist()}.")
    return (classes[0] if classes[1] == positive else classes[1]), positive


def _layer_matrix(X, layer) -> np.ndarray:
    if isinstance(X, ActivationSet):
        if layer is None:
            raise ProbingInputError("Pass layer=... to take a steering vector from an ActivationSet.")
        return X.layer(layer)
    return X


def steering_vector(X, y, method: str = "mean_diff", layer=None, positive=None, pairs=None, seed: int = 0) -> np.ndarray:
    """A steering vector that moves the negative class towards the positive one.

    Parameters
    ----------
    X : array_like of shape (n_samples, d) or ActivationSet
        Activations; with an ActivationSet, ``layer`` picks the layer and ``y`` may be a label name.
    y : array_like of shape (n_samples,) or str
        Binary labels.
    method : {"mean_diff", "probe", "pca_pairs"}
        ``"mean_diff"``: ``mean(X[y == pos]) - mean(X[y == neg])``, unnormalised, so
        ``alpha = 1`` moves the negative mean onto the positive mean. ``"probe"``: the
        (LDA) probe direction, scaled to the mean difference's length. ``"pca_pairs"``:
        the first (uncentred) principal component of paired differences ``x_pos - x_neg``
        (contrastive pairs), signed and scaled like the mean difference projected on it.
    layer : int or str, optional
        Layer of an ActivationSet.
    positive : label value, optional
        The class to steer towards (default: the larger class value, e.g. 1 or "positive").
    pairs : array_like of shape (n_pairs, 2), optional
        Row indices ``(positive_row, negative_row)`` for ``"pca_pairs"``; by default
        positives and negatives are paired at random (seeded).
    seed : int
        Random seed for the default pairing.

    Returns
    -------
    ndarray of shape (d,)
    """
    if method not in METHODS:
        raise ProbingInputError(f"Unknown steering method {method!r}; choose one of {METHODS}.")
    y = X.label(y) if isinstance(X, ActivationSet) else np.asarray(y)
    negative, positive = binary_classes(y, positive)
    if isinstance(X, ActivationSet) and method == "mean_diff":  # streamed from acts, never a whole layer
        return _class_mean_difference(X, layer, y, positive)
    X = as_2d_float(_layer_matrix(X, layer), "X")
    if len(y) != len(X):
        raise ProbingInputError(f"y has {len(y)} values but X has {len(X)} rows; they must line up.")
    moments = class_moments(X, y, classes=[negative, positive])
    mean_diff = moments[positive].mean - moments[negative].mean
    if method == "mean_diff":
        return mean_diff
    if method == "probe":
        from probing.probes import fit_probe

        direction = fit_probe(X, (y == positive).astype(int), method="lda").direction_
        return direction * np.linalg.norm(mean_diff) * np.sign(direction @ mean_diff or 1.0)
    diffs = _paired_differences(X, y, negative, positive, pairs, seed)
    _, _, vt = np.linalg.svd(diffs, full_matrices=False)  # uncentred: pairs all point the same way
    pc = vt[0]
    pc = pc * np.sign(pc @ mean_diff or 1.0)
    return pc * (diffs.mean(axis=0) @ pc)


def _class_mean_difference(aset: ActivationSet, layer, y, positive) -> np.ndarray:
    """``mean(positive) - mean(negative)`` at ``layer`` in one chunked pass over ``aset.acts``."""
    if layer is None:
        raise ProbingInputError("Pass layer=... to take a steering vector from an ActivationSet.")
    codes = (y == positive).astype(np.int64)  # y holds exactly the two classes (binary_classes checked)
    cm = layer_class_moments(aset.acts, codes, 2, layers=[aset.layer_index(layer)])[0][0]
    return cm.means[1] - cm.means[0]


def _paired_differences(X, y, negative, positive, pairs, seed) -> np.ndarray:
    if pairs is None:
        rng = np.random.default_rng(seed)
        pos_rows = rng.permutation(np.flatnonzero(y == positive))
        neg_rows = rng.permutation(np.flatnonzero(y == negative))
        k = min(len(pos_rows), len(neg_rows))
        pairs = np.column_stack([pos_rows[:k], neg_rows[:k]])
    pairs = np.asarray(pairs, dtype=int)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) < 2:
        raise ProbingInputError(f"pairs must be (n_pairs >= 2, 2) row indices (positive, negative); got shape {pairs.shape}.")
    if pairs.min() < 0 or pairs.max() >= len(X):
        raise ProbingInputError(f"pairs index rows outside 0..{len(X) - 1}.")
    return X[pairs[:, 0]] - X[pairs[:, 1]]


def _check_vector(vector, d: int) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (d,):
        raise ProbingInputError(f"The steering vector must have shape ({d},) to match the activations; got {vector.shape}.")
    if not np.isfinite(vector).all():
        raise ProbingInputError("The steering vector contains NaN/Inf.")
    return vector


def apply_steering(X, vector, alpha: float = 1.0, layer=None) -> np.ndarray:
    """``X + alpha * vector`` for every row (activations of one layer, or ``layer`` of an ActivationSet)."""
    X = as_2d_float(_layer_matrix(X, layer), "X", min_samples=1)
    return X + alpha * _check_vector(vector, X.shape[1])


def project_out(X, direction, layer=None) -> np.ndarray:
    """Remove the component along ``direction`` (normalised) from every row: ``X - (X u) u^T``."""
    X = as_2d_float(_layer_matrix(X, layer), "X", min_samples=1)
    u = _check_vector(direction, X.shape[1])
    norm = np.linalg.norm(u)
    if norm == 0:
        raise ProbingInputError("Cannot project out a zero direction.")
    u = u / norm
    return X - np.outer(X @ u, u)


def readout_scores(readout, X: np.ndarray) -> np.ndarray:
    """Scores of a readout on rows of ``X``: a fitted probe's ``decision_function`` or any callable."""
    if hasattr(readout, "decision_function"):
        scores = readout.decision_function(X)
    elif callable(readout):
        scores = readout(X)
    else:
        raise ProbingInputError("readout must be a fitted probe (with decision_function) or a callable X -> scores.")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ProbingInputError(f"A steering readout must give one score per row (binary probe); got shape {scores.shape}.")
    return scores


@dataclass(frozen=True)
class SteeringSweep:
    """Dose-response of a readout to ``alpha``.

    Attributes
    ----------
    per_row : DataFrame
        One row per (alpha, input): ``alpha``, ``row``, ``score`` (and ``text`` when known).
    params : dict
        How the sweep was made (layer, readout layer, pooling, vector norm).
    """

    per_row: pd.DataFrame
    params: dict

    def to_frame(self) -> pd.DataFrame:
        """One row per alpha: mean score, its standard error and the fraction read as positive."""
        grouped = self.per_row.groupby("alpha")["score"]
        frame = pd.DataFrame({
            "mean_score": grouped.mean(),
            "sem": grouped.sem().fillna(0.0),
            "positive_fraction": grouped.apply(lambda s: float((s > 0).mean())),
            "n": grouped.size(),
        }).reset_index()
        return frame

    def per_input(self) -> pd.DataFrame:
        """One row per input, one column per alpha (scores), for a before/after table."""
        index = ["row", "text"] if "text" in self.per_row else ["row"]
        wide = self.per_row.pivot_table(index=index, columns="alpha", values="score")
        wide.columns = [f"alpha={a:g}" for a in wide.columns]
        return wide.reset_index()

    def plot(self, positive: str = "positive"):
        """Fraction of inputs read as ``positive`` at each alpha (see :func:`probing.charts.steering_chart`)."""
        from probing import charts

        return charts.steering_chart(self, positive=positive)

    def _repr_html_(self) -> str:
        from probing import charts

        frame = self.to_frame()
        numbers = {"inputs": int(frame["n"].iloc[0]), "alphas": len(frame), **self.params}
        return charts.html_summary("SteeringSweep", numbers, frame)


def _sweep(score_at: Callable[[float], np.ndarray], alphas, texts, params, progress) -> SteeringSweep:
    alphas = [float(a) for a in np.atleast_1d(alphas)]
    if not alphas:
        raise ProbingInputError("Give at least one alpha.")
    frames = []
    for i, alpha in enumerate(alphas):
        scores = score_at(alpha)
        frame = pd.DataFrame({"alpha": alpha, "row": np.arange(len(scores)), "score": scores})
        if texts is not None:
            frame["text"] = list(texts)
        frames.append(frame)
        if progress:
            progress((i + 1) / len(alphas), f"alpha = {alpha:g}")
    return SteeringSweep(pd.concat(frames, ignore_index=True), params)


def activation_sweep(X, vector, alphas, readout, progress=None) -> SteeringSweep:
    """Add ``alpha * vector`` to activations ``X (n, d)`` for each alpha and score them with ``readout``."""
    X = as_2d_float(X, "X", min_samples=1)
    vector = _check_vector(vector, X.shape[1])
    params = {"where": "activations", "vector_norm": float(np.linalg.norm(vector))}
    return _sweep(lambda a: readout_scores(readout, X + a * vector), alphas, None, params, progress)


def steering_sweep(texts, layer: int, vector, alphas, readout, readout_layer: int = -1, model=None,
                   pooling: str = "mean", batch_size: int = 64, max_texts: int | None = None,
                   max_chars: int | None = None, progress=None) -> SteeringSweep:
    """Run the real model with ``alpha * vector`` added at hidden state ``layer`` and read out at ``readout_layer``.

    Parameters
    ----------
    texts : list of str
        Inputs to run.
    layer : int
        Hidden state to steer (0 = embeddings output, k = output of block k).
    vector : array_like of shape (d,)
        The steering vector, added as given (not renormalised).
    alphas : sequence of float
        Strengths to try; include 0 for the unsteered baseline.
    readout : fitted probe or callable
        Scores pooled activations of ``readout_layer`` (e.g. a sentiment probe trained there).
    readout_layer : int
        Which hidden state the readout reads (default: the last).
    model, pooling, batch_size
        Passed to :func:`probing.extract.extract_activations`.
    max_texts, max_chars : int, optional
        Refuse more texts, or more characters in all, than this (the model runs once per text and
        alpha); a hosted dashboard sets both so one request cannot take the server for hours.
    progress : callable(fraction, message), optional
        Called after each alpha.

    Returns
    -------
    SteeringSweep
    """
    from probing.extract import extract_activations

    n_chars = sum(len(str(text)) for text in texts)
    if (max_texts is not None and len(texts) > max_texts) or (max_chars is not None and n_chars > max_chars):
        allowed = " and ".join(f"{limit:,} {what}" for limit, what in ((max_texts, "texts"), (max_chars, "characters"))
                               if limit is not None)
        raise ProbingInputError(f"Got {len(texts):,} texts with {n_chars:,} characters in all; at most {allowed} run "
                                f"here (the model runs once per text and alpha: {len(texts) * len(alphas):,} runs). "
                                "Steer fewer or shorter sentences, or call probing.steering.steering_sweep from Python.")

    def score_at(alpha: float) -> np.ndarray:
        aset = extract_activations(texts, model=model, pooling=pooling, batch_size=batch_size,
                                   layers=[readout_layer], steer=(layer, vector, alpha))
        return readout_scores(readout, aset.layer(0).astype(np.float64))

    params = {"where": "model", "layer": int(layer), "readout_layer": int(readout_layer), "pooling": pooling,
              "vector_norm": float(np.linalg.norm(vector))}
    return _sweep(score_at, alphas, texts, params, progress)
