"""Activations too big for one file or for memory, opened lazily as one ActivationSet.

:func:`load_sharded` opens

* a **Zarr** store (v2 or v3; the recommended layout for big sets): an array shaped
  ``(n_samples, n_layers, d)`` (chunks of about ``(16384, 1, d)``) or a group holding one
  under ``acts`` plus 1-D label arrays, with layer names in the ``layers`` attribute;
* a **directory or glob of shards** in any format :func:`probing.load_activations` reads
  (``.npy`` and ``.safetensors`` stay memory-mapped), concatenated along the samples in
  natural order (``2.npy`` before ``10.npy``); every shard needs the same layers, ``d``
  and dtype. SAELens's older ``{i}.safetensors`` activation buffers are such a directory;
* a **SAELens activation cache**: a Hugging Face ``datasets`` directory (``data-*.arrow``
  files in Arrow IPC stream format plus ``dataset_info.json``) with one
  ``Array2D(context_size, d_in)`` column per hook and ``token_ids``: one layer per hook,
  one sample per token; the Arrow files are memory-mapped, never copied.

The result wraps a :class:`ShardedArray`, which behaves like a read-only
``(n_samples, n_layers, d)`` array: slicing rows reads only those rows.
"""

from __future__ import annotations

import glob
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.io.files import load_file
from probing.io.header import source_attrs, stored_attrs
from probing.io.limits import ArraySpec, check_decoded, megabytes, size_limit
from probing.io.paths import is_glob
from probing.lazy import LayerStack, ShardedArray, is_lazy
from probing.errors import ProbingInputError

SHARD_SUFFIXES = (".npy", ".npz", ".safetensors", ".h5", ".hdf5", ".pt", ".pth", ".parquet", ".csv")
_ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def is_sharded_path(path) -> bool:
    """True for a directory or a glob pattern (``*``, ``?``, ``[``) that is not an existing file."""
    return Path(str(path)).is_dir() or is_glob(path)


def load_sharded(path, name: str | None = None, max_bytes: int | None = None,
                 follow_links: bool = True) -> ActivationSet:
    """Open a Zarr store, a SAELens Arrow cache, or a directory/glob of shards as one lazy ActivationSet.

    Parameters
    ----------
    path : str or Path
        A directory or a glob pattern (e.g. ``"acts/shard_*.npy"``).
    name : str, optional
        Display name (default: the directory's name).
    max_bytes : int, optional
        Most bytes all shards together may copy into memory (see :func:`probing.load_activations`);
        memory-mapped shards count only their labels.
    follow_links : bool
        ``False`` opens each shard file with ``O_NOFOLLOW`` (the tree was checked by
        :func:`probing.io.paths.check_path`).

    Returns
    -------
    ActivationSet
        ``acts`` is a :class:`ShardedArray`; nothing has been read but headers, labels and
        the NaN/Inf scan (which streams rows in chunks).
    """
    path, limit = Path(str(path)), size_limit(max_bytes)
    if path.is_dir() and any((path / m).exists() for m in _ZARR_MARKERS):
        aset = load_zarr(path, limit)
    elif path.is_dir() and list(path.glob("data-*.arrow")):
        aset = load_saelens_arrow(path)
    else:
        files, parts, copied = _shard_files(path), [], 0
        for file in files:
            try:
                parts.append(load_zarr(file, limit - copied) if file.is_dir() else
                             load_file(file, limit - copied, follow_links))
            except ProbingInputError as exc:
                raise ProbingInputError(f"Shard {file.name!r} (after {len(parts)} shards that copied "
                                        f"{megabytes(copied)} into memory): {exc}") from None
            copied += _in_memory_bytes(parts[-1])
        aset = _concatenate(parts, files, path)
    return aset.renamed(str(name) if name is not None else (path.stem if path.is_dir() else path.parent.name or "shards"))


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _shard_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in SHARD_SUFFIXES or
                 (p.is_dir() and any((p / m).exists() for m in _ZARR_MARKERS))]
        where = f"{path} is a folder, not a file, and"
    else:
        files = [Path(p) for p in glob.glob(str(path))]
        where = f"The pattern {str(path)!r}"
    if not files:
        raise ProbingInputError(
            f"{where} holds no activation shards (files ending in {', '.join(SHARD_SUFFIXES)}, Zarr stores, or a "
            "SAELens cache with data-*.arrow files). Point at a file, or at a folder of shards."
        )
    return sorted(files, key=_natural_key)


