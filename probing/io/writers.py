"""Writing activation files: :func:`save_activations` and the header it stores.

The layout is plain enough for other tools: ``acts`` ``(n_samples, n_layers, d)`` in its own
dtype and one 1-D array per label, plus a JSON header under ``__probing__`` (layer names,
name, label dtypes and text classes, ``meta`` columns) that :func:`decode_labels` and
:func:`decode_meta` read back. Files are written atomically: a temporary file in the same
folder, flushed and fsynced, then renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.io.header import encode_meta
from probing.io.readers import ACTS_KEYS, HEADER_KEY, LAYER_KEY, SAFETENSORS_DTYPES


def save_activations(aset: ActivationSet, path) -> Path:
    """Write ``aset`` to ``.safetensors`` or ``.npz`` atomically; :func:`load_activations` reads it back exactly.

    Activations are stored as ``acts`` ``(n_samples, n_layers, d)`` in their own dtype and each
    label as a 1-D array under its name (in ``.safetensors`` a text label is stored as integer
    codes, its classes in the header). Layer names, name, label dtypes/classes and ``meta``
    go in a JSON header (``__probing__``: a string in the safetensors metadata, a unicode
    array in the ``.npz``), so plain ``safetensors``/``numpy`` readers can open the file too.

    Parameters
    ----------
    aset : ActivationSet
    path : str or Path
        Ends in ``.safetensors`` or ``.npz``; replaced atomically if it exists.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".safetensors", ".npz"):
        raise ProbingInputError(f"Cannot save to {path.name!r}: use a name ending in .safetensors or .npz.")
    reserved = [k for k in aset.labels if k in ACTS_KEYS or LAYER_KEY.fullmatch(k) or k == HEADER_KEY]
    if reserved:
        raise ProbingInputError(f"Label names {reserved} collide with activation names in the file; rename those labels.")
    header = {"format": "probing.ActivationSet", "version": 1, "name": aset.name, "layers": aset.layers,
              "labels": {}, "meta": encode_meta(aset.meta)}
    arrays = {"acts": aset.acts}
    for key, values in aset.labels.items():
        header["labels"][key] = {"dtype": values.dtype.str}
        if values.dtype.kind in "US" and kind == ".safetensors":
            text = np.char.decode(values, "latin-1") if values.dtype.kind == "S" else values
            classes, codes = np.unique(text, return_inverse=True)
            header["labels"][key]["classes"] = classes.tolist()
            values = codes.astype(np.int64)
        arrays[key] = values
    header_json = json.dumps(header)
    if kind == ".safetensors":
        atomic_write(path, lambda f: _write_safetensors(f, arrays, {HEADER_KEY: header_json}))
    else:
        atomic_write(path, lambda f: _write_npz(f, {**arrays, HEADER_KEY: np.array(header_json)}))
    return path


def _write_npz(f, arrays: dict) -> None:
    """An uncompressed ``.npz`` (what numpy.savez writes), refusing object arrays."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _write_safetensors(f, arrays: dict, metadata: dict) -> None:
    """Stream ``arrays`` into the safetensors layout (8-byte header length, JSON header, raw data)."""
    codes = {dtype: code for code, dtype in SAFETENSORS_DTYPES.items()}
    entries, offset = {}, 0
    for key, array in arrays.items():
        code = codes.get(array.dtype.newbyteorder("<"))
        if code is None:
            raise ProbingInputError(f"Array {key!r} has dtype {array.dtype}, which safetensors cannot store; save as .npz.")
        entries[key] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header = json.dumps({"__metadata__": metadata, **entries}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    f.write(len(header).to_bytes(8, "little") + header)
    for array in arrays.values():
        rows = max(1, 2**26 // max(1, array[:1].nbytes))
        for start in range(0, len(array), rows):
            f.write(np.ascontiguousarray(array[start:start + rows], dtype=array.dtype.newbyteorder("<")).tobytes())


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename over ``path``."""
    if not path.parent.is_dir():
        raise ProbingInputError(f"Cannot save to {path}: the folder {path.parent} does not exist. Create it first.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
