"""How much memory a file decodes to, computed from its metadata before any data is read.

The size limit (``max_bytes``, else ``PROBING_MAX_UPLOAD_MB``) bounds the bytes a load
**copies into memory**, not the size of the file: a memory-mapped ``.npy`` or
``.safetensors`` of any size opens, while a 0.8 MB HDF5 file whose unwritten chunks
decode to 400 MB is refused before those 400 MB are allocated. Each reader in
:mod:`probing.io.readers` describes what it is about to materialise as :class:`ArraySpec`
values (shape, dtype, whether it stays in place on disk) and calls :func:`check_decoded`;
the accounting mirrors what :func:`probing.io.files.load_file` then does with the arrays
(per-layer arrays stacked into one, integer activations cast to float32, labels copied).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from probing.errors import ProbingInputError

ENV = "PROBING_MAX_UPLOAD_MB"
DEFAULT_MB = 2048
LAYER_PREFIX = "layer_"


def size_limit(max_bytes: int | None) -> int:
    """The size limit in bytes: ``max_bytes`` if given, else ``PROBING_MAX_UPLOAD_MB`` (default 2048 MB)."""
    if max_bytes is not None:
        return int(max_bytes)
    raw = os.environ.get(ENV, str(DEFAULT_MB))
    try:
        return int(float(raw) * 2**20)
    except ValueError as exc:
        raise ProbingInputError(f"{ENV} must be a number of megabytes; got {raw!r}.") from exc


def megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def fix_text() -> str:
    return (f"Use a subset of samples or layers (or float16), save it as .npy/.safetensors/Zarr and open it by path "
            f"(memory-mapped files are read in place and do not count), or raise the limit with max_bytes= or {ENV}.")


def too_big(size: int, limit: int, what: str) -> ProbingInputError:
    """The error for ``size`` bytes received into memory, over ``limit``."""
    return ProbingInputError(f"{what} is {megabytes(size)}, over the {megabytes(limit)} limit. {fix_text()}")


@dataclass(frozen=True)
class ArraySpec:
    """One array a reader is about to materialise: its name, shape, dtype once read, and whether it stays on disk."""

    key: str
    shape: tuple
    dtype: np.dtype
    in_place: bool = False

    @property
    def count(self) -> int:
        return math.prod(self.shape)


def check_shape(shape, what: str) -> tuple:
    """``shape`` as a tuple of non-negative ints, or :class:`ProbingInputError` naming ``what``."""
    if not isinstance(shape, (list, tuple)) or not all(type(n) is int and n >= 0 for n in shape):
        raise ProbingInputError(f"{what} declares shape {str(shape)[:80]}, which is not a list of non-negative "
                                "integers: the file is corrupt. Save it again.")
    return tuple(shape)


def copied_bytes(specs: list[ArraySpec]) -> int:
    """Bytes a load allocates for ``specs``: arrays read into memory, the per-layer stack, float32 casts of
    integers (float16/32/64 keep their dtype), label copies."""
    total = 0
    for spec in specs:
        size = spec.count * spec.dtype.itemsize
        stacked = spec.key.startswith(LAYER_PREFIX) and spec.key[len(LAYER_PREFIX):].isdigit()
        if not spec.in_place or len(spec.shape) == 1:  # 1-D arrays are labels, always copied
            total += size * (4 if spec.dtype.kind == "S" else 1)  # bytes labels are decoded to str (4 bytes a char)
        if stacked:
            total += size  # np.stack of the per-layer arrays
        if len(spec.shape) >= 2 and spec.dtype not in (np.float16, np.float32, np.float64) \
                and (stacked or not spec.in_place):
            total += spec.count * 4  # integers cast to float32 in memory (a memory map lazily, row by row)
    return total


def check_decoded(specs: list[ArraySpec], file_size: int, limit: int, what: str) -> int:
    """Refuse ``specs`` whose :func:`copied_bytes` exceed ``limit``; returns the bytes they will copy.

    Parameters
    ----------
    specs : list of ArraySpec
        What the reader is about to materialise, from the file's metadata.
    file_size : int
        Size of the file on disk (or of the upload), for the message.
    limit : int
        Most bytes a load may copy into memory (:func:`size_limit`).
    what : str
        The file, for the message (e.g. ``"The .npz archive 'x.npz'"``).
    """
    copied = copied_bytes(specs)
    if copied > limit:
        biggest = max(specs, key=lambda s: s.count * s.dtype.itemsize)
        raise ProbingInputError(
            f"{what} is {megabytes(file_size)} on disk but decodes to {megabytes(copied)} in memory (largest array "
            f"{biggest.key!r}: shape {biggest.shape}, {biggest.dtype}), over the {megabytes(limit)} limit on bytes "
            f"copied into memory. {fix_text()}"
        )
    return copied
