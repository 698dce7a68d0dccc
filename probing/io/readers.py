"""Readers for the file formats :func:`probing.io.dispatch.load_activations` accepts.

Each reader takes a :class:`Source` (a path on disk, or the bytes of an upload) and the
size limit, and returns the named arrays it found plus the ``probing`` header that
:func:`probing.io.dispatch.save_activations` writes (``None`` for files from other tools);
tables are read by :mod:`probing.io.tables`. Before reading any data, each reader works out
from the file's metadata what it will copy into memory and refuses more than the limit
(:mod:`probing.io.limits`); what is memory-mapped in place does not count.

Nothing here ever unpickles: ``.npy`` headers are checked for object dtypes before any
data is read, ``np.load`` runs with ``allow_pickle=False``, PyTorch files go through
``torch.load(weights_only=True)``, and ``.h5`` files that would make the reader open
other files are refused.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.errors import ProbingInputError
from probing.io.limits import ArraySpec, check_decoded, check_shape, megabytes, fix_text, size_limit

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
    """Where a file's bytes come from: ``path`` on disk, or ``data`` already in memory.

    With ``follow_links=False`` a path that is a symbolic link is refused when opened
    (``O_NOFOLLOW``), so a link swapped in after a check cannot lead elsewhere.
    """

    path: Path | None
    data: bytes | None
    hint: str
    size: int
    follow_links: bool = True

    def open(self):
        """A binary file object positioned at the start."""
        if self.path is None:
            return io.BytesIO(self.data)
        flags = os.O_RDONLY | (0 if self.follow_links else getattr(os, "O_NOFOLLOW", 0))
        try:
            return os.fdopen(os.open(self.path, flags), "rb")
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ProbingInputError(f"{self.path} is a symbolic link; links are not followed here, so it is refused. "
                                    "Copy the file itself into the data folder.") from exc

    def head(self, n: int) -> bytes:
        with self.open() as f:
            return f.read(n)

    def tail(self, n: int) -> bytes:
        with self.open() as f:
            f.seek(max(0, self.size - n))
            return f.read()

    def memmap(self, dtype, offset: int, shape: tuple, order: str = "C") -> np.memmap:
        """The bytes at ``offset`` as a read-only memory map (``self.path`` must be set)."""
        with self.open() as f:
            array = np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        array.filename = str(self.path.resolve())  # the file's identity, for fingerprints
        return array


def _npy_header(f, what: str) -> tuple[np.dtype, tuple, bool, int]:
    """Parse a ``.npy`` header (never its data): dtype, shape, Fortran order and where the data starts."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    if dtype.hasobject:
        raise ProbingInputError(f"{what} holds pickled Python objects (dtype {dtype}). {_PICKLE_FIX}")
    return dtype, check_shape(shape, what), fortran, f.tell()


def read_npy(src: Source, limit: int | None = None) -> tuple[dict, None]:
    """A ``.npy`` array as ``{"acts": array}``; memory-mapped (not read, not counted) when ``src`` is a path."""
    what = f"The .npy file {src.hint!r}"
    with src.open() as f:
        dtype, shape, fortran, offset = _npy_header(f, what)
    spec = ArraySpec("acts", shape, dtype, in_place=src.path is not None and math.prod(shape) > 0)
    expected = offset + spec.count * dtype.itemsize
    if src.size < expected:
        raise ProbingInputError(
            f"{what} is truncated: its header promises shape {shape} of {dtype} ({expected} bytes) but the file has "
            f"{src.size} bytes. Copy or export it again completely."
        )
    check_decoded([spec], src.size, size_limit(limit), what)
    if spec.in_place:
        return {"acts": src.memmap(dtype, offset, shape, "F" if fortran else "C")}, None
    with src.open() as f:
        return {"acts": np.load(f, allow_pickle=False)}, None


