"""Lazy activations: array-likes whose values stay on disk or on a cluster.

A leaf module (it imports nothing else from :mod:`probing` but the error type), so the data
model (:mod:`probing.data`) and the readers (:mod:`probing.io`) can both use it without
an import cycle. :class:`ShardedArray` behaves like a read-only ``(n_samples, n_layers, d)``
array: slicing rows reads only those rows.
"""

from __future__ import annotations

import numpy as np

from probing.errors import ProbingInputError


def is_lazy(array) -> bool:
    """True for array-likes whose values stay on disk or on a cluster (memmap, Zarr, shards, Dask)."""
    return isinstance(array, np.memmap) or not isinstance(array, np.ndarray)


def storage_kind(array) -> str:
    """Where activations live: ``memory``, ``memmap``, ``dask``, or the ``kind`` of a sharded array."""
    if isinstance(array, np.memmap):
        return "memmap"
    if isinstance(array, np.ndarray):
        return "memory"
    return "dask" if is_dask(array) else getattr(array, "kind", type(array).__name__)


def is_dask(array) -> bool:
    """True for a ``dask.array.Array`` (checked by module, so dask need not be installed)."""
    return type(array).__module__.startswith("dask.")


class LayerStack:
    """Per-layer ``(n, d)`` arrays seen as one ``(n, n_layers, d)`` array (rows stacked on read)."""

    def __init__(self, layers: list):
        self.layers = layers
        self.shape = (layers[0].shape[0], len(layers), layers[0].shape[1])
        self.dtype = np.dtype(layers[0].dtype)
        self.ndim = 3

    def __getitem__(self, rows) -> np.ndarray:
        return np.stack([np.asarray(layer[rows]) for layer in self.layers], axis=1)


class ShardedArray:
    """Read-only array-like ``(n_samples, n_layers, d)``: shards concatenated along the samples.

    Parameters
    ----------
    shards : list of array-likes
        Each ``(n_i, n_layers, d)`` or ``(n_i, d)`` (one layer), with ``shape``, ``dtype`` and
        row slicing (numpy arrays and memmaps, Zarr arrays, ...). Same ``n_layers`` and ``d``.
    kind : str
        What backs it, for display (``"zarr"``, ``"shards"``, ``"arrow"``, ...).
    dtype : dtype, optional
        Dtype rows are cast to when read (default: the shards' dtype).
    identity : list, optional
        JSON-able description of the files (path, size, modification time) for fingerprints.

    Examples
    --------
    >>> a = ShardedArray([np.zeros((3, 2, 4)), np.ones((2, 2, 4))])
    >>> a.shape, a[2:4, 0].tolist()
    ((5, 2, 4), [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    """

    ndim = 3

    def __init__(self, shards: list, kind: str = "shards", dtype=None, identity: list | None = None):
        self.shards = [s if s.ndim == 3 else LayerStack([s]) for s in shards]
        shapes = {s.shape[1:] for s in self.shards}
        if len(shapes) != 1:
            raise ProbingInputError(f"Shards differ in (n_layers, d): {sorted(shapes)}; they must all match.")
        self.bounds = np.cumsum([0] + [s.shape[0] for s in self.shards])
        self.shape = (int(self.bounds[-1]),) + shapes.pop()
        self.dtype = np.dtype(dtype if dtype is not None else self.shards[0].dtype)
        self.kind = kind
        self.identity = identity or []

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def astype(self, dtype) -> "ShardedArray":
        """The same shards, cast to ``dtype`` as rows are read."""
        return ShardedArray(self.shards, self.kind, dtype, self.identity)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[:] if dtype is None else self[:].astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows, rest = (key[0] if key else slice(None)), key[1:]
        if rows is Ellipsis:
            rows, rest = slice(None), key
        if isinstance(rows, (int, np.integer)):
            index = int(rows) + (self.shape[0] if rows < 0 else 0)
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"row {rows} is out of range for {self.shape[0]} rows")
            return self._read(index, index + 1)[(0,) + rest]
        if isinstance(rows, slice) and rows.step in (None, 1):
            start, stop, _ = rows.indices(self.shape[0])
            block = self._read(start, max(start, stop))
        else:
            block = self._take(np.arange(self.shape[0])[rows])
        return block[(slice(None),) + rest]

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` from the shards they span, as one in-memory array."""
        parts = []
        first = int(np.searchsorted(self.bounds, start, side="right")) - 1
        for s in range(max(first, 0), len(self.shards)):
            lo, hi = self.bounds[s], self.bounds[s + 1]
            if lo >= stop:
                break
            parts.append(np.asarray(self.shards[s][max(start, lo) - lo:min(stop, hi) - lo]))
        if not parts:
            return np.empty((0,) + self.shape[1:], self.dtype)
        block = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return block.astype(self.dtype, copy=False)

    def _take(self, index: np.ndarray) -> np.ndarray:
        """Arbitrary rows (fancy or strided indexing), read one by one: meant for small samples."""
        out = np.empty((len(index),) + self.shape[1:], self.dtype)
        for at, row in enumerate(index):
            out[at] = self._read(int(row), int(row) + 1)[0]
        return out

    def __repr__(self) -> str:
        return f"ShardedArray(kind={self.kind!r}, shape={self.shape}, dtype={self.dtype}, shards={len(self.shards)})"
