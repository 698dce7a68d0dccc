"""Minimum-description-length probing with the online code (Voita & Titov 2020).

Instead of one accuracy, ask how many bits it takes to transmit the labels given the
activations. The rows are put in a random order and cut into blocks at growing
fractions (0.1 %, 0.2 %, ... 50 %, 100 %; for small n the early ends are raised to
``2 K`` rows, see :func:`mdl_probe`). The first block is sent with the uniform code
(``log2 K`` bits per label); every later block is sent with the probe trained on all
rows before it. A concept that is easy to extract compresses well already from few
examples; *compression* is the uniform codelength divided by the online codelength.

The probes are closed-form (LDA / mean difference) and trained from prefix sums of
per-block moments, so all prefixes and all layers cost one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.probes.estimator import LinearProbe, scores_to_proba
from probing.stats import layer_class_moments

FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)
UNIFORM_MIX = 1e-4  # probabilities are mixed with the uniform code so no label costs infinitely many bits


@dataclass(frozen=True, eq=False)
class MDLResult:
    """Online codelength of one probe.

    Attributes
    ----------
    codelength_bits : float
        Online codelength of all labels.
    uniform_bits : float
        ``n log2 K``: the labels sent without looking at the activations.
    compression : float
        ``uniform_bits / codelength_bits`` (1 means nothing was learned).
    blocks : DataFrame
        One row per block: ``start``, ``stop`` (rows), ``bits``.
    """

    codelength_bits: float
    uniform_bits: float
    compression: float
    blocks: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The per-block table."""
        return self.blocks


def mdl_probe(X, y, fractions=FRACTIONS, seed: int = 0, method: str = "lda", reg="auto") -> MDLResult:
    """Online-code MDL of labels ``y`` given activations ``X``.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
    y : array_like of shape (n_samples,)
        Class labels (at least two classes).
    fractions : sequence of float
        Increasing block ends as fractions of ``n_samples``, the last 1.0. Ends are
        rounded to whole rows and raised to at least ``2 * n_classes`` rows (the first
        probe needs a few rows of every class), and ends that coincide are merged: for
        small ``n_samples`` the blocks therefore differ from Voita & Titov's fractions
        (with 500 rows and 2 classes the first block is 4 rows, not 0.5). ``blocks`` in
        the result lists the ends actually used.
    seed : int
        Seeds the row order.
    method : {"lda", "mean_diff"}
    reg : "auto" or float

    Returns
    -------
    MDLResult
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ProbingInputError(f"Need X (n, d) and one label per row; got X {X.shape} and y {y.shape}.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ProbingInputError(f"y has only one class ({classes.tolist()}); MDL needs at least two.")
    return _online_codes(ActivationSet(X), codes, len(classes), fractions, seed, method, reg)[0]


def mdl_layers(aset: ActivationSet, codes: np.ndarray, n_classes: int, fractions=FRACTIONS, seed: int = 0,
               method: str = "lda", reg="auto", dim: int | None = None) -> pd.DataFrame:
    """Online-code MDL at every layer: columns ``layer``, ``mdl_bits``, ``uniform_bits``, ``compression``.

    ``dim``: the original dimension when ``aset`` holds the rows in a basis of their span
    (see :func:`probing.probes.estimator.solve_from_moments`).
    """
    results = _online_codes(aset, codes, n_classes, fractions, seed, method, reg, dim)
    return pd.DataFrame({"layer": aset.layers, "mdl_bits": [r.codelength_bits for r in results],
                         "uniform_bits": [r.uniform_bits for r in results],
                         "compression": [r.compression for r in results]})


def _online_codes(aset: ActivationSet, codes, k, fractions, seed, method, reg, dim=None) -> list[MDLResult]:
    n = aset.n_samples
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or np.any(np.diff(fractions) <= 0) or fractions[-1] != 1.0 or fractions[0] <= 0:
        raise ProbingInputError(f"fractions must increase strictly and end at 1.0; got {fractions.tolist()}.")
    ends = np.unique(np.clip(np.round(fractions * n).astype(int), min(2 * k, n), n))
    if len(ends) < 2:
        raise ProbingInputError(f"{n} samples are too few for an online code over {k} classes; add samples.")
    order = np.random.default_rng(seed).permutation(n)
    block = np.empty(n, dtype=np.int64)
    starts = np.r_[0, ends[:-1]]
    for i, (a, b) in enumerate(zip(starts, ends)):
        block[order[a:b]] = i
    moments = layer_class_moments(aset.acts, codes, k, block, len(ends))
    uniform = float(n * np.log2(k))
    results = []
    for layer, per_block in enumerate(moments):
        X = aset.layer(layer)
        prefix = per_block[0]
        bits = [float(ends[0] * np.log2(k))]
        for i in range(1, len(ends)):
            probe = LinearProbe.from_moments(prefix, np.arange(k), method, reg, dim)
            rows = np.sort(order[starts[i]:ends[i]])
            W, offset = probe.class_scores()
            scores = np.asarray(X[rows], dtype=np.float64) @ W + offset
            proba = (1 - UNIFORM_MIX) * scores_to_proba(scores - scores.max(axis=1, keepdims=True)) + UNIFORM_MIX / k
            bits.append(float(-np.log2(proba[np.arange(len(rows)), codes[rows]]).sum()))
            prefix = prefix + per_block[i]
        total = float(sum(bits))
        results.append(MDLResult(total, uniform, uniform / total,
                                 pd.DataFrame({"start": starts, "stop": ends, "bits": bits})))
    return results