def zip_members(src: Source) -> list[str]:
    """Names of the members of a zip archive (``.npz`` or a PyTorch file)."""
    try:
        with src.open() as f, zipfile.ZipFile(f) as zf:
            return zf.namelist()
    except Exception as exc:  # BadZipFile, UnicodeDecodeError on member names, NotImplementedError, ...
        raise ProbingInputError(
            f"{src.hint or 'The upload'} starts like a zip archive (.npz or PyTorch file) but cannot be opened "
            f"({type(exc).__name__}: {str(exc)[:200]}); it is probably truncated or corrupt. Copy or export it again."
        ) from exc


def read_npz(src: Source, limit: int | None = None) -> tuple[dict, dict | None]:
    """Every ``.npy`` member of an ``.npz`` archive, by name; sizes and object dtypes are checked before reading."""
    arrays, specs = {}, []
    with src.open() as f, zipfile.ZipFile(f) as zf:
        members = [info for info in zf.infolist() if info.filename.endswith(".npy")]
        for info in members:
            key = info.filename[:-len(".npy")]
            with zf.open(info) as member:
                dtype, shape, _, _ = _npy_header(member, f"Array {key!r} in {src.hint or 'the .npz archive'}")
            specs.append(ArraySpec(key, shape, dtype))
        check_decoded(specs, src.size, size_limit(limit), f"The .npz archive {src.hint!r}")
        for info in members:
            with zf.open(info) as member:
                arrays[info.filename[:-len(".npy")]] = np.lib.format.read_array(member, allow_pickle=False)
    header = arrays.pop(HEADER_KEY, None)
    return arrays, (json.loads(str(header)) if header is not None else None)


def read_safetensors(src: Source, limit: int | None = None) -> tuple[dict, dict | None]:
    """Tensors of a ``.safetensors`` file; views in place (memory-mapped for paths), bfloat16 widened to float32.

    The tensors' byte ranges must tile the data exactly (contiguous, in order, no overlap), as
    the format requires, so no two tensors can alias the same bytes.
    """
    what = f"The .safetensors file {src.hint!r}"
    with src.open() as f:
        header_len = int.from_bytes(f.read(8), "little")
        if 8 + header_len > src.size:
            raise ProbingInputError(f"{what} is truncated: its header alone should be {header_len} bytes but the file "
                                    f"has {src.size}. Copy or export it again completely.")
        header = json.loads(f.read(header_len))
    if not isinstance(header, dict):
        raise ProbingInputError(f"{what} has a header that is not a JSON object; it is corrupt. Save it again.")
    start = 8 + header_len
    metadata = header.pop("__metadata__", None) or {}
    where = f"the .safetensors file {src.hint!r}"
    entries = [_safetensors_entry(key, spec, where) for key, spec in header.items()]
    _check_tiling(entries, src.size - start, where)
    specs = [ArraySpec(key, shape, np.dtype(np.float32) if code == "BF16" else dtype, in_place=code != "BF16")
             for key, code, dtype, shape, _ in entries]
    check_decoded(specs, src.size, size_limit(limit), what)
    arrays = {}
    for key, code, dtype, shape, (begin, end) in entries:
        if end == begin:
            array = np.empty(shape, dtype=dtype)
        elif src.path is not None:
            array = src.memmap(dtype, start + begin, shape)
        else:
            array = np.frombuffer(src.data, dtype=dtype, count=math.prod(shape), offset=start + begin).reshape(shape)
        arrays[key] = (np.asarray(array, dtype=np.uint32) << 16).view(np.float32) if code == "BF16" else array
    if not isinstance(metadata, dict) or not isinstance(metadata.get(HEADER_KEY, ""), str):
        raise ProbingInputError(f"{what} has __metadata__ that is not a map of strings; it is corrupt. Save it again.")
    return arrays, (json.loads(metadata[HEADER_KEY]) if HEADER_KEY in metadata else None)


