"""Superposition in embeddings: how interference between concept directions costs probe accuracy.

With more binary concepts than dimensions (the seeds' Exercise 8(d)), the planted
directions cannot be orthogonal. Every other concept then adds structured noise along
concept ``k``'s direction, in proportion to their overlap, so a linear probe for ``k``
decodes it less well than the same concept alone would be decoded. This module plants
the concepts with :func:`probing.synthetic.make_concept_embeddings`, fits one LDA probe
per concept on a training split and reports held-out accuracy next to each concept's
interference with the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm, spearmanr

from probing.errors import ProbingInputError
from probing.probes import fit_probe
from probing.synthetic import make_concept_embeddings


@dataclass(frozen=True)
class InterferenceResult:
    """Per-concept probe accuracy against interference, for concepts planted in ``d`` dimensions.

    Attributes
    ----------
    directions : ndarray of shape (n_concepts, d)
        The planted unit directions.
    max_interference : ndarray of shape (n_concepts,)
        Largest ``|cos|`` between the concept and any other concept.
    total_interference : ndarray of shape (n_concepts,)
        ``sum_j (cos_kj)^2`` over the other concepts: how much of the others leaks onto its direction.
    accuracy : ndarray of shape (n_concepts,)
        Held-out accuracy of an LDA probe for the concept.
    probe_alignment : ndarray of shape (n_concepts,)
        ``|cos|`` between the probe's direction and the planted direction.
    isolated_accuracy : float
        Accuracy a perfect probe would reach if the concept were alone: ``Phi(signal / noise)``.
    d, noise, signal, seed : int, float, float, int
        The settings.
    """

    directions: np.ndarray
    max_interference: np.ndarray
    total_interference: np.ndarray
    accuracy: np.ndarray
    probe_alignment: np.ndarray
    isolated_accuracy: float
    d: int
    noise: float
    signal: float
    seed: int

    @property
    def rank_correlation(self) -> float:
        """Spearman correlation of total interference with accuracy (negative: more interference, worse probe)."""
        if len(self.accuracy) < 3 or np.ptp(self.total_interference) < 1e-9 or np.ptp(self.accuracy) == 0:
            return float("nan")
        return float(spearmanr(self.total_interference, self.accuracy).statistic)

    def to_frame(self) -> pd.DataFrame:
        """One row per concept: interference (max |cos|, summed cos^2), accuracy, probe alignment."""
        return pd.DataFrame({"concept": [f"concept_{k}" for k in range(len(self.accuracy))],
                             "max_abs_cos": self.max_interference, "sum_cos2": self.total_interference,
                             "accuracy": self.accuracy, "probe_alignment": self.probe_alignment,
                             "isolated_accuracy": self.isolated_accuracy})


def probe_interference(n_concepts: int = 20, d: int = 8, n_samples: int = 2000, noise: float = 0.3,
                       signal: float = 1.0, concept_cosine: float = 0.0, test_fraction: float = 0.3,
                       seed: int = 0) -> InterferenceResult:
    """Plant ``n_concepts`` binary concepts in ``d`` dimensions and probe each one.

    Every concept has the same strength (``x = signal * sum_k (2 y_k - 1) u_k + noise * N(0, I)``),
    so differences in accuracy come from the geometry of the directions alone.

    Parameters
    ----------
    n_concepts, d : int
        More concepts than dimensions forces the directions to overlap (superposition).
    n_samples : int
        Samples drawn; ``test_fraction`` of them are held out for the accuracy.
    noise, signal : float
        Isotropic noise standard deviation and each concept's distance from the origin.
    concept_cosine : float in [0, 1)
        Pairwise cosine between the directions when ``n_concepts + 1 <= d`` (e.g. two
        concepts in d = 3, as in the seeds' Exercise 8(d)); must be 0 otherwise.
    test_fraction : float in (0, 1)
        Share of samples held out.
    seed : int
        Random seed (directions, labels, noise and the split).

    Returns
    -------
    InterferenceResult
    """
    if not 0 < test_fraction < 1:
        raise ProbingInputError(f"test_fraction must be in (0, 1); got {test_fraction}. Try 0.3.")
    if noise <= 0:
        raise ProbingInputError(f"noise must be positive so accuracies are below 1; got {noise}.")
    aset, directions = make_concept_embeddings(n_samples=n_samples, d=d, n_concepts=n_concepts, noise=noise,
                                               seed=seed, signal=signal, concept_cosine=concept_cosine,
                                               secondary_strength=1.0)
    n_test = int(round(test_fraction * n_samples))
    if n_test < 2 or n_samples - n_test < 2 * d:
        raise ProbingInputError(f"{n_samples} samples leave {n_samples - n_test} to train and {n_test} to test; "
                                f"need at least {2 * d} to train and 2 to test. Use more samples.")
    order = np.random.default_rng(seed).permutation(n_samples)
    test, train = order[:n_test], order[n_test:]
    X = aset.layer(0).astype(np.float64)
    accuracy, alignment = np.empty(n_concepts), np.empty(n_concepts)
    for k in range(n_concepts):
        y = aset.label(f"concept_{k}")
        probe = fit_probe(X[train], y[train], method="lda")
        accuracy[k] = probe.score(X[test], y[test])
        alignment[k] = abs(float(probe.direction_ @ directions[k]))
    cos = directions @ directions.T
    np.fill_diagonal(cos, 0.0)
    max_interference = np.abs(cos).max(axis=1) if n_concepts > 1 else np.zeros(1)
    return InterferenceResult(directions, max_interference, (cos ** 2).sum(axis=1), accuracy, alignment,
                              float(norm.cdf(signal / noise)), int(d), float(noise), float(signal), int(seed))
