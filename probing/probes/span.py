"""Probes in the span of the data: few samples in many dimensions cost ``n x n``, not ``d x d``.

Every closed-form probe of ``n`` rows lives in the span of the centred rows (at most
``n - 1`` dimensions): the class-mean differences lie in it, and the shrunk within-class
covariance maps it onto itself. So with ``n`` much smaller than ``d`` (50 sentences from a
model with ``d = 8192``), the rows can be written in an orthonormal basis of that span,
probed there with the original ``d`` in the shrinkage target, and the directions mapped
back: the same probes and scores, with ``(n - 1)^2`` matrices instead of ``d^2``.
"""

from __future__ import annotations

import numpy as np

from probing.data import ActivationSet


def worth_projecting(n: int, d: int) -> bool:
    """True when the span of ``n`` centred rows is at most half of ``d`` dimensions."""
    return n - 1 <= d // 2


def span_bases(aset: ActivationSet) -> tuple[ActivationSet, np.ndarray]:
    """The rows of every layer in an orthonormal basis of that layer's centred rows.

    Parameters
    ----------
    aset : ActivationSet of shape (n, n_layers, d)

    Returns
    -------
    projected : ActivationSet of shape (n, n_layers, r), float64
        ``r`` is the largest rank of a layer's centred rows (at least 1); a layer of lower
        rank is padded with zero columns.
    bases : ndarray of shape (n_layers, d, r)
        Orthonormal columns (zero for padding): a direction ``w`` of the projected set is
        ``bases[layer] @ w`` in the original space.
    """
    n, n_layers, d = aset.shape
    per_layer = []
    for layer in range(n_layers):
        X = np.asarray(aset.layer(layer), dtype=np.float64)
        _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
        rank = int(np.sum(s > s[0] * max(n, d) * np.finfo(np.float64).eps)) if s.size and s[0] > 0 else 0
        per_layer.append(Vt[:rank].T)
    r = max(1, max(basis.shape[1] for basis in per_layer))
    bases = np.zeros((n_layers, d, r))
    acts = np.empty((n, n_layers, r))
    for layer, basis in enumerate(per_layer):
        bases[layer, :, :basis.shape[1]] = basis
        acts[:, layer] = np.asarray(aset.layer(layer), dtype=np.float64) @ bases[layer]
    return ActivationSet(acts, aset.layers, check_values=False), bases
