"""The direction atlas: every direction known for a layer, compared by cosine in one matrix.

Probe weights, principal components, steering vectors, LEACE subspaces, planted concepts
and dictionary rows (an SAE's decoder) are all vectors in the same ``d``-dimensional
space, so one cosine matrix says which of them agree. Rows are ordered by hierarchical
clustering on ``1 - |cos|`` (a sign flip does not make two directions different: a PC's
sign is a convention), so groups of near-parallel directions show up as blocks on the
diagonal. The Welch bound is the reference: ``m`` unit vectors in ``R^d`` cannot all
have ``|cos|`` below it, so a largest off-diagonal ``|cos|`` near the bound means the set
is as spread out as it can be, not that it is redundant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.coherence import welch_bound
from probing.directions import direction_label
from probing.errors import ProbingInputError

MAX_DIRECTIONS = 2000
COSINE_TOL = 1e-6
"""Cosines this close are one value: float32 directions carry ~1e-7 rounding, so 90 degrees prints as 2e-16 or 1e-8."""


@dataclass(frozen=True, eq=False)
class Atlas:
    """Unit directions of one space with their cosines and a clustering order.

    Attributes
    ----------
    names : list of str
        One per direction; a ``(k, d)`` entry ``"sae"`` becomes ``"sae[0]"``, ``"sae[1]"`` ...
    groups : list of str
        The entry each direction came from (``"sae"`` for ``"sae[3]"``).
    vectors : ndarray of shape (m, d)
        Unit rows.
    cosine : ndarray of shape (m, m)
        ``vectors @ vectors.T``.
    order : ndarray of shape (m,)
        Leaf order of average-linkage clustering on ``1 - |cos|``.
    welch : float
        The Welch bound for ``m`` directions in ``d`` dimensions (0 when ``m <= d``).
    """

    names: list
    groups: list
    vectors: np.ndarray
    cosine: np.ndarray
    order: np.ndarray
    welch: float

    @property
    def d(self) -> int:
        return self.vectors.shape[1]

    @property
    def coherence(self) -> float:
        """Largest ``|cos|`` between two different directions."""
        off = np.abs(self.cosine) - np.eye(len(self.names)) * 2
        return float(off.max()) if len(self.names) > 1 else 0.0

    def above_welch(self, cos) -> np.ndarray:
        """Whether ``|cos|`` exceeds the Welch bound by more than rounding (:data:`COSINE_TOL`)."""
        return np.abs(np.asarray(cos)) > self.welch + COSINE_TOL

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ProbingInputError(f"No direction named {name!r} in the atlas; available: {self.names[:10]} ...")
        return self.names.index(name)

    def nearest(self, name: str, k: int = 10) -> pd.DataFrame:
        """The ``k`` directions with the largest ``|cos|`` to ``name`` (itself excluded), most similar first."""
        i = self.index(name)
        cos = self.cosine[i].copy()
        others = np.array([j for j in np.argsort(-np.abs(cos), kind="stable") if j != i][:int(k)], dtype=int)
        angle = np.degrees(np.arccos(np.clip(np.abs(cos[others]), 0.0, 1.0)))
        return pd.DataFrame({"direction": [self.names[j] for j in others], "group": [self.groups[j] for j in others],
                             "cosine": cos[others], "abs_cos": np.abs(cos[others]), "angle_deg": angle,
                             "above_welch": self.above_welch(cos[others])})

    def to_frame(self) -> pd.DataFrame:
        """Long format, one row per ordered pair: ``row``, ``col`` names, their positions in the clustering order, ``cosine``."""
        m = len(self.names)
        rank = np.empty(m, dtype=int)
        rank[self.order] = np.arange(m)
        i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
        names = np.asarray(self.names, dtype=object)
        groups = np.asarray(self.groups, dtype=object)
        return pd.DataFrame({"row": names[i.ravel()], "col": names[j.ravel()], "row_group": groups[i.ravel()],
                             "col_group": groups[j.ravel()], "row_pos": rank[i.ravel()], "col_pos": rank[j.ravel()],
                             "cosine": self.cosine.ravel(), "abs_cos": np.abs(self.cosine).ravel()})

    def top_pairs(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` most similar pairs of different directions by ``|cos|``: ``a``, ``b``, ``cosine``, ``abs_cos``."""
        i, j = np.triu_indices(len(self.names), 1)
        best = np.argsort(-np.abs(self.cosine[i, j]), kind="stable")[:int(k)]
        i, j = i[best], j[best]
        return pd.DataFrame({"a": [self.names[r] for r in i], "b": [self.names[c] for c in j],
                             "cosine": self.cosine[i, j], "abs_cos": np.abs(self.cosine[i, j])})

    def plot(self):
        """The Atlas page's clustered cosine heatmap (see :func:`probing.charts.atlas_heatmap`)."""
        from probing import charts

        return charts.atlas_heatmap(self)

    def _repr_html_(self) -> str:
        from probing import charts

        numbers = {"directions": len(self.names), "dimension d": self.d, "Welch bound": self.welch,
                   "largest |cos| (off-diagonal)": self.coherence}
        return charts.html_summary("Atlas: most similar pairs", numbers, self.top_pairs())


