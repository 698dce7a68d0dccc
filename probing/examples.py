"""Directions in action: the inputs (and tokens) that light a direction up, and whether the model uses it.

Two checks make a direction convincing (feature dashboards are built around the first,
causal probing around the second):

* :func:`top_examples` / :func:`top_tokens`: which rows score highest along the direction
  (the projection onto the unit direction), with their text and labels; negate the
  direction for the other end.
* :func:`ablation_effect`: project the direction's span out of the model's residual stream
  at one layer, inside the forward pass, and re-probe every later layer with fresh
  cross-validation, against a control that ablates as many random directions. A direction
  the model *uses* makes the downstream accuracy drop well beyond the random control.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError

TOKEN_COLUMNS = ("text_id", "position", "token")


def unit_direction(direction, d: int) -> np.ndarray:
    """``direction`` ``(d,)`` scaled to length 1; a zero or non-finite vector is refused."""
    direction = np.asarray(direction, dtype=np.float64)
    if direction.shape != (d,):
        raise ProbingInputError(f"The direction must have shape ({d},) to match the layer; got {direction.shape}.")
    norm = np.linalg.norm(direction)
    if not np.isfinite(norm) or norm == 0:
        raise ProbingInputError("The direction is zero (or not finite): it has no examples. Pick another direction.")
    return direction / norm


def scores(aset: ActivationSet, direction, layer) -> np.ndarray:
    """Every row's projection onto the unit direction at ``layer`` ``(n_samples,)``, computed in row chunks."""
    from probing import budget

    index = aset.layer_index(layer)
    unit = unit_direction(direction, aset.d).astype(np.float32 if aset.acts.dtype != np.float64 else np.float64)
    rows = budget.chunk_rows(aset.d * 8)
    out = np.empty(aset.n_samples, np.float64)
    for start in range(0, aset.n_samples, rows):
        out[start:start + rows] = np.asarray(aset.acts[start:start + rows, index], dtype=unit.dtype) @ unit
    return out


def _rows_frame(aset: ActivationSet, rows: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"row": rows, "score": values[rows]})
    for key, labels in aset.labels.items():
        frame[key] = labels[rows]
    meta = aset.meta.iloc[rows].reset_index(drop=True)
    return pd.concat([frame, meta.drop(columns=[c for c in meta.columns if c in frame.columns])], axis=1)


def top_examples(aset: ActivationSet, direction, layer, k: int = 20) -> pd.DataFrame:
    """The ``k`` rows that score highest along ``direction`` at ``layer``, highest first.

    Parameters
    ----------
    aset : ActivationSet
    direction : array_like of shape (d,)
        Any direction of the layer's space (probe, principal component, steering vector,
        LEACE, planted, SAE decoder row, uploaded); scaled to unit length. Negate it for
        the rows that score lowest.
    layer : int or str
    k : int

    Returns
    -------
    pandas.DataFrame
        ``row``, ``score`` (projection onto the unit direction), the labels and the meta
        columns (e.g. ``text``), sorted by ``score`` descending.
    """
    values = scores(aset, direction, layer)
    k = _check_k(k, aset.n_samples)
    top = np.argpartition(-values, k - 1)[:k]
    return _rows_frame(aset, top[np.argsort(-values[top], kind="stable")], values)


def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ProbingInputError(f"k must be a positive integer; got {k!r}.")
    return min(int(k), n)


def top_tokens(aset: ActivationSet, direction, layer, k: int = 20, window: int = 6) -> pd.DataFrame:
    """For token activations (``pooling="tokens"``): the top ``k`` tokens with their context window.

    Returns
    -------
    pandas.DataFrame
        ``row``, ``score``, ``text_id``, ``position``, ``token`` and ``context`` (the
        ``window`` tokens before and after, the top token in ``[[...]]``).
    """
    missing = [c for c in TOKEN_COLUMNS if c not in aset.meta.columns]
    if missing:
        raise ProbingInputError(f"Token examples need token activations (meta columns {TOKEN_COLUMNS}; missing "
                                f"{missing}). Extract with pooling='tokens'.")
    top = top_examples(aset, direction, layer, k)
    tokens = aset.meta["token"].astype(str).to_numpy()
    text_ids, positions = aset.meta["text_id"].to_numpy(), aset.meta["position"].to_numpy()
    contexts = []
    for row in top["row"]:
        same = np.flatnonzero((text_ids == text_ids[row]) & (np.abs(positions - positions[row]) <= window))
        same = same[np.argsort(positions[same])]
        contexts.append(" ".join(f"[[{tokens[i]}]]" if i == row else tokens[i] for i in same))
    return top.assign(context=contexts)


def token_scores(aset: ActivationSet, direction, layer, text_id) -> pd.DataFrame:
    """Every token of one text with its score along ``direction`` (to colour a text token by token)."""
    if "text_id" not in aset.meta.columns:
        raise ProbingInputError("Per-token scores need token activations; extract with pooling='tokens'.")
    rows = np.flatnonzero(aset.meta["text_id"].to_numpy() == text_id)
    if not rows.size:
        raise ProbingInputError(f"No tokens of text {text_id!r} in this dataset.")
    values = scores(aset, direction, layer)
    frame = _rows_frame(aset, rows, values)
    return frame.sort_values("position", kind="stable").reset_index(drop=True)