def _in_memory_bytes(aset: ActivationSet) -> int:
    """Bytes of ``aset`` held in memory (not memory-mapped or lazy): its activations if in memory, and its labels."""
    return (0 if is_lazy(aset.acts) else aset.acts.nbytes) + sum(np.asarray(v).nbytes for v in aset.labels.values())


def _concatenate(parts: list[ActivationSet], files: list[Path], path: Path) -> ActivationSet:
    """One set from shards already scanned for NaN/Inf; mismatches name the offending shard.

    ``attrs`` are the first shard's; when all they say is the shard's own file name (a file
    that stores no provenance), the folder or pattern ``path`` becomes the source instead.
    """
    first = parts[0]
    for part, file in zip(parts[1:], files[1:]):
        checks = [("d", part.d, first.d), ("dtype", part.acts.dtype, first.acts.dtype),
                  ("layers", part.layers, first.layers), ("labels", sorted(part.labels), sorted(first.labels))]
        for what, got, expected in checks:
            if got != expected:
                raise ProbingInputError(
                    f"Shard {file.name!r} has {what} {got}, but the first shard {files[0].name!r} has {expected}. "
                    f"Every shard needs the same layers, d, dtype and labels; re-export {file.name!r} to match."
                )
    acts = ShardedArray([p.acts for p in parts], kind="shards", identity=_identity(files))
    labels = {k: np.concatenate([p.labels[k] for p in parts]) for k in first.labels}
    meta = pd.concat([p.meta for p in parts], ignore_index=True)
    attrs = first.attrs
    if set(attrs) == {"source"} and attrs["source"].get("file") == files[0].name:
        attrs = source_attrs(path.name, "shards", shards=len(files))
    return ActivationSet(acts, first.layers, labels, meta, first.name, check_values=False, attrs=attrs)


def _identity(files: list[Path]) -> list:
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def load_zarr(path, max_bytes: int | None = None) -> ActivationSet:
    """A Zarr array ``(n, n_layers, d)`` (or ``(n, d)``), or a group with ``acts`` and 1-D labels, opened read-only.

    Its Zarr attributes may hold ``layers``, ``name`` and ``attrs`` (the set's provenance).
    The labels are read into memory and one chunk is decoded at a time, so both must fit in
    ``max_bytes`` (:func:`probing.io.limits.size_limit`); a store that cannot be read, however
    it is broken, raises :class:`ProbingInputError`.
    """
    path = Path(path)
    try:
        return _open_zarr(path, size_limit(max_bytes))
    except ProbingInputError:
        raise
    except Exception as exc:  # zarr raises many types (ValueError, KeyError, codec errors) for a broken store
        raise ProbingInputError(f"Could not open the Zarr store {path.name!r}: {type(exc).__name__}: {str(exc)[:300]}. "
                                "Check it opens with zarr.open, or write it again.") from exc


def _open_zarr(path: Path, limit: int) -> ActivationSet:
    import zarr  # imported here: opening the app must not pay for Zarr and Arrow

    node = zarr.open(store=str(path), mode="r")
    attrs, arrays = node.attrs.asdict(), {}
    if isinstance(node, zarr.Group):
        arrays = dict(node.arrays())
        key = next((k for k in ("acts", "activations") if k in arrays), None)
        if key is None:
            raise ProbingInputError(f"The Zarr group {path.name!r} has no 'acts' array (arrays: {sorted(arrays)}). "
                                    "Store the activations under 'acts', shaped (n_samples, n_layers, d).")
        node, arrays = arrays[key], {k: a for k, a in arrays.items() if k != key and a.ndim == 1}
    if node.dtype.kind != "f" or node.ndim not in (2, 3):
        raise ProbingInputError(f"The Zarr array in {path.name!r} is {node.dtype} with shape {node.shape}; expected "
                                "floats shaped (n_samples, d) or (n_samples, n_layers, d).")
    specs = [ArraySpec(k, tuple(a.shape), a.dtype) for k, a in arrays.items()]
    specs.append(ArraySpec("one chunk of acts", (math.prod(node.chunks),), node.dtype))
    check_decoded(specs, _tree_identity(path)[1], limit, f"The Zarr store {path.name!r}")
    labels = {k: np.asarray(a[:]) for k, a in arrays.items()}
    acts = ShardedArray([node], kind="zarr", identity=_tree_identity(path))
    return ActivationSet(acts, attrs.get("layers"), labels, None, attrs.get("name", path.stem),
                         attrs=stored_attrs(attrs, path.name, "zarr"))


