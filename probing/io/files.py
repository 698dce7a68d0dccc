"""One activation file (a path, bytes or an upload) into an :class:`ActivationSet`, never running code from it.

:func:`load_file` decides the format from the file's first bytes (the name is only a hint)
and hands it to a reader in :mod:`probing.io.readers`; it is what
:func:`probing.load_activations` calls for a file and what :mod:`probing.io.shards` calls
for each shard.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from probing.data import ActivationSet, check_finite, is_categorical
from probing.errors import ProbingInputError
from probing.io import readers, tables
from probing.io.header import decode_labels, decode_meta, source_attrs, stored_attrs
from probing.io.limits import too_big
from probing.io.readers import ACTS_KEYS, LAYER_KEY, Source

SUPPORTED = ".npy, .npz, .safetensors, .pt/.pth (PyTorch zip), .h5/.hdf5, .parquet and .csv"
_REFUSED_PICKLE = ("{what} is a raw Python pickle (or a pre-1.6 PyTorch file). Unpickling runs code stored in the file, "
                   "so it is never loaded. Save the arrays as .npz (numpy.savez) or .safetensors, or re-save PyTorch "
                   "tensors with a current torch.save.")
FIXES = {
    "npy": "Save it again with numpy.save(path, acts).",
    "npz": "Save it again with numpy.savez(path, acts=acts, label=labels).",
    "safetensors": "Save it again with safetensors.numpy.save_file({'acts': acts}, path).",
    "hdf5": "Check it opens with h5py, or save it again.",
    "torch": "Save it again with torch.save({'acts': acts, 'label': labels}, path), or as .safetensors.",
    "parquet": "Check it opens with pandas.read_parquet, or export it again.",
    "csv": "Check it opens with pandas.read_csv (one row per sample, a header row), or export it again.",
}



def load_file(path_or_filelike, limit: int, follow_links: bool = True) -> ActivationSet:
    """Read one activation file of any supported format, copying at most ``limit`` bytes into memory.

    Parameters
    ----------
    path_or_filelike : str, Path, bytes or binary file object
        The file (see :func:`probing.load_activations`).
    limit : int
        Most bytes the load may copy into memory (:func:`probing.io.limits.size_limit`): an upload's bytes and
        whatever the file decodes to, computed from its metadata before reading; what is
        memory-mapped in place does not count (:mod:`probing.io.limits`).
    follow_links : bool
        ``False`` refuses a path that is a symbolic link when it is opened (``O_NOFOLLOW``).

    Returns
    -------
    ActivationSet

    Raises
    ------
    ProbingInputError
        For anything that cannot be read safely, with a message saying what to fix.
    """
    src = open_source(path_or_filelike, limit, follow_links)
    fmt = "file"
    try:
        fmt = detect_format(src)
        if fmt in ("parquet", "csv"):
            return _from_table(tables.read_table(src, fmt, limit), src, fmt)
        read = {"npy": readers.read_npy, "safetensors": readers.read_safetensors, "hdf5": readers.read_hdf5,
                "torch": readers.read_torch, "npz": readers.read_npz}[fmt]
        arrays, header = read(src, limit)
        return _from_arrays(arrays, header, src, fmt)
    except ProbingInputError:
        raise
    except Exception as exc:  # every low-level reader failure becomes one clear message
        raise ProbingInputError(
            f"Could not read {src.hint or 'the upload'} as {fmt}: {type(exc).__name__}: {str(exc)[:300]}. "
            f"The file may be truncated or corrupt. {FIXES.get(fmt, 'Export it again.')}"
        ) from exc


def detect_format(src: Source) -> str:
    """The format of ``src`` from its first bytes: ``npy``, ``npz``, ``torch``, ``hdf5``, ``parquet``,
    ``safetensors`` or ``csv``; raw pickles and unknown content raise :class:`ProbingInputError`."""
    head = src.head(65536)
    what = repr(src.hint) if src.hint else "The upload"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        members = readers.zip_members(src)
        if any(m == "data.pkl" or m.endswith("/data.pkl") for m in members):
            return "torch"
        if any(m.endswith(".npy") for m in members):
            return "npz"
        raise ProbingInputError(
            f"{what} is a zip archive with no arrays in it (members: {members[:10]}). Put the activations in it "
            "with numpy.savez(path, acts=acts) or torch.save({'acts': acts}, path)."
        )
    if any(head[at:at + 8] == b"\x89HDF\r\n\x1a\n" for at in (0, 512, 1024, 2048)):  # after a user block
        return "hdf5"
    if head.startswith(b"PAR1"):
        return "parquet"
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100 * 2**20:
        return "safetensors"
    if head.startswith(b"\x80"):
        raise ProbingInputError(_REFUSED_PICKLE.format(what=what))
    if is_text(head):
        return "csv"
    hint = f" (it is named {src.hint!r}, but its content does not match)" if Path(src.hint).suffix else ""
    raise ProbingInputError(
        f"{what} is not a supported activation file{hint}; it starts with bytes {head[:8]!r}. "
        f"Supported formats: {SUPPORTED}. Export the activations in one of them."
    )


def is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multi-byte character cut by the 64 KiB window
    return True


def open_source(obj, limit: int, follow_links: bool = True) -> Source:
    """A :class:`Source` for a path, bytes or a binary file object.

    Bytes and file objects are read into memory, so more than ``limit`` of them is refused;
    a path is not read here, and its readers count what they will copy (see :func:`load_file`).
    """
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.is_file():
            problem = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise ProbingInputError(f"{path} {problem}. Check the path (relative paths start at {Path.cwd()}).")
        src = Source(path=path, data=None, hint=path.name, size=path.stat().st_size, follow_links=follow_links)
    elif isinstance(obj, (bytes, bytearray, memoryview)) or hasattr(obj, "read"):
        hint = Path(str(getattr(obj, "name", "") or "")).name
        declared = getattr(obj, "size", None)
        if hasattr(obj, "read") and getattr(obj, "seekable", lambda: False)():
            declared = obj.seek(0, os.SEEK_END)  # the size without reading it
            obj.seek(0)
        if isinstance(declared, int) and declared > limit:
            raise too_big(declared, limit, repr(hint) if hint else "The upload")
        if hasattr(obj, "read"):
            data = obj.read(limit + 1)
        else:
            data = bytes(obj)
        if not isinstance(data, (bytes, bytearray)):
            raise ProbingInputError(f"Reading the upload gave {type(data).__name__}, not bytes. Open the file in binary mode ('rb').")
        if len(data) > limit:
            raise too_big(len(data), limit, repr(hint) if hint else "The upload")
        src = Source(path=None, data=bytes(data), hint=hint, size=len(data))
    else:
        raise ProbingInputError(f"Expected a file path or a binary file object; got {type(obj).__name__}.")
    if src.size == 0:
        raise ProbingInputError(f"{src.hint or 'The upload'} is empty (0 bytes). Check the export finished and upload it again.")
    return src


def _from_arrays(arrays: dict, header: dict | None, src: Source, fmt: str) -> ActivationSet:
    """Assemble activations (``acts``/``activations``, or ``layer_<i>`` stacked) and 1-D labels.

    ``attrs`` come from the header exactly as saved; a file without them gets its name and format.
    """
    where = src.hint or "the upload"
    if not arrays:
        raise ProbingInputError(f"{where} contains no arrays. Save the activations in it under the name 'acts'.")
    acts_keys = [k for k in arrays if k in ACTS_KEYS]
    layer_keys = sorted((k for k in arrays if LAYER_KEY.fullmatch(k)), key=lambda k: int(k[len("layer_"):]))
    if len(acts_keys) > 1 or (acts_keys and layer_keys):
        raise ProbingInputError(
            f"{where} has activations under several names ({acts_keys + layer_keys}). Keep either one 'acts' "
            "array or the per-layer 'layer_<i>' arrays."
        )
    matrices = [k for k, a in arrays.items() if a.ndim >= 2]
    if acts_keys:
        key = acts_keys[0]
    elif not layer_keys and (len(arrays) == 1 or len(matrices) == 1):
        key = next(iter(arrays)) if len(arrays) == 1 else matrices[0]
    elif not layer_keys:
        raise ProbingInputError(
            f"Found no activations in {where} (arrays: {list(arrays)[:12]}). Name them 'acts' (shape (n, d) or "
            "(n, n_layers, d)) or 'layer_0', 'layer_1', ... (each (n, d))."
        )
    if layer_keys:
        for k in layer_keys:
            _check_acts(arrays[k], k, where, ndims=(2,))
        shapes = {arrays[k].shape for k in layer_keys}
        if len(shapes) > 1:
            raise ProbingInputError(f"The per-layer arrays in {where} differ in shape ({sorted(shapes)}); every layer must be (n, d).")
        acts, layers, used = np.stack([arrays[k] for k in layer_keys], axis=1), layer_keys, set(layer_keys)
    else:
        acts, layers, used = _check_acts(arrays[key], key, where, ndims=(2, 3)), None, {key}
    n = acts.shape[0]
    labels = {k: _label(k, a, n, where) for k, a in arrays.items() if k not in used}
    if n < 2:
        raise ProbingInputError(f"{where} has {n} sample; at least 2 are needed to compare anything. Add more samples (rows).")
    header = header or {}
    try:  # the constructor scans the activations for NaN/Inf once, in chunks (memory maps stay lazy)
        return ActivationSet(acts, header.get("layers", layers), decode_labels(labels, header.get("labels", {})),
                             decode_meta(header.get("meta", []), n), header.get("name", Path(src.hint).stem or "activations"),
                             attrs=stored_attrs(header, src.hint, fmt))
    except ProbingInputError as exc:
        arrays_used = repr(key) if not layer_keys else f"{layer_keys[0]!r}..{layer_keys[-1]!r}"
        raise ProbingInputError(f"{where}, array {arrays_used} (indexed sample, layer, column): {exc}") from None


def _check_acts(array: np.ndarray, key: str, where: str, ndims: tuple) -> np.ndarray:
    if array.dtype.kind not in "iuf":
        raise ProbingInputError(
            f"Array {key!r} in {where} has dtype {array.dtype}; activations must be numbers. "
            "Save them as float16/float32 arrays."
        )
    if array.ndim not in ndims:
        expected = " or ".join({2: "(n_samples, d)", 3: "(n_samples, n_layers, d)"}[k] for k in ndims)
        raise ProbingInputError(
            f"Array {key!r} in {where} is {array.ndim}-D with shape {array.shape}; expected {expected}. "
            + ("Add a feature axis (x.reshape(n, 1)) or save several samples." if array.ndim < 2 else
               "Flatten extra axes (e.g. tokens) into samples: x.reshape(-1, n_layers, d).")
        )
    return array


def _label(key: str, array: np.ndarray, n: int, where: str) -> np.ndarray:
    if array.ndim != 1 or len(array) != n:
        raise ProbingInputError(
            f"Array {key!r} in {where} has shape {array.shape}, but labels need one value per sample ({n},). "
            "Fix its length, or remove it from the file if it is not a label."
        )
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    if array.dtype.kind not in "biufU":
        raise ProbingInputError(f"Label {key!r} in {where} has dtype {array.dtype}; labels must be numbers or strings.")
    if array.dtype.kind == "f":
        check_finite(array, f"Label {key!r} in {where}")
    return np.array(array)  # a small in-memory copy, not a view into a memory-mapped file


def _from_table(df: pd.DataFrame, src: Source, fmt: str) -> ActivationSet:
    """Numeric columns are one layer; ``label`` and text columns are labels / meta, id columns are meta."""
    where = src.hint or "the table"
    features = [c for c in df.columns if c != "label" and _is_number(df[c]) and not _is_id(c)]
    if not features:
        raise ProbingInputError(
            f"{where} has no numeric columns (columns: {list(df.columns)[:12]}). Put one activation dimension per "
            "column, one row per sample, with numbers in every cell."
        )
    if len(df) < 2:
        raise ProbingInputError(f"{where} has {len(df)} row(s); at least 2 samples are needed. Add more rows.")
    acts = df[features].to_numpy()
    bad = ~np.isfinite(acts)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ProbingInputError(
            f"{where} has {int(bad.sum())} missing or non-finite values in its numeric columns; the first is in "
            f"column {features[col]!r}, row {row}. Fill or drop those rows before loading."
        )
    labels, meta = split_columns(df.drop(columns=features), where)
    return ActivationSet(acts, None, labels, meta, Path(src.hint).stem or "activations",
                         attrs=source_attrs(src.hint, fmt))


def _is_id(name) -> bool:
    """Columns named ``index``, ``id`` or ``*_id`` hold row identifiers: meta, not features or labels."""
    return str(name) in ("index", "id") or str(name).endswith("_id")


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def split_columns(df: pd.DataFrame, where: str) -> tuple[dict, pd.DataFrame]:
    """Labels (numeric columns, ``label``, text with repeated values) and meta (ids and non-numeric columns)."""
    labels, meta = {}, pd.DataFrame(index=df.index)
    for col in df.columns:
        column = df[col]
        if _is_number(column) and not _is_id(col):
            labels[str(col)] = column.to_numpy()
            if labels[str(col)].dtype.kind == "f":
                check_finite(labels[str(col)], f"Column {col!r} of {where}")
            continue
        meta[col] = column
        if _is_id(col):
            continue
        values = column.astype(str).to_numpy(dtype=str)
        if col == "label" or (len(np.unique(values)) < len(values) and is_categorical(values)):
            labels[str(col)] = values
    return labels, meta
