"""Readers for the file formats :func:`probing.io.dispatch.load_activations` accepts.

Each reader takes a :class:`Source` (a path on disk, or the bytes of an upload) and
returns the named arrays it found plus the ``probing`` header that
:func:`probing.io.dispatch.save_activations` writes (``None`` for files from other tools);
the tabular reader returns a DataFrame. Nothing here ever unpickles: ``.npy`` headers
are checked for object dtypes before any data is read, ``np.load`` runs with
``allow_pickle=False``, PyTorch files go through ``torch.load(weights_only=True)``,
and ``.h5`` files that would make the reader open other files are refused.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError

ACTS_KEYS = ("acts", "activations")
LAYER_KEY = re.compile(r"layer_(\d+)")
"""Names of activations in archives: one ``acts`` array, or per-layer ``layer_<i>`` arrays."""
HEADER_KEY = "__probing__"
"""Name of the JSON header: an ``.npz`` member, or a key of the safetensors ``__metadata__``."""

SAFETENSORS_DTYPES = {
    "BOOL": np.dtype(bool), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
_PICKLE_FIX = ("Loading it would have to unpickle Python objects, which can run arbitrary code, so it is refused. "
               "Store strings as a unicode array (np.asarray(values, dtype=str)) and numbers as numeric arrays.")


@dataclass(frozen=True)
class Source:
    """Where a file's bytes come from: ``path`` on disk, or ``data`` already in memory."""

    path: Path | None
    data: bytes | None
    hint: str
    size: int

    def open(self):
        """A binary file object positioned at the start."""
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)

    def head(self, n: int) -> bytes:
        with self.open() as f:
            return f.read(n)

    def tail(self, n: int) -> bytes:
        with self.open() as f:
            f.seek(max(0, self.size - n))
            return f.read()