def _safetensors_entry(key: str, spec, what: str) -> tuple:
    if not isinstance(spec, dict) or not isinstance(spec.get("data_offsets"), list) or len(spec["data_offsets"]) != 2:
        raise ProbingInputError(f"Tensor {key!r} in {what} has no valid data_offsets; the header is corrupt. Save it again.")
    code = spec.get("dtype")
    dtype = np.dtype("<u2") if code == "BF16" else SAFETENSORS_DTYPES.get(code) if isinstance(code, str) else None
    if dtype is None:
        raise ProbingInputError(f"Tensor {key!r} in {what} has dtype {str(code)[:40]}, which cannot be read as numbers "
                                "here. Convert it to float16/float32 before saving.")
    shape = check_shape(spec.get("shape"), f"Tensor {key!r} in {what}")
    begin, end = check_shape(spec["data_offsets"], f"The data_offsets of tensor {key!r} in {what}")
    if end - begin != math.prod(shape) * dtype.itemsize:
        raise ProbingInputError(f"Tensor {key!r} in {what} takes bytes {begin}-{end} ({end - begin} bytes) but shape "
                                f"{shape} of {code} needs {math.prod(shape) * dtype.itemsize}: the file is corrupt. "
                                "Save it again.")
    return key, code, dtype, shape, (begin, end)


def _check_tiling(entries: list, data_bytes: int, what: str) -> None:
    """The byte ranges must run 0..data_bytes back to back: no gap, no overlap, no two tensors on the same bytes."""
    at = 0
    for key, _, _, _, (begin, end) in sorted(entries, key=lambda e: (e[4][0], e[4][1])):
        if begin != at:
            problem = "overlaps the tensor before it (aliased bytes)" if begin < at else "leaves a gap before it"
            raise ProbingInputError(
                f"Tensor {key!r} in {what} starts at byte {begin}, but the tensors before it end at {at}: it {problem}. "
                "A safetensors file stores each tensor once, back to back; this one is corrupt or crafted. Save it "
                "again with safetensors.numpy.save_file.")
        at = end
    if at != data_bytes:
        raise ProbingInputError(f"The tensors in {what} cover {at} data bytes but the file has {data_bytes}: it is "
                                "truncated or corrupt (or has trailing data). Save it again.")


def read_hdf5(src: Source, limit: int | None = None) -> tuple[dict, None]:
    """Every dataset of an HDF5 file by path; contiguous uncompressed datasets of a path are memory-mapped.

    Files that link to other files are refused. Chunked or compressed datasets (and every
    dataset of an upload) are read into memory, so their full size (shape x itemsize, whatever
    the file size) counts against the limit before anything is read.
    """
    import h5py

    limit = size_limit(limit)
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

    opened = contextlib.nullcontext(src.path) if src.path is not None and src.follow_links else src.open()
    with opened as f, h5py.File(f, "r") as h5:
        _check_links(h5, src, h5py)
        h5.visititems(visit)
        specs = {name: _hdf5_spec(name, ds, src, h5py) for name, ds in datasets.items()}
        copied = check_decoded([s for s in specs.values() if s is not None], src.size, limit, f"The HDF5 file {src.hint!r}")
        arrays = {}
        for name, ds in datasets.items():
            if specs[name] is None:
                arrays[name], size = _read_strings(name, ds, limit - copied, src)
                copied += size
            elif specs[name].in_place:
                arrays[name] = src.memmap(ds.dtype, ds.id.get_offset(), ds.shape)
            else:
                arrays[name] = ds[()]
        return arrays, None


