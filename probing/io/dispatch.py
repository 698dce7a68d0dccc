"""Loading and saving activations: the one entry point for files, folders, globs and stores.

:func:`load_activations` reads ``.npy``, ``.npz``, ``.safetensors``, ``.h5/.hdf5``,
``.pt/.pth``, ``.parquet`` and ``.csv`` from a path or an uploaded file object
(:func:`probing.io.files.load_file`), and a folder, glob, Zarr store or SAELens cache as
one lazy set (:mod:`probing.io.shards`). The format is decided by the file's first bytes,
the name being only a hint; no code from a file ever runs. :func:`save_activations`
(:mod:`probing.io.writers`) writes ``.safetensors`` or ``.npz`` atomically, and loading
what it wrote gives back the same activations, layers, labels, meta, name and attrs.
"""

from __future__ import annotations

import os

import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.io import paths, shards, tables
from probing.io.files import FIXES, is_text, load_file, open_source, split_columns
from probing.io.limits import size_limit
from probing.io.writers import save_activations

__all__ = ["load_activations", "save_activations"]


def load_activations(path_or_filelike, name: str | None = None, labels_csv=None,
                     max_bytes: int | None = None, roots=None) -> ActivationSet:
    """Read an activation file into an :class:`ActivationSet`, never running code from it.

    Parameters
    ----------
    path_or_filelike : str, Path, bytes or binary file object
        The file. File objects (e.g. Streamlit's ``UploadedFile``) are read into memory up
        to ``max_bytes``; their ``.name`` is used as a hint and as the default name.
        ``.npy`` and ``.safetensors`` paths are memory-mapped, not read. A directory or a
        glob pattern opens lazily as one set (:func:`probing.io.shards.load_sharded`): a Zarr
        store, a SAELens activation cache, or shards in any of these formats.
    name : str, optional
        Display name; defaults to the name stored by :func:`save_activations`, else the file stem.
    labels_csv : str, Path or file object, optional
        A CSV with one row per sample, in the same order, whose columns become labels
        (text columns with many distinct values go to ``meta`` instead).
    max_bytes : int, optional
        Most bytes the load may copy into memory; defaults to ``PROBING_MAX_UPLOAD_MB``
        (environment, in MB) or 2048 MB. It bounds an upload's bytes and what a file decodes
        to (computed from its metadata before reading: ``.npz``, ``.pt``, parquet, CSV,
        chunked or compressed HDF5, per-layer arrays stacked into one, casts to float32).
        What is read in place does not count: a ``.npy``, ``.safetensors``, contiguous HDF5
        path, a Zarr store or a folder of memory-mapped shards opens whatever its size.
    roots : sequence of str or Path, optional
        Folders a path must stay inside (a server's ``PROBING_DATA_ROOTS``). Then the path is
        resolved and everything under it walked without following links; any symbolic link or
        special file is refused (:func:`probing.io.paths.check_path`), and files are opened
        with ``O_NOFOLLOW``. ``None`` (the default) opens any path.

    Returns
    -------
    ActivationSet
        ``acts`` of shape ``(n_samples, n_layers, d)``. ``.npy``: ``(n, d)`` becomes one layer.
        Archives (``.npz``, ``.safetensors``, ``.h5``, ``.pt``): activations under ``acts`` or
        ``activations`` (2-D or 3-D) or per-layer 2-D arrays ``layer_0``, ``layer_1``, ...
        stacked in numeric order; every other 1-D array of length ``n`` is a label.
        Tables (``.parquet``, ``.csv``): the numeric columns are one layer; a ``label`` column
        and repeated-value text columns are labels; text and id columns (``index``, ``id``,
        ``*_id``) go to ``meta``.

    Raises
    ------
    ProbingInputError
        For anything that cannot be read safely, with a message saying what to fix.
    """
    limit = size_limit(max_bytes)
    is_path = isinstance(path_or_filelike, (str, os.PathLike))
    if roots is not None:
        path_or_filelike, labels_csv = (paths.check_path(p, roots) if isinstance(p, (str, os.PathLike)) else p
                                        for p in (path_or_filelike, labels_csv))
    follow_links = roots is None
    if is_path and shards.is_sharded_path(path_or_filelike):
        aset = shards.load_sharded(path_or_filelike, name, limit, follow_links)
        return _join_side_labels(aset, labels_csv, limit, follow_links) if labels_csv is not None else aset
    aset = load_file(path_or_filelike, limit, follow_links)
    if labels_csv is not None:
        aset = _join_side_labels(aset, labels_csv, limit, follow_links)
    return aset.renamed(str(name)) if name is not None else aset


def _join_side_labels(aset: ActivationSet, labels_csv, limit: int, follow_links: bool) -> ActivationSet:
    src = open_source(labels_csv, limit, follow_links)
    if not is_text(src.head(65536)):
        raise ProbingInputError(f"The labels file {src.hint or ''} is not a text CSV. Save the labels with DataFrame.to_csv(path, index=False).")
    try:
        df = tables.read_table(src, "csv", limit)
    except Exception as exc:
        raise ProbingInputError(f"Could not read the labels file as CSV: {exc}. {FIXES['csv']}") from exc
    if len(df) != aset.n_samples:
        raise ProbingInputError(
            f"The labels file has {len(df)} rows but the activations have {aset.n_samples} samples. It needs one "
            "row per sample, in the same order, below a header row."
        )
    labels, meta = split_columns(df, f"the labels file {src.hint}".strip())
    merged = pd.concat([aset.meta.drop(columns=[c for c in meta.columns if c in aset.meta.columns]), meta], axis=1)
    return ActivationSet(aset.acts, aset.layers, {**aset.labels, **labels}, merged, aset.name, check_values=False,
                         attrs={**aset.attrs, "labels_file": src.hint})
