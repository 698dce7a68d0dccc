"""Toy models of superposition (Elhage et al., 2022).

``n`` sparse features ``x`` (each uniform in [0, 1] when present, zero with probability
``sparsity``) are squeezed into ``m`` hidden dimensions and read back out::

    h = W x                  W: (m, n), column i is feature i's direction
    x' = ReLU(W^T h + b)     b: (n,)

The loss is the importance-weighted squared error ``mean_batch mean_i w_i (x'_i - x_i)^2``.
Dense features get the ``m`` most important ones an orthogonal dimension each and the
rest are dropped; sparse features are packed into more directions than dimensions
(superposition), e.g. five features of a 2-D model forming a regular pentagon.

Training is a hand-written forward/backward pass with Adam in numpy, vectorised over
*instances* (independent models with their own sparsity, importance and seed), so a
whole sweep or phase diagram trains in one run. Geometry is summarised by each
feature's norm ``||W_i||`` and *dimensionality* ``D_i`` (how many dimensions it owns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError


Progress = Callable[[float, str], None] | None
_EVAL_SAMPLES = 8192
_DTYPE = np.float32


@dataclass(frozen=True)
class ToyModel:
    """A trained toy model, or a stack of ``n_instances`` of them.

    Attributes
    ----------
    W : ndarray of shape (n_hidden, n_features) or (n_instances, n_hidden, n_features)
        Embedding; column ``i`` is feature ``i``'s direction in the hidden space.
    b : ndarray of shape (n_features,) or (n_instances, n_features)
        Output bias.
    loss : float or ndarray of shape (n_instances,)
        Importance-weighted squared error on a fresh evaluation batch of 8192 samples.
    loss_curve : ndarray of shape (n_records,) or (n_instances, n_records)
        Mini-batch training loss, recorded at ``curve_steps``.
    curve_steps : ndarray of shape (n_records,)
        Training steps at which ``loss_curve`` was recorded.
    sparsity : float or ndarray of shape (n_instances,)
        Probability that a feature is zero.
    importance : ndarray of shape (n_features,) or (n_instances, n_features)
        Loss weight of each feature.
    seed : int or ndarray of shape (n_instances,)
        Seed of each instance (instance ``i`` of a run with ``seed=s`` has seed ``s + i``).
    """

    W: np.ndarray
    b: np.ndarray
    loss: float | np.ndarray
    loss_curve: np.ndarray
    curve_steps: np.ndarray
    sparsity: float | np.ndarray
    importance: np.ndarray
    seed: int | np.ndarray

    @property
    def n_instances(self) -> int:
        """Number of stacked models (1 for a single model)."""
        return 1 if self.W.ndim == 2 else self.W.shape[0]

    def instance(self, i: int) -> "ToyModel":
        """Instance ``i`` of a stacked model as a single :class:`ToyModel`."""
        if self.W.ndim == 2:
            return self
        return ToyModel(self.W[i], self.b[i], float(self.loss[i]), self.loss_curve[i], self.curve_steps,
                        float(self.sparsity[i]), self.importance[i], int(self.seed[i]))

    def to_frame(self) -> pd.DataFrame:
        """One row per (instance, feature): norm, dimensionality, bias, importance, sparsity, loss.

        For ``n_hidden == 2`` the direction's coordinates ``x``, ``y`` are included.
        """
        frames = []
        for i in range(self.n_instances):
            model = self.instance(i)
            n_hidden, n_features = model.W.shape
            frame = pd.DataFrame({
                "instance": i, "feature": np.arange(n_features), "norm": np.linalg.norm(model.W, axis=0),
                "dimensionality": feature_dimensionality(model.W), "bias": model.b,
                "importance": model.importance, "sparsity": model.sparsity, "loss": model.loss})
            if n_hidden == 2:
                frame["x"], frame["y"] = model.W[0], model.W[1]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def importance_weights(importance, n_features: int) -> np.ndarray:
    """Per-feature loss weights: a decay ``importance ** i`` from a scalar, or the given array.

    Parameters
    ----------
    importance : float or array_like of shape (n_features,) or (n_instances, n_features)
        Decay factor, or explicit weights.
    n_features : int

    Returns
    -------
    ndarray of shape (n_features,) or (n_instances, n_features)
    """
    weights = np.asarray(importance, dtype=np.float64)
    if weights.ndim == 0:
        weights = weights ** np.arange(n_features)
    if weights.ndim > 2 or weights.shape[-1] != n_features:
        raise ProbingInputError(
            f"importance must be a decay factor or weights of shape (n_features,) or (n_instances, n_features) "
            f"with n_features={n_features}; got shape {np.shape(importance)}.")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ProbingInputError(f"importance must be finite and non-negative; got {np.asarray(importance)}.")
    return weights


def _check_settings(n_features, n_hidden, sparsity, importance, steps, batch_size, lr, seed, n_instances,
                    n_restarts):
    for name, value in (("n_features", n_features), ("n_hidden", n_hidden), ("steps", steps),
                        ("batch_size", batch_size), ("n_instances", n_instances), ("n_restarts", n_restarts)):
        if int(value) != value or value < 1:
            raise ProbingInputError(f"{name} must be a positive integer; got {value!r}.")
    if not lr > 0:
        raise ProbingInputError(f"lr must be positive; got {lr!r}. Try 1e-2.")
    sparsity = np.asarray(sparsity, dtype=np.float64)
    if sparsity.ndim > 1 or (sparsity.ndim == 1 and len(sparsity) != n_instances):
        raise ProbingInputError(f"sparsity must be a number or one per instance (n_instances={n_instances}); "
                                f"got shape {sparsity.shape}.")
    if not np.all((sparsity >= 0) & (sparsity < 1)):
        raise ProbingInputError(f"sparsity is a probability of a feature being zero and must be in [0, 1); "
                                f"got {sparsity}. Use e.g. 0.9 for features present 10% of the time.")
    weights = importance_weights(importance, n_features)
    if weights.ndim == 2 and len(weights) != n_instances:
        raise ProbingInputError(f"importance has {len(weights)} rows but n_instances={n_instances}; "
                                "give one row of weights per instance.")
    seeds = np.asarray(seed)
    if seeds.ndim == 0:
        seeds = int(seed) + np.arange(n_instances)
    if seeds.shape != (n_instances,) or not np.issubdtype(seeds.dtype, np.integer) or np.any(seeds < 0):
        raise ProbingInputError(f"seed must be a non-negative integer or one per instance; got {seed!r}.")
    return (np.broadcast_to(sparsity, (n_instances,)).copy(), np.broadcast_to(weights, (n_instances, n_features)).copy(),
            seeds.astype(np.int64))


def _adam(n_features, n_hidden, sparsity, weights, streams, eval_streams, steps, batch_size, lr, progress):
    """Train ``len(streams)`` models at once; the data of model ``k`` comes from ``streams[k]``.

    All arrays put the batch last, ``(models, features, batch)``, so numpy's inner loops are long.
    """
    k, n, m, B = len(streams), n_features, n_hidden, batch_size
    theta = np.zeros((k, m * n + n), _DTYPE)  # W and b of every model, one flat vector for Adam
    grad, mom, vel, step = (np.zeros_like(theta) for _ in range(4))
    W, gW = (a[:, :m * n].reshape(k, m, n) for a in (theta, grad))
    b, gb = (a[:, m * n:].reshape(k, n, 1) for a in (theta, grad))
    W[:] = [rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n)) for rng in streams]  # Xavier normal
    S = sparsity.astype(_DTYPE).reshape(k, 1, 1, 1)
    scale = (1.0 / (1.0 - S)).astype(_DTYPE)
    w = (weights * (2.0 / (B * n))).astype(_DTYPE).reshape(k, n, 1)  # d loss / d x' = w * err
    chunk = int(np.clip(4_000_000 // (k * n * B), 1, 100))  # steps of random numbers drawn at once per model
    uniforms = np.empty((k, chunk, n, B), _DTYPE)
    pre, g = np.empty((k, n, B), _DTYPE), np.empty((k, n, B), _DTYPE)
    record = max(1, steps // 200)
    curve_steps = np.arange(0, steps, record)
    curve = np.empty((k, len(curve_steps)))
    lrs = lr * 0.5 * (1.0 + np.cos(np.pi * np.arange(steps) / steps))  # cosine decay to 0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(steps):
        if t % chunk == 0:
            for rng, out in zip(streams, uniforms):
                rng.random(out=out, dtype=_DTYPE)
            # A uniform u becomes a feature that is 0 with probability S, else uniform in [0, 1).
            uniforms -= S
            np.maximum(uniforms, 0, out=uniforms)
            uniforms *= scale
            if progress is not None:
                progress(t / steps, f"step {t:,} of {steps:,}")
        x = uniforms[:, t % chunk]  # (k, n, B)
        h = W @ x  # (k, m, B)
        np.matmul(W.transpose(0, 2, 1), h, out=pre)
        pre += b  # (k, n, B)
        np.maximum(pre, 0, out=g)
        g -= x  # err = x' - x
        if t % record == 0:
            curve[:, t // record] = np.einsum("knb,knb,kn->k", g, g, w[..., 0]) / 2.0
        g *= w
        g *= pre > 0  # ReLU gradient
        gb[:] = g.sum(axis=2, keepdims=True)
        np.einsum("kmb,knb->kmn", h, g, out=gW)
        gW += np.einsum("kmb,knb->kmn", W @ g, x)
        mom *= beta1
        mom += (1 - beta1) * grad
        vel *= beta2
        vel += (1 - beta2) * grad * grad
        np.sqrt(vel, out=step)
        step += eps
        np.divide(mom, step, out=step)
        step *= lrs[t] * np.sqrt(1 - beta2 ** (t + 1)) / (1 - beta1 ** (t + 1))
        theta -= step
    W64, b64 = W.astype(np.float64), b[..., 0].astype(np.float64)
    return W64, b64, _eval_loss(W64, b64, sparsity, weights, eval_streams), curve, curve_steps


def _eval_loss(W, b, sparsity, weights, streams):
    """Importance-weighted squared error of each model on its own fresh evaluation batch."""
    n = W.shape[2]
    u = np.stack([rng.random((n, _EVAL_SAMPLES)) for rng in streams])
    S = sparsity.reshape(-1, 1, 1)
    x = np.maximum(u - S, 0) / (1 - S)
    err = np.maximum(W.transpose(0, 2, 1) @ (W @ x) + b[..., None], 0) - x
    return np.einsum("knb,knb,kn->k", err, err, weights) / (_EVAL_SAMPLES * n)


def train_toy_model(n_features: int = 5, n_hidden: int = 2, sparsity=0.0, importance=1.0, steps: int = 2000,
                    batch_size: int = 1024, lr: float = 2e-2, seed=0, n_instances: int = 1, n_restarts: int = 4,
                    progress: Progress = None) -> ToyModel:
    """Train the toy model ``x' = ReLU(W^T W x + b)`` on sparse synthetic features.

    Parameters
    ----------
    n_features, n_hidden : int
        ``n`` features squeezed into ``m`` hidden dimensions. ``m >= n`` is allowed (then
        there is no pressure for superposition: every feature gets its own dimension).
    sparsity : float in [0, 1) or array_like of shape (n_instances,)
        Probability that a feature is zero; when present it is uniform in [0, 1].
    importance : float, or array_like of shape (n_features,) or (n_instances, n_features)
        A decay factor (feature ``i`` has loss weight ``importance ** i``) or the weights.
    steps, batch_size, lr : int, int, float
        Adam steps, samples per step, and the peak learning rate (cosine-decayed to 0).
    seed : int or array_like of shape (n_instances,)
        Instance ``i`` uses ``seed + i`` (or ``seed[i]``), so instance ``i`` of a
        vectorised run equals a single run with that seed and settings.
    n_instances : int
        Independent models trained at once; their W, b, loss are stacked.
    n_restarts : int
        Each instance is trained from this many random initialisations (in the same
        vectorised run) and the one with the lowest evaluation loss is kept. Gradient
        descent sometimes settles in a local minimum (e.g. a square with one feature
        dropped instead of the pentagon); restarts make the result reliable.
    progress : callable(fraction, message), optional
        Called as training proceeds.

    Returns
    -------
    ToyModel
        ``W`` (n_hidden, n_features), ``b`` (n_features,); with ``n_instances > 1``
        stacked as (n_instances, ...).

    Examples
    --------
    >>> model = train_toy_model(5, 2, sparsity=0.9, importance=0.9)
    >>> np.round(feature_dimensionality(model.W), 1)   # a regular pentagon
    array([0.4, 0.4, 0.4, 0.4, 0.4])
    """
    sparsity_i, weights, seeds = _check_settings(n_features, n_hidden, sparsity, importance, steps, batch_size, lr,
                                                 seed, n_instances, n_restarts)
    sequences = [np.random.SeedSequence(int(s)) for s in seeds]
    streams = [np.random.default_rng(np.random.SeedSequence(sq.entropy, spawn_key=(0, r)))
               for sq in sequences for r in range(n_restarts)]
    eval_streams = [np.random.default_rng(np.random.SeedSequence(sq.entropy, spawn_key=(1,)))
                    for sq in sequences for _ in range(n_restarts)]
    W, b, loss, curve, curve_steps = _adam(int(n_features), int(n_hidden), np.repeat(sparsity_i, n_restarts),
                                           np.repeat(weights, n_restarts, axis=0), streams, eval_streams, int(steps),
                                           int(batch_size), float(lr), progress)
    best = loss.reshape(n_instances, n_restarts).argmin(axis=1) + n_restarts * np.arange(n_instances)
    if progress is not None:
        progress(1.0, "done")
    if n_instances == 1:
        return ToyModel(W[best[0]], b[best[0]], float(loss[best[0]]), curve[best[0]], curve_steps,
                        float(sparsity_i[0]), weights[0], int(seeds[0]))
    return ToyModel(W[best], b[best], loss[best], curve[best], curve_steps, sparsity_i, weights, seeds)


def _columns(W) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim not in (2, 3) or 0 in W.shape:
        raise ProbingInputError(f"W must be (n_hidden, n_features) or (n_instances, n_hidden, n_features) and "
                                f"non-empty; got shape {W.shape}.")
    if not np.all(np.isfinite(W)):
        raise ProbingInputError("W contains NaN or Inf values.")
    return W


def feature_dimensionality(W) -> np.ndarray:
    """How many hidden dimensions each feature owns: ``D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2``.

    1 for a feature with a dimension to itself, 1/2 for antipodal pairs, 2/5 in a
    regular pentagon, 0 for a feature that is not represented (zero column).

    Parameters
    ----------
    W : array_like of shape (n_hidden, n_features) or (n_instances, n_hidden, n_features)

    Returns
    -------
    ndarray of shape (n_features,) or (n_instances, n_features)
    """
    W = _columns(W)
    norms2 = np.sum(W * W, axis=-2)  # (..., n)
    norms = np.sqrt(norms2)
    W_hat = W / np.where(norms > 0, norms, 1.0)[..., None, :]
    overlaps = np.sum((np.swapaxes(W_hat, -1, -2) @ W) ** 2, axis=-1)  # sum_j (W_i_hat . W_j)^2
    return np.where(norms2 > 0, norms2 / np.where(overlaps > 0, overlaps, 1.0), 0.0)


def n_represented(W, threshold: float = 0.5) -> int | np.ndarray:
    """Number of features whose direction has norm above ``threshold`` (per instance if stacked)."""
    return np.sum(np.linalg.norm(_columns(W), axis=-2) > threshold, axis=-1)


def interference_matrix(W) -> np.ndarray:
    """``W^T W``, shape (n_features, n_features) (or stacked): diagonal = squared norms, off-diagonal = interference."""
    W = _columns(W)
    return np.swapaxes(W, -1, -2) @ W


def dimensions_per_feature(W) -> float | np.ndarray:
    """The paper's ``m / ||W||_F^2``: 1 with one feature per dimension, below 1 in superposition (inf if W = 0)."""
    W = _columns(W)
    frob2 = np.sum(W * W, axis=(-2, -1))
    with np.errstate(divide="ignore"):
        return W.shape[-2] / frob2