def _hdf5_spec(name: str, ds, src: Source, h5py) -> ArraySpec | None:
    """What reading ``ds`` costs (``None`` for variable-length strings, counted as they are read)."""
    if h5py.check_string_dtype(ds.dtype) is not None and ds.dtype.kind == "O":
        return None
    if ds.dtype.kind not in "biufS":
        raise ProbingInputError(f"Dataset {name!r} has type {ds.dtype}, which is not numeric or text. Store "
                                "activations as float arrays and labels as numbers or strings.")
    nbytes, offset = math.prod(ds.shape) * ds.dtype.itemsize, ds.id.get_offset()
    contiguous = ds.id.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS
    in_place = (src.path is not None and contiguous and ds.dtype.kind in "iuf" and nbytes > 0 and offset is not None
                and ds.id.get_storage_size() == nbytes and offset + nbytes <= src.size)
    return ArraySpec(name, tuple(ds.shape), ds.dtype, in_place=in_place)


def _read_strings(name: str, ds, room: int, src: Source) -> tuple[np.ndarray, int]:
    """A variable-length string dataset, read in blocks and refused once its text passes ``room`` bytes."""
    if ds.ndim != 1:
        raise ProbingInputError(f"Dataset {name!r} in {src.hint!r} holds text of shape {ds.shape}; text labels must be "
                                "1-D (one string per sample).")
    step, parts, used = max(1, room // max(src.size, 1) // 2), [], 0
    for at in range(0, ds.shape[0], step):
        block = np.asarray(ds.asstr()[at:at + step], dtype=str)
        used += block.nbytes
        if used > room:
            raise ProbingInputError(f"Text dataset {name!r} in {src.hint!r} ({megabytes(src.size)} on disk) decodes to "
                                    f"more than the {megabytes(room)} left under the limit on bytes copied into "
                                    f"memory. {fix_text()}")
        parts.append(block)
    return (np.concatenate(parts) if parts else np.array([], dtype=str)), used


def _check_links(group, src: Source, h5py) -> None:
    for key in group:
        link = group.get(key, getlink=True)
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            raise ProbingInputError(
                f"{group.name.rstrip('/')}/{key} in {src.hint!r} is a {type(link).__name__} to another file; following "
                "it would open files outside the upload, so the file is refused. Copy the linked data into the file."
            )


def read_torch(src: Source, limit: int | None = None) -> tuple[dict, None]:
    """A PyTorch file holding a tensor or a dict of tensors, loaded with ``weights_only=True``.

    The archive's members must fit in the limit (they are read into memory), and so must the
    tensors' element counts (a zero-stride ``expand`` of one stored value counts in full).
    """
    try:
        import torch
    except ImportError as exc:
        raise ProbingInputError(
            f"{src.hint or 'This upload'} is a PyTorch file, and reading it needs torch, which is not installed. "
            "Install torch (pip install torch==2.13.0) or re-save the tensors with safetensors.torch.save_file."
        ) from exc
    limit, what = size_limit(limit), f"The PyTorch file {src.hint!r}"
    with src.open() as f, zipfile.ZipFile(f) as zf:
        stored = sum(info.file_size for info in zf.infolist())
    check_decoded([ArraySpec("archive members", (stored,), np.dtype("u1"))], src.size, limit, what)
    with src.open() as f:
        try:
            obj = torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            raise ProbingInputError(
                f"{what} contains Python objects other than tensors and plain containers"
                f"{f' (it needs {found.group(1)})' if found else ''}. Loading it could run code, so it is refused. "
                "Save a dict of tensors instead: torch.save({'acts': acts, 'label': labels}, path)."
            ) from exc
    if isinstance(obj, torch.Tensor):
        obj = {"acts": obj}
    if not isinstance(obj, dict):
        raise ProbingInputError(f"{what} holds a {type(obj).__name__}; expected a tensor or a dict of tensors like "
                                "{'acts': acts, 'label': labels}. Re-save it in that form.")
    check_decoded([ArraySpec(str(k), tuple(v.shape), np.dtype(np.float32) if v.dtype == torch.bfloat16 else
                             np.dtype(f"{'f' if v.is_floating_point() else 'i'}{v.element_size()}"))
                   for k, v in obj.items() if isinstance(v, torch.Tensor)], src.size, limit, what)
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