def _tree_identity(path: Path) -> list:
    """Identity of a store directory: its path, total size and newest modification time."""
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return [str(path), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]


def load_saelens_arrow(path) -> ActivationSet:
    """A SAELens activation cache (HF ``datasets`` Arrow directory): one layer per hook, one sample per token.

    ``meta`` gets ``token_id`` (from the ``token_ids`` column), ``sequence`` and ``position``.
    """
    import pyarrow as pa

    path = Path(path)
    files = sorted(path.glob("data-*.arrow"), key=_natural_key)
    info_file = path / "dataset_info.json"
    try:
        features = json.loads(info_file.read_text()).get("features", {}) if info_file.exists() else {}
    except (ValueError, AttributeError) as exc:
        raise ProbingInputError(f"{info_file.name} in {path.name!r} is not a JSON object ({exc}); a SAELens cache "
                                "has the dataset_info.json that datasets.save_to_disk writes. Write it again.") from exc
    pieces, tokens, hooks = [], [], None
    for file in files:
        try:
            table = pa.ipc.open_stream(pa.memory_map(str(file), "r")).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ProbingInputError(f"Could not read {file.name!r} in {path.name!r} as an Arrow stream: {exc}. "
                                    "Is this a Hugging Face datasets save_to_disk directory?") from exc
        found = [c for c in table.column_names if features.get(c, {}).get("_type") == "Array2D"
                 or (not features and pa.types.is_list(table.schema.field(c).type)
                     and pa.types.is_list(table.schema.field(c).type.value_type))]
        if hooks is None:
            hooks = found
        if not hooks or found != hooks:
            raise ProbingInputError(f"{file.name!r} in {path.name!r} has hook columns {found}; expected {hooks or 'some'}. "
                                    "A SAELens cache has one Array2D(context_size, d_in) column per hook.")
        for b in range(table.column(hooks[0]).num_chunks):
            pieces.append(LayerStack([_token_rows(table.column(h).chunk(b), file, h) for h in hooks]))
            if "token_ids" in table.column_names:
                tokens.append(table.column("token_ids").chunk(b))
    acts = ShardedArray(pieces, kind="arrow", identity=_identity(files))
    meta = None
    if tokens:
        lengths = np.concatenate([np.diff(t.offsets.to_numpy()) for t in tokens])
        meta = pd.DataFrame({"token_id": np.concatenate([t.flatten().to_numpy() for t in tokens]),
                             "sequence": np.repeat(np.arange(len(lengths)), lengths),
                             "position": np.concatenate([np.arange(m) for m in lengths])})
        if len(meta) != acts.shape[0]:
            raise ProbingInputError(f"{path.name!r} has {len(meta)} token ids but {acts.shape[0]} activation rows; "
                                    "token_ids and the hook columns must have the same context size.")
    return ActivationSet(acts, hooks, None, meta, path.name, attrs=source_attrs(path.name, "saelens-arrow"))


def _token_rows(chunk, file: Path, hook: str) -> np.ndarray:
    """The ``(n_sequences * context_size, d)`` values of one Array2D chunk, without copying."""
    rows = chunk.flatten()
    values = rows.flatten()
    if rows.null_count or values.null_count or len(rows) == 0:
        raise ProbingInputError(f"Column {hook!r} of {file.name!r} has missing values or no rows; re-create the cache.")
    d = len(values) // len(rows)
    return values.to_numpy(zero_copy_only=False).reshape(-1, d)
