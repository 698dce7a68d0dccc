"""The seeds' Exercise 8(e) as an experiment: how probe accuracy falls as directions become coherent.

Synthetic concepts are planted with a chosen pairwise cosine (or more concepts than
dimensions), held-out LDA probes are trained on each set, and the result is a frame of
measured coherence, the Welch bound and probe accuracy, so the relation is shown, not
asserted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from probing.coherence.bounds import Progress, mutual_coherence, welch_bound
from probing.errors import ProbingInputError


def _held_out_accuracy(X: np.ndarray, labels: list[np.ndarray], train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Held-out accuracy of one LDA probe per label."""
    from probing.probes import fit_probe

    return np.array([fit_probe(X[train], y[train], method="lda").score(X[test], y[test]) for y in labels])


def coherence_vs_accuracy(cosines=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99), n_samples: int = 2000, d: int = 32,
                          noise: float = 1.0, n_concepts=(16, 32, 64, 128, 256), max_probed: int = 16,
                          signal: float = 2.0, test_fraction: float = 0.5, seed: int = 0,
                          progress: Progress = None) -> pd.DataFrame:
    """How probe accuracy falls as the concept directions become coherent (the seeds' Exercise 8(e)).

    Two sweeps of synthetic data (:func:`probing.synthetic.make_concept_embeddings`, all
    concepts equally strong, fixed noise), each probed with held-out LDA probes:

    - ``"two concepts"``: two concepts whose directions have cosine ``c`` for each ``c`` in
      ``cosines`` (coherence ``c``; Welch bound 0, since two vectors fit orthogonally);
    - ``"k concepts in d dims"``: ``k`` concepts for each ``k`` in ``n_concepts``, orthonormal
      while ``k <= d`` and random unit directions beyond (superposition), so the coherence and
      the Welch bound both grow with ``k``.

    The samples and the noise are the same across a sweep (one ``seed``), so the rows differ
    only in the geometry of the directions.

    Parameters
    ----------
    cosines : sequence of float in [0, 1)
        Pairwise cosines of the two-concept sweep.
    n_samples, d : int
        Samples per dataset (split into train and test) and dimension.
    noise, signal : float
        Noise standard deviation and the distance of each class mean from the origin.
    n_concepts : sequence of int
        Set sizes of the second sweep (empty to skip it).
    max_probed : int
        Probe at most this many concepts per set (the first ones) and average.
    test_fraction : float in (0, 1)
        Share of samples held out for the accuracy.
    seed : int
    progress : callable(fraction, message), optional

    Returns
    -------
    DataFrame
        One row per dataset: ``experiment``, ``k`` (concepts), ``d``, ``concept_cosine``
        (planted, NaN for random directions), ``coherence`` (measured), ``welch``,
        ``accuracy`` (mean held-out accuracy over the probed concepts), ``accuracy_min``,
        ``chance`` (majority-class rate of the test labels, averaged) and ``n_test``.
    """
    from probing.synthetic import make_concept_embeddings

    if not 0 < test_fraction < 1 or max_probed < 1:
        raise ProbingInputError(f"Need 0 < test_fraction < 1 and max_probed >= 1; got test_fraction={test_fraction}, "
                                f"max_probed={max_probed}.")
    n_test = int(round(n_samples * test_fraction))
    if n_test < 1 or n_test >= n_samples:
        raise ProbingInputError(f"n_samples={n_samples} with test_fraction={test_fraction} leaves no train or no "
                                "test samples; use more samples.")
    order = np.random.default_rng(seed).permutation(n_samples)
    test, train = order[:n_test], order[n_test:]
    settings = [("two concepts", 2, float(c)) for c in cosines] + [("k concepts in d dims", int(k), 0.0)
                                                                   for k in n_concepts]
    rows = []
    for step, (experiment, k, cosine) in enumerate(settings):
        aset, directions = make_concept_embeddings(n_samples, d, n_concepts=k, noise=noise, seed=seed, signal=signal,
                                                   concept_cosine=cosine, secondary_strength=1.0)
        probed = [aset.labels[f"concept_{i}"] for i in range(min(k, max_probed))]
        accuracy = _held_out_accuracy(aset.layer(0), probed, train, test)
        chance = np.mean([max(y[test].mean(), 1 - y[test].mean()) for y in probed])
        rows.append({"experiment": experiment, "k": k, "d": d, "concept_cosine": cosine if k == 2 else np.nan,
                     "coherence": mutual_coherence(directions), "welch": welch_bound(k, d),
                     "accuracy": accuracy.mean(), "accuracy_min": accuracy.min(), "chance": chance, "n_test": n_test})
        if progress is not None:
            progress((step + 1) / len(settings), f"{experiment}: k={k}, cosine={cosine:g}")
    return pd.DataFrame(rows)