def score_histogram(values, groups=None, bins: int = 40) -> pd.DataFrame:
    """Counts of ``values`` in ``bins`` equal bins, per group: a chart's data that stays small for any ``n``.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``bin_start``, ``bin_end``, ``count``.
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.full(len(values), "all") if groups is None else np.asarray(groups).astype(str)
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    frames = []
    for group in np.unique(groups):
        counts, _ = np.histogram(values[groups == group], edges)
        frames.append(pd.DataFrame({"group": group, "bin_start": edges[:-1], "bin_end": edges[1:], "count": counts}))
    return pd.concat(frames, ignore_index=True)


def score_densities(values, groups=None, points: int = 120) -> pd.DataFrame:
    """A Gaussian kernel density of ``values`` per group on one grid of ``points`` scores: small for any ``n``.

    The kernel density a chart would compute in the browser (bandwidth by Silverman's rule per
    group), evaluated here from a fine histogram (8 bins per grid step), so ``n`` = 200,000
    rows send ``points`` rows per group. Each group's density integrates to 1 over the grid.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``score``, ``density``.
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.full(len(values), "all") if groups is None else np.asarray(groups).astype(str)
    names = np.unique(groups)
    spread = float(values.max() - values.min()) or 1.0
    bandwidths = {g: max(1.06 * values[groups == g].std() * np.sum(groups == g) ** -0.2, spread / points)
                  for g in names}
    pad = 3 * max(bandwidths.values())
    grid = np.linspace(values.min() - pad, values.max() + pad, points)
    edges = np.linspace(grid[0], grid[-1], 8 * points + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    frames = []
    for group in names:
        counts, _ = np.histogram(values[groups == group], edges)
        h = bandwidths[group]
        kernel = np.exp(-0.5 * ((grid[:, None] - centres[None, :]) / h) ** 2) / (h * np.sqrt(2 * np.pi))
        frames.append(pd.DataFrame({"group": group, "score": grid, "density": kernel @ counts / counts.sum()}))
    return pd.concat(frames, ignore_index=True)


def nearest_directions(direction, others: dict[str, np.ndarray], k: int = 5) -> pd.DataFrame:
    """The ``k`` directions of ``others`` with the largest ``|cos|`` to ``direction``: ``name``, ``cosine``."""
    unit = unit_direction(direction, len(np.asarray(direction)))
    rows = []
    for name, vector in others.items():
        vector = np.asarray(vector, dtype=np.float64)
        norm = np.linalg.norm(vector)
        if vector.shape == unit.shape and norm > 0:
            rows.append((name, float(vector @ unit / norm)))
    frame = pd.DataFrame(rows, columns=["name", "cosine"])
    return frame.reindex(frame["cosine"].abs().sort_values(ascending=False).index).head(k).reset_index(drop=True)


def random_directions(n: int, d: int, seed: int = 0) -> np.ndarray:
    """``n`` random unit directions ``(n, d)`` (the control of an ablation)."""
    draw = np.random.default_rng(seed).normal(size=(n, d))
    return draw / np.linalg.norm(draw, axis=1, keepdims=True)


def ablation_effect(texts, labels, directions, layer: int, model=None, cv: int = 5, seed: int = 0,
                    pooling: str = "mean", progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Does the model use these directions? Probe accuracy downstream of ablating them, against a random control.

    Parameters
    ----------
    texts : list of str
    labels : array_like of shape (n_texts,)
        The concept to probe for.
    directions : array_like of shape (k, d) or (d,)
        Their span is projected out of the residual stream after block ``layer`` at every
        token, inside the forward pass (:func:`probing.extract.extract_activations` with
        ``ablate=``).
    layer : int
        Where to ablate (0 = embeddings, k = after block k).
    model : see :func:`probing.extract.extract_activations`
    cv, seed : int
        Folds of the fresh cross-validation at every later layer, and the seed of the folds
        and of the random control directions.
    pooling : str
    progress : callable(fraction, message), optional

    Returns
    -------
    pandas.DataFrame
        One row per (condition, layer at or after ``layer``): ``condition`` (``"none"``,
        ``"ablated"``, ``"random control"``), ``layer``, ``accuracy``, ``ci_low``, ``ci_high``.
    """
    from probing.extract import extract_activations
    from probing.probes import probe_layers

    directions = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    control = random_directions(len(directions), directions.shape[1], seed)
    conditions = [("none", None), ("ablated", directions), ("random control", control)]
    frames = []
    for i, (condition, ablated) in enumerate(conditions):
        aset = extract_activations(texts, model=model, pooling=pooling, labels={"y": np.asarray(labels)},
                                   ablate=None if ablated is None else (layer, ablated))
        later = aset.layers[aset.layer_index(layer):]
        sweep = probe_layers(aset, "y", cv=cv, seed=seed, control=False)
        frame = sweep.to_frame()
        frame = frame[frame["layer"].isin(later)][["layer", "accuracy", "ci_low", "ci_high"]]
        frames.append(frame.assign(condition=condition))
        if progress:
            progress((i + 1) / len(conditions), condition)
    return pd.concat(frames, ignore_index=True)[["condition", "layer", "accuracy", "ci_low", "ci_high"]]
