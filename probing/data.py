"""The data model: an :class:`ActivationSet` holds one model's activations for a set of inputs.

Activations are shaped ``(n_samples, n_layers, d)``; one layer is a plain ``(n, d)``
array. Labels are 1-D arrays of length ``n_samples`` (categorical or numeric), and
``meta`` is a DataFrame with one row per sample (text, ids, ...).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from probing import budget
from probing.errors import ProbingInputError
from probing.lazy import ShardedArray, is_dask, is_lazy, storage_kind
from probing.provenance import to_json
from probing.truncation import truncate_text

FLOAT_DTYPES = (np.float16, np.float32, np.float64)
_HASH_CHUNK_BYTES = 64 * 2**20
FULL_HASH_BYTES = 512 * 2**20
MAX_CLASSES = 50
"""Most classes a label may have to be probed (:func:`is_categorical`'s cap)."""
"""Lazy activations (memory maps, Zarr, shards, Dask) larger than this are fingerprinted from a sample."""
_HASH_SAMPLES = 256


def check_finite(array: np.ndarray, what: str, chunk_rows: int | None = None) -> None:
    """Raise :class:`ProbingInputError` naming the first NaN/Inf position in ``array``.

    Works in row chunks sized by the memory budget (:mod:`probing.budget`), so memory
    maps, Zarr arrays and shards are never read in full at once.
    """
    n = array.shape[0] if array.ndim else 1
    row_bytes = int(np.prod(array.shape[1:], dtype=np.int64)) * (array.dtype.itemsize + 2)  # values + two masks
    chunk_rows = chunk_rows or budget.chunk_rows(row_bytes)
    for start in range(0, max(n, 1), chunk_rows):
        block = np.asarray(array[start:start + chunk_rows])
        if _all_finite(block):
            continue
        bad = ~np.isfinite(block)
        first = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(block[tuple(first)]) else "Inf"
        first[0] += start
        raise ProbingInputError(
            f"{what} contains {kind} values ({int(bad.sum())} non-finite in rows {start}-{start + len(block) - 1}; "
            f"first at index {tuple(int(i) for i in first)}). Remove or impute those samples before loading."
        )


def _all_finite(block: np.ndarray) -> bool:
    """Whether every value of ``block`` is finite (fast for float16, where numpy's isfinite is slow)."""
    if block.dtype == np.float16:  # a half is non-finite exactly when its five exponent bits are all ones
        exponents = np.bitwise_and(np.ascontiguousarray(block).view(np.uint16), 0x7C00)
        return int(exponents.max(initial=0)) != 0x7C00
    return not (~np.isfinite(block)).any()


def as_2d_float(X, what: str = "X", min_samples: int = 2, finite: bool = True) -> np.ndarray:
    """Validate a ``(n_samples, n_features)`` float matrix and return it (float32 or float64).

    Parameters
    ----------
    X : array_like
        The matrix to check.
    what : str
        Name used in error messages.
    min_samples : int
        Fewest rows accepted.
    finite : bool
        Check for NaN/Inf (a pass over the data). ``False`` leaves that to a caller whose
        own pass makes non-finite input show up in its result.
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ProbingInputError(f"{what} must be numeric; got dtype {X.dtype}. Convert it to floats first.")
    if X.ndim != 2:
        raise ProbingInputError(
            f"{what} must be 2-D (n_samples, n_features); got {X.ndim}-D shape {X.shape}. "
            "Reshape your data, e.g. X.reshape(n, -1), or pick one layer of an ActivationSet."
        )
    if X.shape[0] < min_samples:
        raise ProbingInputError(f"{what} needs at least {min_samples} samples; got shape {X.shape}.")
    if X.shape[1] < 1:
        raise ProbingInputError(f"{what} has no features; got shape {X.shape}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if finite:
        check_finite(X, what)
    return X


class ActivationSet:
    """Activations of one model for ``n_samples`` inputs at ``n_layers`` layers.

    Parameters
    ----------
    acts : array_like of shape (n_samples, n_layers, d) or (n_samples, d)
        float16/float32/float64 activations, kept in their dtype (other numbers become
        float32); may be a memory map. float64 stays float64 because rounding to float32
        can erase a signal that is small next to a large common offset.
        A 2-D array becomes a single layer.
    layers : list of str, optional
        One name per layer; defaults to ``layer_0``, ``layer_1``, ...
    labels : dict of str to array_like, optional
        Each of length ``n_samples``, categorical or numeric.
    meta : pandas.DataFrame, optional
        One row per sample (e.g. a ``text`` column).
    name : str, optional
        Display name only: nothing reads meaning from it (see ``attrs``).
    attrs : dict, optional
        Provenance: where the set came from, as JSON-able data (generator and all its
        parameters, model and pooling, source file, ...). Saved in every file header and
        read back by every reader; kept by :meth:`renamed` and :meth:`with_labels`.
    check_values : bool
        Scan the activations for NaN/Inf (in chunks). ``False`` only when the caller has
        already scanned these very values (e.g. a new set sharing another's ``acts``).

    Attributes
    ----------
    fingerprint : str
        Hash of activations, layer names, labels and meta; the cache key. In-memory sets and
        lazy sets up to ``FULL_HASH_BYTES`` hash every value. Larger lazy sets (memory maps,
        Zarr, shards, Dask) hash their shape, dtype, the files' identity (path, size,
        modification time) and 256 evenly spaced rows, so opening a 10 GB file does not read
        it all; rewriting a file in place changes its modification time and so the key.
        ``name`` and ``attrs`` are not part of it.
    attrs : dict
        A private copy of the ``attrs`` passed in, as plain JSON types (lists, not tuples
        or arrays).

    Notes
    -----
    ``acts`` may be lazy: a ``numpy.memmap``, a :class:`probing.lazy.ShardedArray` (Zarr
    arrays, shard directories and activation caches), or a ``dask.array.Array``. Nothing is
    read in full: the NaN/Inf scan and the fingerprint work in chunks, and analyses stream
    rows in chunks sized by the memory budget.
    """

    def __init__(self, acts, layers=None, labels=None, meta=None, name: str = "activations",
                 check_values: bool = True, attrs: dict | None = None):
        acts = _as_array_like(acts)
        if acts.dtype == object or not np.issubdtype(acts.dtype, np.number):
            raise ProbingInputError(
                f"Activations must be numeric floats; got dtype {acts.dtype}. Save them as float16/float32 arrays."
            )
        if acts.ndim == 2:
            acts = acts[:, None, :]  # a view: memory maps, shards and Dask arrays stay lazy
        if acts.ndim != 3:
            raise ProbingInputError(
                f"Activations must be (n_samples, d) or (n_samples, n_layers, d); got {acts.ndim}-D shape {acts.shape}. "
                "Flatten extra axes (e.g. tokens) into n_samples first."
            )
        if acts.dtype not in FLOAT_DTYPES:
            acts = acts.astype(np.float32)
        n, n_layers, d = acts.shape
        if n < 2:
            raise ProbingInputError(f"Need at least 2 samples; got shape {acts.shape}.")
        if n_layers < 1 or d < 1:
            raise ProbingInputError(f"Activations have an empty axis: shape {acts.shape}.")
        if check_values:
            check_finite(acts, "Activations")
        self.acts = acts
        self.layers = [str(x) for x in layers] if layers is not None else [f"layer_{i}" for i in range(n_layers)]
        if len(self.layers) != n_layers:
            raise ProbingInputError(f"Got {len(self.layers)} layer names for {n_layers} layers in shape {acts.shape}.")
        if len(set(self.layers)) != n_layers:
            raise ProbingInputError(f"Layer names must be unique; got {self.layers}.")
        self.labels = {str(k): _check_label(k, v, n) for k, v in (labels or {}).items()}
        if meta is None:
            meta = pd.DataFrame(index=pd.RangeIndex(n))
        if not isinstance(meta, pd.DataFrame):
            raise ProbingInputError(f"meta must be a pandas DataFrame; got {type(meta).__name__}.")
        if len(meta) != n:
            raise ProbingInputError(f"meta has {len(meta)} rows but the activations have {n} samples; one row per sample.")
        self.meta = meta.reset_index(drop=True)
        self.name = str(name)
        self.attrs = _check_attrs(attrs)
        self._fingerprint = None

    @property
    def n_samples(self) -> int:
        return self.acts.shape[0]

    @property
    def n_layers(self) -> int:
        return self.acts.shape[1]

    @property
    def d(self) -> int:
        return self.acts.shape[2]

    @property
    def shape(self) -> tuple:
        return self.acts.shape

    @property
    def nbytes(self) -> int:
        return int(self.acts.nbytes)

    @property
    def storage(self) -> str:
        """Where the activations live: ``memory``, ``memmap``, ``zarr``, ``shards``, ``arrow`` or ``dask``."""
        return storage_kind(self.acts)

    def layer_index(self, layer) -> int:
        """Position of ``layer`` (an int, negative counts from the end, or a layer name)."""
        if isinstance(layer, str):
            if layer not in self.layers:
                raise ProbingInputError(f"Unknown layer {layer!r}; available: {self.layers}.")
            return self.layers.index(layer)
        index = int(layer)
        if not -self.n_layers <= index < self.n_layers:
            raise ProbingInputError(f"Layer {index} is out of range for {self.n_layers} layers (valid: 0..{self.n_layers - 1}).")
        return index % self.n_layers

    def layer(self, layer) -> np.ndarray:
        """The ``(n_samples, d)`` activations of one layer (a view; a slice of a memmap stays lazy)."""
        return self.acts[:, self.layer_index(layer), :]

    def label(self, y) -> np.ndarray:
        """Resolve ``y``, a label name or an array of length ``n_samples``, to an array."""
        if isinstance(y, str):
            if y not in self.labels:
                raise ProbingInputError(f"Unknown label {y!r}; available labels: {sorted(self.labels) or 'none'}.")
            return self.labels[y]
        return _check_label("y", y, self.n_samples)

    @property
    def fingerprint(self) -> str:
        """Content hash (hex, 16 characters) of activations, layers, labels and meta.

        ``attrs`` is provenance, not content, and is left out on purpose: the fingerprint is
        the cache key of the data and the workspace's file name, so the same values reached
        another way (re-saved, re-described, renamed) share cached results and one stored
        file. Two sets differing only in ``attrs`` compute the same analyses.
        """
        if self._fingerprint is None:
            h = hashlib.blake2b(digest_size=8)
            h.update(json.dumps([list(self.acts.shape), str(self.acts.dtype), self.layers]).encode())
            _hash_values(h, self.acts)
            for key in sorted(self.labels):
                h.update(key.encode())
                h.update(pd.util.hash_array(np.asarray(self.labels[key], dtype=object)).tobytes())
            if len(self.meta.columns):
                h.update(pd.util.hash_pandas_object(self.meta.astype(str), index=False).values.tobytes())
                h.update(json.dumps(list(map(str, self.meta.columns))).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def with_labels(self, **labels) -> "ActivationSet":
        """A new set sharing the activations and ``attrs``, with extra or replaced labels."""
        return ActivationSet(self.acts, self.layers, {**self.labels, **labels}, self.meta, self.name,
                             check_values=False, attrs=self.attrs)

    def renamed(self, name: str) -> "ActivationSet":
        """A new set with another display name, sharing everything else (no re-scan, same fingerprint).

        Use it instead of assigning ``name``: a set may be shared (a bundled set is cached
        for every session of a hosted dashboard), and renaming it in place would rename it
        for everyone.
        """
        new = ActivationSet(self.acts, self.layers, self.labels, self.meta, name, check_values=False,
                            attrs=self.attrs)
        new._fingerprint = self._fingerprint  # same content; name and attrs are not hashed
        return new

    def label_summary(self) -> pd.DataFrame:
        """One row per label: kind, number of classes and class counts (or range for numeric labels).

        Integer and text labels with few distinct values for the number of samples (at most
        one per two samples) are classes, however many: 600 class ids stay ``categorical``,
        not a numeric "min 0, mean 300". Class names are cut to 40 characters here.
        """
        rows = []
        for key, values in self.labels.items():
            if is_categorical(values) or looks_like_classes(values):
                classes, counts = np.unique(values.astype(str) if values.dtype == object else values, return_counts=True)
                detail = ", ".join(f"{truncate_text(str(c), 40)}: {k}" for c, k in zip(classes[:12], counts[:12]))
                detail += " ..." if len(classes) > 12 else ""
                if len(classes) > MAX_CLASSES:
                    detail = (f"more than the {MAX_CLASSES} classes a probe takes: probe a subset (e.g. the "
                              f"{MAX_CLASSES} most frequent classes) or merge classes. {detail}")
                rows.append({"label": key, "kind": "categorical", "classes": len(classes), "counts": detail})
            elif values.dtype.kind in "OUSb":
                rows.append({"label": key, "kind": "text", "classes": None,
                             "counts": f"{len(np.unique(values.astype(str)))} distinct values (too many to probe as classes)"})
            else:
                rows.append({"label": key, "kind": "numeric", "classes": None,
                             "counts": f"min {np.min(values):.3g}, mean {np.mean(values):.3g}, max {np.max(values):.3g}"})
        return pd.DataFrame(rows, columns=["label", "kind", "classes", "counts"]).astype({"classes": "Int64"})

    def layer_summary(self, chunk_rows: int | None = None) -> pd.DataFrame:
        """Per layer: the vector length ``||x||`` (mean and spread) and the mean cosine between different samples.

        One pass over the rows in chunks sized by the memory budget, so memory maps and
        shards are never read in full. A mean cosine near 1 means every vector points in
        nearly the same direction (the space is *anisotropic*), so centring matters before
        comparing or probing; lengths usually grow with depth in real models.

        Returns
        -------
        pandas.DataFrame
            One row per layer: ``layer`` (index), ``name``, ``mean_norm``, ``std_norm``, ``mean_cosine``.
        """
        n, n_layers, d = self.shape
        chunk_rows = chunk_rows or budget.chunk_rows(3 * n_layers * d * 8)
        norm_sum, norm_sq, unit_sum = np.zeros(n_layers), np.zeros(n_layers), np.zeros((n_layers, d))
        for start in range(0, n, chunk_rows):
            X = np.asarray(self.acts[start:start + chunk_rows], dtype=np.float64)  # [rows, n_layers, d]
            norms = np.linalg.norm(X, axis=2)
            norm_sum += norms.sum(axis=0)
            norm_sq += (norms ** 2).sum(axis=0)
            unit_sum += (X / np.maximum(norms, 1e-12)[:, :, None]).sum(axis=0)
        mean = norm_sum / n
        return pd.DataFrame({"layer": np.arange(n_layers), "name": self.layers, "mean_norm": mean,
                             "std_norm": np.sqrt(np.maximum(norm_sq / n - mean ** 2, 0.0)),
                             "mean_cosine": (np.einsum("ld,ld->l", unit_sum, unit_sum) - n) / (n * (n - 1))})

    def categorical_labels(self) -> list[str]:
        """Names of labels that can be probed as classes."""
        return [k for k, v in self.labels.items() if is_categorical(v)]

    def __repr__(self) -> str:
        return (f"ActivationSet(name={self.name!r}, shape={self.shape}, dtype={self.acts.dtype}, "
                f"labels={list(self.labels)}, fingerprint={self.fingerprint})")


def _as_array_like(acts):
    """``acts`` unchanged when it is an in-memory ndarray, a memmap of float16/32 or a Dask array; other
    array-likes with shape, dtype and slicing (Zarr, memmaps of other dtypes) wrapped in a
    :class:`probing.lazy.ShardedArray` (which casts rows as they are read); anything else ``np.asarray``."""
    wrap = isinstance(acts, np.memmap) and acts.dtype not in FLOAT_DTYPES
    if (isinstance(acts, np.ndarray) and not wrap) or is_dask(acts):
        return acts
    if all(hasattr(acts, a) for a in ("shape", "dtype", "ndim", "__getitem__")):
        if isinstance(acts, ShardedArray):
            return acts
        return ShardedArray([acts], kind="memmap" if isinstance(acts, np.memmap) else "lazy")
    return np.asarray(acts)


def _hash_values(h, acts) -> None:
    """Feed ``acts`` to the hash: every value, or for large lazy arrays a strided sample plus file identity."""
    n = acts.shape[0]
    row_bytes = max(1, int(np.prod(acts.shape[1:])) * acts.dtype.itemsize)
    if is_lazy(acts) and n * row_bytes > FULL_HASH_BYTES:
        identity = getattr(acts, "identity", None) or _memmap_identity(acts)
        h.update(json.dumps(identity).encode())
        for row in np.linspace(0, n - 1, _HASH_SAMPLES).astype(np.int64):
            h.update(np.ascontiguousarray(np.asarray(acts[row:row + 1])).tobytes())
        return
    rows = min(max(1, _HASH_CHUNK_BYTES // row_bytes), budget.chunk_rows(2 * row_bytes, minimum=1))
    for start in range(0, n, rows):
        h.update(memoryview(np.ascontiguousarray(np.asarray(acts[start:start + rows]))).cast("B"))  # no copy


def _memmap_identity(acts) -> list:
    filename = getattr(acts, "filename", None)
    if not filename:
        return []
    stat = Path(filename).stat()
    return [str(filename), stat.st_size, stat.st_mtime_ns]


def looks_like_classes(values: np.ndarray) -> bool:
    """True for integer or text labels with at most one distinct value per two samples: class ids, however many.

    :func:`is_categorical` also caps the number of classes (what a probe can take); this
    says only what kind of label it is, e.g. 600 integer class ids over 6,000 samples.
    """
    values = np.asarray(values)
    if not (values.dtype.kind in "OUSb" or np.issubdtype(values.dtype, np.integer)) or len(values) < 2:
        return False
    return len(np.unique(values.astype(str) if values.dtype == object else values)) <= len(values) // 2


def is_categorical(values: np.ndarray, max_classes: int = MAX_CLASSES) -> bool:
    """True for labels to treat as classes: non-float, or floats with few distinct integer values."""
    values = np.asarray(values)
    if values.dtype.kind in "OUSb" or np.issubdtype(values.dtype, np.integer):
        return len(np.unique(values.astype(str) if values.dtype == object else values)) <= max(max_classes, 2)
    uniq = np.unique(values)
    return len(uniq) <= max_classes and bool(np.all(np.mod(uniq, 1) == 0))


def _check_attrs(attrs) -> dict:
    """A private copy of ``attrs`` as plain JSON types; :class:`ProbingInputError` if it is not JSON-able."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise ProbingInputError(f"attrs must be a dict saying where the set came from; got {type(attrs).__name__}.")
    keys = [key for key in attrs if not isinstance(key, str)]
    if keys:
        raise ProbingInputError(f"attrs keys must be strings; got {keys[:5]}. Use str(key).")
    return json.loads(to_json(attrs, "attrs (the set's provenance)"))


def _check_label(name, values, n: int) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise ProbingInputError(f"Label {name!r} must be 1-D with one value per sample; got shape {values.shape}.")
    if len(values) != n:
        raise ProbingInputError(
            f"Label {name!r} has {len(values)} values but there are {n} samples; labels must line up with rows."
        )
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ProbingInputError(f"Label {name!r} contains NaN/Inf at rows {np.flatnonzero(~np.isfinite(values))[:5].tolist()}.")
    if values.dtype == object:
        values = values.astype(str)
    return values
