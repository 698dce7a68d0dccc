"""Direction sets: named directions of one layer's space, with where they came from.

Probe weights, principal components, steering vectors, LEACE subspaces, planted concepts
and uploaded dictionaries (an SAE's decoder rows) are all ``(k, d)`` matrices of directions
in a layer's space. A :class:`DirectionSet` holds one such matrix with its provenance
(dataset fingerprint, layer, method, parameters, owner, when), so it can be saved in the
shared workspace (:meth:`probing.store.Workspace.add_directions`) and used by any page or
colleague. Every direction is shown under one label, :func:`direction_label`:
``"probe · sentiment (lda) · block_3"`` (method · name · layer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError

METHODS = ("probe", "pca", "steering", "leace", "planted", "sae", "uploaded")
"""What made a direction set: a probe, PCA, a steering vector, LEACE, a planted concept, an SAE, an upload."""
SEPARATOR = " · "
MAX_NAME = 200


def direction_label(method: str, name: str, layer: str | None = None) -> str:
    """The display label of one direction: ``"method · name · layer"`` (the layer part only when known).

    Parameters
    ----------
    method : str
        One of :data:`METHODS` (``"probe"``, ``"pca"``, ...).
    name : str
        The direction's own name: the set's name for a single direction, the row's name otherwise.
    layer : str, optional
        The layer's name (e.g. ``"block_3"``).

    Examples
    --------
    >>> direction_label("probe", "sentiment (lda)", "block_3")
    'probe · sentiment (lda) · block_3'
    """
    return SEPARATOR.join(str(part) for part in (method, name, layer) if part is not None and str(part) != "")


@dataclass(frozen=True, eq=False)
class DirectionSet:
    """``k`` named directions of one layer's ``d``-dimensional space, with their provenance.

    Parameters
    ----------
    name : str
        What the set is, e.g. ``"sentiment (lda)"``; 1-200 characters.
    vectors : array_like of shape (k, d) or (d,)
        The directions, one per row: finite, none all-zero. Their lengths are kept
        (a mean-difference steering vector's length means something); compare by angle.
    method : str
        One of :data:`METHODS`.
    row_names : sequence of str, optional
        One unique name per row; defaults to ``(name,)`` for one row and
        ``"name[0]"``, ``"name[1]"`` ... for more.
    dataset : str, optional
        Fingerprint of the dataset the directions were computed on.
    layer : str, optional
        Name of the layer they live in.
    layer_index : int, optional
        Its position in the dataset's layers.
    params : dict
        JSON-able parameters that reproduce the set (label, estimator, seed, file name ...).
    owner : str, optional
        Who saved it (set by the workspace).
    created : str, optional
        When it was saved, ISO 8601 UTC (set by the workspace).
    """

    name: str
    vectors: np.ndarray
    method: str
    row_names: tuple = ()
    dataset: str | None = None
    layer: str | None = None
    layer_index: int | None = None
    params: dict = field(default_factory=dict)
    owner: str | None = None
    created: str | None = None

    def __post_init__(self):
        name = str(self.name).strip() if self.name is not None else ""
        if not name or len(name) > MAX_NAME:
            raise ProbingInputError(f"A direction set's name must be 1-{MAX_NAME} characters; got {self.name!r}.")
        if self.method not in METHODS:
            raise ProbingInputError(f"Unknown direction method {self.method!r}; expected one of {', '.join(METHODS)}.")
        vectors = _check_vectors(self.vectors, name)
        k = len(vectors)
        rows = tuple(str(r) for r in self.row_names) or ((name,) if k == 1 else tuple(f"{name}[{i}]" for i in range(k)))
        if len(rows) != k or len(set(rows)) != k:
            raise ProbingInputError(f"Direction set {name!r} has {k} rows but {len(rows)} row names "
                                    f"({len(set(rows))} distinct); give one unique name per row.")
        try:
            params = json.loads(json.dumps(dict(self.params or {}), default=_json_scalar))
        except (TypeError, ValueError) as exc:
            raise ProbingInputError(f"The parameters of direction set {name!r} must be JSON-able (numbers, strings, "
                                    f"lists, dicts); got {self.params!r} ({exc}).") from exc
        if self.dataset is not None and not (isinstance(self.dataset, str) and self.dataset.isalnum()):
            raise ProbingInputError(f"The dataset of direction set {name!r} must be a fingerprint; got {self.dataset!r}.")
        for attribute, value in (("name", name), ("vectors", vectors), ("row_names", rows), ("params", params),
                                 ("layer", None if self.layer is None else str(self.layer)),
                                 ("layer_index", None if self.layer_index is None else int(self.layer_index))):
            object.__setattr__(self, attribute, value)

    @classmethod
    def for_layer(cls, aset, layer, name: str, vectors, method: str, params: dict | None = None,
                  row_names=()) -> DirectionSet:
        """A set computed on layer ``layer`` (index or name) of ``aset``, checking it lives in that space.

        Raises
        ------
        ProbingInputError
            The vectors' length is not the dataset's ``d``, or any check of the constructor fails.
        """
        index = aset.layer_index(layer)
        found = np.shape(vectors)[-1] if np.ndim(vectors) else 0
        if found != aset.d:
            raise ProbingInputError(f"Direction set {name!r} has vectors of length {found}, but layer "
                                    f"{aset.layers[index]!r} of {aset.name!r} has d = {aset.d}; a direction must live "
                                    "in the space of the layer it belongs to.")
        return cls(name, vectors, method, tuple(row_names), aset.fingerprint, aset.layers[index], index,
                   dict(params or {}))

    @property
    def k(self) -> int:
        """Number of directions (rows)."""
        return self.vectors.shape[0]

    @property
    def d(self) -> int:
        """Dimension of the space."""
        return self.vectors.shape[1]

    @property
    def labels(self) -> list[str]:
        """The display label of every row (:func:`direction_label` of method, row name and layer)."""
        return [direction_label(self.method, row, self.layer) for row in self.row_names]

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{label: (d,) vector}``, one entry per row (what the atlas and the pickers take)."""
        return dict(zip(self.labels, self.vectors))

    def provenance(self) -> dict:
        """Everything but the vectors, JSON-able (the header of a saved set)."""
        return {"name": self.name, "method": self.method, "row_names": list(self.row_names), "dataset": self.dataset,
                "layer": self.layer, "layer_index": self.layer_index, "params": self.params, "owner": self.owner,
                "created": self.created, "k": self.k, "d": self.d}

    @property
    def content_id(self) -> str:
        """24 hex characters identifying the vectors and what made them (not who saved it, nor when)."""
        made = {key: value for key, value in self.provenance().items() if key not in ("owner", "created")}
        digest = hashlib.sha256(json.dumps(made, sort_keys=True).encode())
        digest.update(f"{self.vectors.dtype.str}{self.vectors.shape}".encode())
        digest.update(np.ascontiguousarray(self.vectors).tobytes())
        return digest.hexdigest()[:24]

    def with_owner(self, owner: str | None, created: str | None) -> DirectionSet:
        """The same set recorded as saved by ``owner`` at ``created``."""
        return dataclasses.replace(self, owner=owner, created=created)

    def to_frame(self) -> pd.DataFrame:
        """One row per direction: ``label``, ``row``, ``method``, ``layer``, ``norm``, then entries ``x0 ... x{d-1}``."""
        head = pd.DataFrame({"label": self.labels, "row": list(self.row_names), "method": self.method,
                             "layer": self.layer, "norm": np.linalg.norm(self.vectors.astype(np.float64), axis=1)})
        body = pd.DataFrame(self.vectors, columns=[f"x{i}" for i in range(self.d)])
        return pd.concat([head, body], axis=1)


def unique_labels(dirsets) -> dict[str, np.ndarray]:
    """``{label: (d,) vector}`` over several sets; a label that two different sets share gets ``" #<id>"`` appended."""
    dirsets = list(dirsets)
    counts: dict[str, int] = {}
    for dirset in dirsets:
        for label in dirset.labels:
            counts[label] = counts.get(label, 0) + 1
    out = {}
    for dirset in dirsets:
        for label, vector in dirset.as_dict().items():
            out[label if counts[label] == 1 else f"{label} #{dirset.content_id[:6]}"] = vector
    return out


def drop_zero(directions: dict) -> tuple[dict, list[str]]:
    """Split ``{name: (d,) or (k, d)}`` into the directions that have one and the names of zero vectors.

    A zero vector (e.g. the class-mean difference of a layer whose class means coincide, or a
    probe fitted on an all-zero layer) has no direction: cosines with it are undefined. Rows of
    a ``(k, d)`` set that are zero are dropped one by one; the other rows keep their names
    ``"<name>[i]"`` as separate entries so that no name shifts.

    Returns
    -------
    kept : dict
        The non-zero directions, in order.
    dropped : list of str
        The names of the zero ones (``"<name>[i]"`` for rows of a set).
    """
    kept, dropped = {}, []
    for key, value in directions.items():
        V = np.asarray(value)
        tiny = np.finfo(V.dtype if V.dtype.kind == "f" else np.float64).tiny  # as DirectionSet refuses them
        zero = np.linalg.norm(np.atleast_2d(V).astype(np.float64), axis=1) <= tiny
        if not zero.any():
            kept[key] = value
        elif V.ndim == 1:
            dropped.append(str(key))
        else:
            for i, row in enumerate(V):
                if zero[i]:
                    dropped.append(f"{key}[{i}]")
                else:
                    kept[f"{key}[{i}]"] = row
    return kept, dropped


def distinguishing(labels) -> tuple[list[str], str]:
    """Each :func:`direction_label` cut to the fields that tell it apart from the others, and the fields all share.

    ``["probe · label (lda) · block_1", "probe · label (lda) · block_2"]`` gives
    ``(["block_1", "block_2"], "probe · label (lda)")``: short names for a table or an axis
    that do not all truncate to the same prefix. Labels with different numbers of fields, or
    only one label, are returned unchanged with ``""`` shared.
    """
    labels = [str(label) for label in labels]
    fields = [label.split(SEPARATOR) for label in labels]
    if len(labels) < 2 or len({len(f) for f in fields}) != 1:
        return labels, ""
    same = [len({f[i] for f in fields}) == 1 for i in range(len(fields[0]))]
    if all(same):
        return labels, ""
    short = [SEPARATOR.join(part for part, keep in zip(f, same) if not keep) for f in fields]
    return short, SEPARATOR.join(part for part, keep in zip(fields[0], same) if keep)


def along_class_means(direction, X, y, positive) -> np.ndarray:
    """``direction`` rescaled so that adding it once moves the negative class mean onto the positive one along it.

    Parameters
    ----------
    direction : array_like of shape (d,)
        Any non-zero direction (a probe's, a PC, a saved set's row).
    X : array_like of shape (n_samples, d)
    y : array_like of shape (n_samples,)
        Two classes.
    positive
        The class to steer towards (e.g. :func:`probing.steering.binary_classes`' choice); the other is negative.

    Returns
    -------
    ndarray of shape (d,)
        ``((mean(x+) - mean(x-)) · u) u`` for the unit vector ``u`` of ``direction``: a steering
        vector with the same ``alpha = 1`` meaning as the mean difference.
    """
    u = _check_vectors(direction, "direction")[0].astype(np.float64)
    u /= np.linalg.norm(u)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(u):
        raise ProbingInputError(f"X must be (n_samples, {len(u)}) to match the direction; got shape {X.shape}.")
    y = np.asarray(y)
    is_positive = y == positive
    if len(np.unique(y)) != 2 or not is_positive.any():
        raise ProbingInputError(f"y must have exactly two classes, one of them {positive!r}; got classes "
                                f"{np.unique(y)[:5].tolist()}.")
    gap = X[is_positive].mean(axis=0) - X[~is_positive].mean(axis=0)
    return (gap @ u) * u


def _check_vectors(vectors, name: str) -> np.ndarray:
    """A read-only float ``(k, d)`` copy, refusing empty, non-finite and all-zero rows."""
    try:
        V = np.array(vectors)
    except (TypeError, ValueError) as exc:
        raise ProbingInputError(f"Direction set {name!r}: vectors must be a numeric (k, d) array ({exc}).") from exc
    if V.dtype.kind not in "iuf":
        raise ProbingInputError(f"Direction set {name!r}: vectors must be numbers; got dtype {V.dtype}.")
    V = V.astype(V.dtype if V.dtype in (np.float32, np.float64) else np.float64)
    V = V.reshape(1, -1) if V.ndim == 1 else V
    if V.ndim != 2 or V.shape[0] == 0 or V.shape[1] == 0:
        raise ProbingInputError(f"Direction set {name!r} must be (d,) or (k, d) with k, d >= 1; got shape {np.shape(vectors)}.")
    if not np.isfinite(V).all():
        bad = np.flatnonzero(~np.isfinite(V).all(axis=1))
        raise ProbingInputError(f"Direction set {name!r} has NaN/Inf in rows {bad[:5].tolist()}; recompute it or "
                                "drop those rows.")
    zero = np.flatnonzero(np.linalg.norm(V.astype(np.float64), axis=1) <= np.finfo(V.dtype).tiny)
    if zero.size:
        raise ProbingInputError(
            f"Direction set {name!r} has all-zero rows {zero[:5].tolist()} ({zero.size} of {len(V)}): a zero vector has "
            "no direction, so it is not saved. This happens when the class means coincide (e.g. a constant layer); "
            "pick another layer or label, or drop those rows.")
    V.flags.writeable = False
    return V


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


__all__ = ["METHODS", "DirectionSet", "along_class_means", "direction_label", "unique_labels"]