def readable(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits for reading; within :data:`COSINE_TOL` of 0 it reads ``0``."""
    return "0" if abs(value) < COSINE_TOL else f"{value:.{digits}g}"


def round_frame(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy of ``frame`` with float columns at ``digits`` significant digits (rounding noise shown as 0).

    For display; keep the exact values for downloads.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind == "f":
            values = out[column].to_numpy()
            values = np.where(np.abs(values) < COSINE_TOL, 0.0, values)
            scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.where(values == 0, 1.0, np.abs(values)))))
            out[column] = np.round(values * scale) / scale
    return out


def expand(directions: dict) -> tuple[list, list, np.ndarray]:
    """Flatten ``{name: (d,) or (k, d)}`` to names, groups and a ``(m, d)`` float64 matrix."""
    if not isinstance(directions, dict) or not directions:
        raise ProbingInputError("The atlas needs a non-empty dict of name -> (d,) vector or (k, d) matrix of directions.")
    names, groups, rows, d = [], [], [], None
    for key, value in directions.items():
        V = np.asarray(value, dtype=np.float64)
        if V.ndim not in (1, 2) or V.size == 0:
            raise ProbingInputError(f"Direction set {key!r} must be (d,) or (k, d); got shape {V.shape}.")
        V = np.atleast_2d(V)
        if d is None:
            d = V.shape[1]
        if V.shape[1] != d:
            raise ProbingInputError(f"Direction set {key!r} has length {V.shape[1]} but earlier ones have d = {d}; all "
                                    "directions in one atlas must live in the same layer's space.")
        if not np.isfinite(V).all():
            raise ProbingInputError(f"Direction set {key!r} contains NaN/Inf; recompute or drop it.")
        zero = np.flatnonzero(np.linalg.norm(V, axis=1) == 0)
        if zero.size:
            raise ProbingInputError(f"Direction set {key!r} has all-zero rows {zero[:5].tolist()}; a zero vector has no "
                                    "direction. Drop them.")
        single = np.ndim(value) == 1
        names += [str(key)] if single else [f"{key}[{i}]" for i in range(len(V))]
        groups += [str(key)] * len(V)
        rows.append(V)
    return names, groups, np.concatenate(rows)


def direction_atlas(directions: dict, max_directions: int = MAX_DIRECTIONS) -> Atlas:
    """Cosines between every pair of directions, clustered.

    Parameters
    ----------
    directions : dict of str to array_like of shape (d,) or (k, d)
        Named directions or direction sets (rows), all of the same length ``d``.
    max_directions : int
        Refuse more rows than this (the matrix is ``m x m``); pass fewer dictionary rows.

    Returns
    -------
    Atlas
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    names, groups, V = expand(directions)
    m, d = V.shape
    if m > max_directions:
        raise ProbingInputError(f"The atlas got {m} directions; at most {max_directions} fit in one cosine matrix. "
                                "Keep fewer dictionary rows (e.g. the first few hundred SAE features).")
    if len(set(names)) != m:
        raise ProbingInputError("Direction names must be unique; rename the sets that clash.")
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    cosine = np.clip(U @ U.T, -1.0, 1.0)
    np.fill_diagonal(cosine, 1.0)
    if m > 2:
        distance = np.clip(1.0 - np.abs(cosine), 0.0, None)
        np.fill_diagonal(distance, 0.0)
        order = leaves_list(linkage(squareform((distance + distance.T) / 2, checks=False), method="average",
                                    optimal_ordering=m <= 500))
    else:
        order = np.arange(m)
    return Atlas(names, groups, U, cosine, np.asarray(order), welch_bound(m, d) if m >= 2 else 0.0)


def pca_directions(X, k: int = 5, seed: int = 0) -> dict:
    """The top ``k`` principal components of ``X (n, d)`` as ``{"PC1": (d,), ...}``.

    Components along which the data does not vary (variance below ``1e-12`` of the largest, or
    every one when ``X`` is constant, e.g. an all-zero layer) are left out: any unit vector
    would do there, so they are no direction of the data.
    """
    from probing.pca import fit_pca

    basis = fit_pca(X, n_components=min(int(k), *np.shape(X)), seed=seed)
    variance = np.asarray(basis.explained_variance)
    kept = variance > 1e-12 * variance.max() if variance.size and variance.max() > 0 else np.zeros(len(variance), bool)
    return {f"PC{i + 1}": row for i, row in enumerate(basis.components) if kept[i]}


def probe_directions(aset, per: str = "label", label: str | None = None, layer=-1,
                     method: str = "lda") -> dict[str, np.ndarray]:
    """Unit probe directions fitted on ``aset``: one per label at one layer, or one per layer for one label.

    Parameters
    ----------
    aset : ActivationSet
    per : {"label", "layer"}
        ``"label"``: a probe for every categorical label at ``layer``;
        ``"layer"``: a probe for ``label`` at every layer.
    label : str, optional
        The label, for ``per="layer"``.
    layer : int or str
        The layer, for ``per="label"``.
    method : str
        Passed to :func:`probing.probes.fit_probe`.

    Returns
    -------
    dict of str to ndarray of shape (d,)
        Named as everywhere (:func:`probing.directions.direction_label`), e.g.
        ``"probe · sentiment (lda) · block_3"``; a multi-class probe gives one direction per
        class, ``"probe · topic=sport (lda) · block_3"``.
    """
    from probing.probes import fit_probe

    if per == "label":
        index = aset.layer_index(layer)
        jobs = [(name, index) for name in aset.categorical_labels()]
        if not jobs:
            raise ProbingInputError(f"{aset.name!r} has no categorical labels to fit probes for; add labels first.")
    elif per == "layer":
        if not isinstance(label, str):
            raise ProbingInputError(f"per='layer' fits one label at every layer; pass label=<one of "
                                    f"{aset.categorical_labels()}>, got {label!r}.")
        aset.label(label)
        jobs = [(label, i) for i in range(aset.n_layers)]
    else:
        raise ProbingInputError(f"per must be 'label' or 'layer'; got {per!r}.")
    found = {}
    for name, index in jobs:
        probe = fit_probe(np.asarray(aset.layer(index), dtype=np.float32), aset.labels[name], method=method)
        rows = np.atleast_2d(probe.direction_)
        row_names = [name] if len(rows) == 1 else [f"{name}={c}" for c in probe.classes_]
        found.update({direction_label("probe", f"{row} ({method})", aset.layers[index]): vector
                      for row, vector in zip(row_names, rows)})
    return found


def leace_subspace(X, y) -> np.ndarray:
    """Orthonormal rows ``(r, d)`` spanning the column space of the LEACE eraser's projection for label ``y``."""
    from probing.erasure import fit_eraser

    eraser = fit_eraser(X, y)
    u, s, _ = np.linalg.svd(eraser.proj, full_matrices=False)
    return u[:, :eraser.rank].T


def planted_directions(aset, layer) -> dict:
    """The directions :func:`probing.synthetic.make_concept_embeddings` planted, if ``aset`` came from it.

    Read from ``aset.attrs`` (the generator's record, saved in every file header), so they
    are exact for any concept cosine and survive saving, loading and renaming; a set from
    anywhere else yields ``{}``. The generator plants the same directions at every layer;
    ``layer`` is checked against the set.

    Returns
    -------
    dict
        ``{"planted · concept_<k> · <layer>": (d,) unit vector}``, named as every direction is
        (:func:`probing.directions.direction_label`).
    """
    from probing.synthetic import planted

    layer_name = aset.layers[aset.layer_index(layer)]
    return {direction_label("planted", name, layer_name): u for name, u in planted(aset).items()}
