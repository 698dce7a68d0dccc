"""Synthetic embeddings with planted concept directions (the seeds' Exercise 8(a)).

Each concept ``k`` is a binary label ``y_k`` and a unit direction ``u_k``; a sample is

    x = sum_k  s_k * (2 y_k - 1) * u_k  +  noise * N(0, I_d)

so positives sit near ``+s u`` and negatives near ``-s u``. Concept 0 is the strongest,
so with the defaults it is the dominant direction of variance (PC1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError

GENERATOR = "probing.synthetic.make_concept_embeddings"
"""``attrs["generator"]`` of every set :func:`make_concept_embeddings` makes."""


def concept_directions(n_concepts: int, d: int, cosine: float = 0.0, seed: int = 0) -> np.ndarray:
    """Unit directions, one per row, with a chosen pairwise cosine when they fit.

    Parameters
    ----------
    n_concepts, d : int
        How many directions, in how many dimensions.
    cosine : float in [0, 1)
        Pairwise cosine between every two directions. Needs ``n_concepts + 1 <= d``
        unless it is 0. With ``n_concepts > d`` (superposition) the directions are
        random unit vectors and ``cosine`` must be 0.
    seed : int
        Random seed.

    Returns
    -------
    ndarray of shape (n_concepts, d)
    """
    if n_concepts < 1 or d < 1:
        raise ProbingInputError(f"Need n_concepts >= 1 and d >= 1; got n_concepts={n_concepts}, d={d}.")
    if not 0.0 <= cosine < 1.0:
        raise ProbingInputError(f"concept cosine must be in [0, 1); got {cosine}.")
    rng = np.random.default_rng(seed)
    if n_concepts > d:
        if cosine:
            raise ProbingInputError(f"A chosen cosine needs n_concepts + 1 <= d; got {n_concepts} concepts in d={d}.")
        U = rng.standard_normal((n_concepts, d))
        return U / np.linalg.norm(U, axis=1, keepdims=True)
    if cosine and n_concepts + 1 > d:
        raise ProbingInputError(f"A chosen cosine needs n_concepts + 1 <= d; got {n_concepts} concepts in d={d}.")
    k = n_concepts + (1 if cosine else 0)
    Q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    E = Q.T  # (k, d) orthonormal rows
    if not cosine:
        return E[:n_concepts].copy()
    return np.sqrt(cosine) * E[-1] + np.sqrt(1.0 - cosine) * E[:n_concepts]


def make_concept_embeddings(n_samples: int = 1000, d: int = 64, n_concepts: int = 1, noise: float = 1.0,
                            n_layers: int = 1, seed: int = 0, signal: float = 2.0, concept_cosine: float = 0.0,
                            secondary_strength: float = 0.6, name: str | None = None):
    """Embeddings with planted binary concepts, optionally over several layers.

    Parameters
    ----------
    n_samples : int
        Number of samples (at least 2).
    d : int
        Embedding dimension.
    n_concepts : int
        Number of binary concepts; more than ``d`` gives superposed (non-orthogonal) directions.
    noise : float
        Standard deviation of the isotropic Gaussian noise.
    n_layers : int
        Number of layers. The concept strength grows linearly with depth, from
        ``signal / n_layers`` at layer 0 to ``signal`` at the last, so a layer sweep
        shows the concept becoming decodable; noise is drawn afresh per layer.
    seed : int
        Random seed.
    signal : float
        Distance of concept 0's class means from the origin along its direction.
    concept_cosine : float
        Pairwise cosine between concept directions (see :func:`concept_directions`).
    secondary_strength : float
        Strength of concepts 1.. relative to concept 0 (below 1 keeps concept 0 dominant).
    name : str, optional
        Dataset name.

    Returns
    -------
    aset : ActivationSet
        Activations ``(n_samples, n_layers, d)`` float32; labels ``concept_k`` (0/1) and
        ``label`` (= concept 0); meta with an ``id`` column. ``attrs`` records how it was
        made (:data:`GENERATOR`, every parameter above, and the planted directions as lists),
        so :func:`planted` finds them again after saving, loading and renaming.
    directions : ndarray of shape (n_concepts, d)
        The planted unit directions.
    """
    if n_samples < 2:
        raise ProbingInputError(f"n_samples must be at least 2; got {n_samples}.")
    if n_layers < 1:
        raise ProbingInputError(f"n_layers must be at least 1; got {n_layers}.")
    if noise < 0 or signal < 0:
        raise ProbingInputError(f"noise and signal must be non-negative; got noise={noise}, signal={signal}.")
    rng = np.random.default_rng(seed)
    directions = concept_directions(n_concepts, d, concept_cosine, seed=seed + 1)
    y = rng.integers(0, 2, size=(n_samples, n_concepts))
    strengths = signal * np.r_[1.0, np.full(n_concepts - 1, secondary_strength)]
    signs = (2.0 * y - 1.0) * strengths  # (n, k)
    acts = np.empty((n_samples, n_layers, d), dtype=np.float32)
    for layer in range(n_layers):
        depth = (layer + 1) / n_layers
        acts[:, layer, :] = depth * (signs @ directions) + noise * rng.standard_normal((n_samples, d))
    labels = {f"concept_{k}": y[:, k].astype(np.int64) for k in range(n_concepts)}
    labels["label"] = labels["concept_0"]
    layers = [f"layer_{i}" for i in range(n_layers)]
    meta = pd.DataFrame({"id": np.arange(n_samples)})
    title = name or f"synthetic n={n_samples} d={d} concepts={n_concepts} noise={noise:g} seed={seed}"
    params = {"n_samples": n_samples, "d": d, "n_concepts": n_concepts, "noise": noise, "n_layers": n_layers,
              "seed": seed, "signal": signal, "concept_cosine": concept_cosine,
              "secondary_strength": secondary_strength, "name": name}
    attrs = {"generator": GENERATOR, "params": params, "planted_directions": directions}
    return ActivationSet(acts, layers, labels, meta, name=title, attrs=attrs), directions


def generator_params(aset: ActivationSet) -> dict | None:
    """The parameters :func:`make_concept_embeddings` made ``aset`` with (from its ``attrs``), else ``None``."""
    if aset.attrs.get("generator") != GENERATOR or not isinstance(aset.attrs.get("params"), dict):
        return None
    return dict(aset.attrs["params"])


def planted(aset: ActivationSet) -> dict[str, np.ndarray]:
    """The unit directions :func:`make_concept_embeddings` planted in ``aset``, by concept label name.

    Read from ``aset.attrs`` (saved in every file header), never from the display name:
    ``{"concept_0": (d,) array, ...}``, empty for a set that did not come from the generator.
    """
    if generator_params(aset) is None:
        return {}
    directions = np.asarray(aset.attrs.get("planted_directions", []), dtype=np.float64)
    if directions.ndim != 2 or directions.shape[1] != aset.d:
        raise ProbingInputError(f"The attrs of {aset.name!r} hold planted directions of shape {directions.shape}, "
                                f"not (n_concepts, {aset.d}); the set's provenance is damaged. Generate it again.")
    return {f"concept_{k}": row for k, row in enumerate(directions)}
