"""Reading and writing activations, and the shared workspace store.

- :mod:`probing.io.dispatch` -- :func:`load_activations` and :func:`save_activations`, the entry points.
- :mod:`probing.io.files` -- one file of any supported format (format sniffed from its bytes).
- :mod:`probing.io.readers` -- the low-level readers, one per format; nothing is ever unpickled.
- :mod:`probing.io.tables` -- ``.parquet`` / ``.csv`` as DataFrames.
- :mod:`probing.io.limits` -- what a file decodes to in memory, from its metadata, against the size limit.
- :mod:`probing.io.paths` -- server paths kept inside their roots (no symbolic link followed).
- :mod:`probing.io.writers` -- ``.safetensors`` / ``.npz`` writers, written atomically.
- :mod:`probing.io.header` -- the ``__probing__`` header codec (labels, meta, attrs).
- :mod:`probing.io.shards` -- Zarr stores, shard folders and SAELens caches as one lazy set.
- :mod:`probing.io.interop` -- other tools' formats (projector TSV, vector parquet, SAEs, control vectors).
- :mod:`probing.io.store` -- :class:`Workspace`, the persistent shared workspace of datasets and results.
- :mod:`probing.io.catalogue` -- its SQLite catalogue, entries, cross-process lock and damage check.
- :mod:`probing.io.recovery` -- rebuilding the catalogue from the files; ``lost+found/``.
- :mod:`probing.io.direction_store` -- the workspace's saved direction sets (one self-describing file each).
"""

from probing.io.dispatch import load_activations, save_activations

__all__ = ["load_activations", "save_activations"]