def _npy_header(f, what: str) -> tuple[np.dtype, tuple, int]:
    """Parse a ``.npy`` header (never its data): dtype, shape and where the data starts."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    if dtype.hasobject:
        raise ProbingInputError(f"{what} holds pickled Python objects (dtype {dtype}). {_PICKLE_FIX}")
    return dtype, shape, f.tell()


def read_npy(src: Source) -> tuple[dict, None]:
    """A ``.npy`` array as ``{"acts": array}``; memory-mapped (not read) when ``src`` is a path."""
    with src.open() as f:
        dtype, shape, offset = _npy_header(f, f"The .npy file {src.hint!r}")
    expected = offset + math.prod(shape) * dtype.itemsize
    if src.size < expected:
        raise ProbingInputError(
            f"The .npy file {src.hint!r} is truncated: its header promises shape {shape} of {dtype} "
            f"({expected} bytes) but the file has {src.size} bytes. Copy or export it again completely."
        )
    if src.path is not None and math.prod(shape) > 0:
        return {"acts": np.load(src.path, mmap_mode="r", allow_pickle=False)}, None
    with src.open() as f:
        return {"acts": np.load(f, allow_pickle=False)}, None


def zip_members(src: Source) -> list[str]:
    """Names of the members of a zip archive (``.npz`` or a PyTorch file)."""
    try:
        with src.open() as f, zipfile.ZipFile(f) as zf:
            return zf.namelist()
    except zipfile.BadZipFile as exc:
        raise ProbingInputError(
            f"{src.hint or 'The upload'} starts like a zip archive (.npz or PyTorch file) but cannot be opened "
            f"({exc}); it is probably truncated. Copy or export it again completely."
        ) from exc


def read_npz(src: Source, max_bytes: int) -> tuple[dict, dict | None]:
    """Every ``.npy`` member of an ``.npz`` archive, by name; object arrays are refused before reading."""
    arrays = {}
    with src.open() as f, zipfile.ZipFile(f) as zf:
        members = [info for info in zf.infolist() if info.filename.endswith(".npy")]
        expanded = sum(info.file_size for info in members)
        if expanded > max_bytes:
            raise ProbingInputError(
                f"The .npz archive {src.hint!r} expands to {expanded / 2**20:.0f} MB, over the "
                f"{max_bytes / 2**20:.0f} MB limit. Split it, or raise the limit (max_bytes= or PROBING_MAX_UPLOAD_MB)."
            )
        for info in members:
            key = info.filename[:-len(".npy")]
            with zf.open(info) as member:
                _npy_header(member, f"Array {key!r} in {src.hint or 'the .npz archive'}")
            with zf.open(info) as member:
                arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    header = arrays.pop(HEADER_KEY, None)
    return arrays, (json.loads(str(header)) if header is not None else None)


def read_safetensors(src: Source) -> tuple[dict, dict | None]:
    """Tensors of a ``.safetensors`` file; memory-mapped for paths, bfloat16 widened to float32."""
    with src.open() as f:
        header_len = int.from_bytes(f.read(8), "little")
        if 8 + header_len > src.size:
            raise ProbingInputError(
                f"The .safetensors file {src.hint!r} is truncated: its header alone should be {header_len} bytes "
                f"but the file has {src.size}. Copy or export it again completely."
            )
        header = json.loads(f.read(header_len))
    start = 8 + header_len
    metadata = header.pop("__metadata__", None) or {}
    arrays = {}
    for key, spec in header.items():
        begin, end = spec["data_offsets"]
        shape = tuple(spec["shape"])
        dtype = np.dtype("<u2") if spec["dtype"] == "BF16" else SAFETENSORS_DTYPES.get(spec["dtype"])
        if dtype is None:
            raise ProbingInputError(
                f"Tensor {key!r} in {src.hint!r} has dtype {spec['dtype']}, which cannot be read as numbers here. "
                "Convert it to float16/float32 before saving."
            )
        if end - begin != math.prod(shape) * dtype.itemsize or start + end > src.size:
            raise ProbingInputError(
                f"Tensor {key!r} in the .safetensors file {src.hint!r} needs bytes {begin}-{end} for shape {shape}, "
                f"but the file has {src.size - start} data bytes: it is truncated or corrupt. Save it again."
            )
        if end == begin:
            array = np.empty(shape, dtype=dtype)
        elif src.path is not None:
            array = np.memmap(src.path, dtype=dtype, mode="r", offset=start + begin, shape=shape)
        else:
            array = np.frombuffer(src.data, dtype=dtype, count=math.prod(shape), offset=start + begin).reshape(shape)
        if spec["dtype"] == "BF16":
            array = (np.asarray(array, dtype=np.uint32) << 16).view(np.float32)
        arrays[key] = array
    return arrays, (json.loads(metadata[HEADER_KEY]) if HEADER_KEY in metadata else None)


def read_hdf5(src: Source) -> tuple[dict, None]:
    """Every dataset of an HDF5 file by path; files that link to other files are refused."""
    import h5py

    datasets = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Group):
            _check_links(obj, src, h5py)
        elif obj.is_virtual or obj.external:
            kind = "a virtual dataset" if obj.is_virtual else "an external dataset (raw data in other files)"
            raise ProbingInputError(
                f"Dataset {name!r} in {src.hint!r} is {kind}; reading it would open other files, so the file is "
                "refused. Copy the data into the file itself (e.g. f2[name] = f1[name][()] in h5py) and upload that."
            )
        else:
            datasets[name] = obj

    with h5py.File(src.path if src.path is not None else io.BytesIO(src.data), "r") as h5:
        _check_links(h5, src, h5py)
        h5.visititems(visit)
        return {name: _read_dataset(name, ds, h5py) for name, ds in datasets.items()}, None


def _check_links(group, src: Source, h5py) -> None:
    for key in group:
        link = group.get(key, getlink=True)
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            raise ProbingInputError(
                f"{group.name.rstrip('/')}/{key} in {src.hint!r} is a {type(link).__name__} to another file; following "
                "it would open files outside the upload, so the file is refused. Copy the linked data into the file."
            )


def _read_dataset(name: str, ds, h5py) -> np.ndarray:
    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[()], dtype=str)
    if ds.dtype.kind not in "biuf":
        raise ProbingInputError(
            f"Dataset {name!r} has type {ds.dtype}, which is not numeric or text. Store activations as float "
            "arrays and labels as numbers or strings."
        )
    return ds[()]


def read_torch(src: Source) -> tuple[dict, None]:
    """A PyTorch file holding a tensor or a dict of tensors, loaded with ``weights_only=True``."""
    try:
        import torch
    except ImportError as exc:
        raise ProbingInputError(
            f"{src.hint or 'This upload'} is a PyTorch file, and reading it needs torch, which is not installed. "
            "Install torch (pip install torch==2.13.0) or re-save the tensors with safetensors.torch.save_file."
        ) from exc
    with src.open() as f:
        try:
            obj = torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            raise ProbingInputError(
                f"The PyTorch file {src.hint!r} contains Python objects other than tensors and plain containers"
                f"{f' (it needs {found.group(1)})' if found else ''}. Loading it could run code, so it is refused. "
                "Save a dict of tensors instead: torch.save({'acts': acts, 'label': labels}, path)."
            ) from exc
    if isinstance(obj, torch.Tensor):
        obj = {"acts": obj}
    if not isinstance(obj, dict):
        raise ProbingInputError(
            f"The PyTorch file {src.hint!r} holds a {type(obj).__name__}; expected a tensor or a dict of tensors "
            "like {'acts': acts, 'label': labels}. Re-save it in that form."
        )
    return {str(key): _torch_to_numpy(key, value, torch) for key, value in obj.items()}, None


def _torch_to_numpy(key, value, torch) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return np.asarray(value)
    raise ProbingInputError(
        f"Entry {key!r} of the PyTorch dict is a {type(value).__name__}; expected a tensor (or a list of "
        "strings/numbers for a label). Remove it or convert it to a tensor."
    )


def read_table(src: Source, fmt: str) -> pd.DataFrame:
    """A ``.parquet`` or ``.csv`` (``.tsv`` by name) file as a DataFrame.

    A CSV whose first row is all numbers (other than the column numbers 0, 1, ... that
    ``DataFrame.to_csv`` writes) has no header row, so its columns are numbered; an
    unnamed first column (what ``DataFrame.to_csv`` writes for the index) is called ``index``.
    """
    if fmt == "parquet" and src.tail(4) != b"PAR1":
        raise ProbingInputError(
            f"The Parquet file {src.hint!r} is truncated (it lacks the closing PAR1 marker). Export it again completely."
        )
    with src.open() as f:
        if fmt == "parquet":
            return pd.read_parquet(f)
        sep = "\t" if src.hint.lower().endswith(".tsv") else ","
        df = pd.read_csv(f, sep=sep, encoding="utf-8-sig")
        names = [str(c) for c in df.columns]
        if all(_is_float(c) for c in names) and names != [str(i) for i in range(len(names))]:
            f.seek(0)
            df = pd.read_csv(f, sep=sep, encoding="utf-8-sig", header=None)
        return df.rename(columns={c: "index" for c in df.columns[:1] if c == "Unnamed: 0"})  # DataFrame.to_csv's index


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
