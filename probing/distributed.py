"""The Dask engine: the same chunk -> merge -> finalize reductions, spread over a cluster.

Dask (``dask.distributed``) is used only as a scheduler for this package's own
mergeable statistics, not for its solvers:

* :func:`layer_moments` has the signature and results of :func:`probing.stats.layer_moments`:
  each row chunk of a ``dask.array`` (made from the activations: Zarr, shards, a memmap,
  or already a Dask array) becomes per-layer, per-fold :class:`~probing.stats.ClassMoments`
  on a worker, and the partials are merged in a tree (``split_every`` at a time) with the
  exact parallel formula. The ``d x d`` solves stay on the client.
  ``probe_layers(..., backend="dask")`` uses it. Precision: both engines compute each
  chunk's products in the data's float type (float32 for float16/float32) and merge in
  float64. Wrapped arrays get the local engine's chunk plan (:func:`default_chunk_rows`),
  hence the same float32 products, and the results agree to float64 rounding of the
  merges; a Dask array keeps its own row chunks, and then the two agree to 1e-5 relative.
* :func:`mutual_coherence` hands each worker the row-block pairs of one row block and
  keeps the best pair; exact like :func:`probing.coherence.mutual_coherence`.

Where work runs: :func:`get_client` connects to ``PROBING_DASK_SCHEDULER``
(``tcp://host:8786``) when it is set, else to the client already active in this process,
else starts a local cluster. Workers must be able to read the data: on a real cluster,
store activations as Zarr on shared storage (a memmap or in-memory array is shipped to
the workers, which only makes sense on one machine).
"""

from __future__ import annotations

import os
import uuid
from typing import Callable

import numpy as np

from probing.coherence import bounds as coherence
from probing.errors import ProbingInputError
from probing.stats import check_codings, default_chunk_rows
from probing.stats import layer_moments as local_layer_moments

ENV = "PROBING_DASK_SCHEDULER"
CONNECT_TIMEOUT = "10s"
SPLIT_EVERY = 8
"""Partials merged per task of the tree reduction."""
_CLIENTS: dict = {}


def scheduler_address() -> str | None:
    """The scheduler named by ``PROBING_DASK_SCHEDULER``, or None (work runs in this process)."""
    return os.environ.get(ENV, "").strip() or None


def where_work_runs() -> str:
    """A short description of where analyses run, for display (connects to nothing)."""
    address = scheduler_address()
    return f"Dask scheduler {address}" if address else "this machine (local; set PROBING_DASK_SCHEDULER for a cluster)"


def get_client(address: str | None = None):
    """A ``distributed.Client``: to ``address`` or ``PROBING_DASK_SCHEDULER``, else the client already
    active in this process, else a new local cluster (threads, dashboard on a free port).

    Clients to an address are kept and reused for the life of the process.
    """
    from distributed import Client, LocalCluster, default_client

    address = address or scheduler_address()
    if address:
        if address not in _CLIENTS or _CLIENTS[address].status != "running":
            try:
                _CLIENTS[address] = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except OSError as exc:
                raise ProbingInputError(f"Could not reach the Dask scheduler {address!r} ({exc}). Check that it is "
                                        f"running and reachable, or unset {ENV} to compute locally.") from exc
        return _CLIENTS[address]
    try:
        return default_client()
    except ValueError:
        cluster = LocalCluster(processes=False, dashboard_address=":0")
        _CLIENTS["local"] = Client(cluster, set_as_default=False)
        return _CLIENTS["local"]


def as_dask_array(acts, chunk_rows: int):
    """``acts (n, n_layers, d)`` as a ``dask.array`` chunked along the rows only.

    A Dask array keeps its row chunks; anything else (memmap, Zarr, shards, ndarray) is
    wrapped with ``chunk_rows`` rows per chunk, read lazily by the workers.
    """
    import dask.array as da

    if type(acts).__module__.startswith("dask."):
        return acts.rechunk({1: -1, 2: -1})
    return da.from_array(acts, chunks=(chunk_rows, -1, -1), lock=False, asarray=True,
                         name=f"probing-acts-{uuid.uuid4().hex}", meta=np.empty((0, 0, 0), acts.dtype))


def _chunk_moments(block, codes, sizes, groups, n_groups, layers):
    """Partial moments of one row chunk (on a worker): the local engine on that chunk."""
    block = np.asarray(block)
    return local_layer_moments(block, list(zip(codes, sizes)), groups, n_groups, layers, chunk_rows=len(block))


def _merge(*parts):
    """Sum partials [layer][group][coding] elementwise (Chan's merge of ClassMoments)."""
    first = parts[0]
    return [[tuple(sum((p[li][gi][c] for p in parts[1:]), first[li][gi][c]) for c in range(len(first[li][gi])))
             for gi in range(len(first[li]))] for li in range(len(first))]


def layer_moments(acts, codings, groups=None, n_groups: int = 1, layers=None, chunk_rows: int | None = None,
                  progress: Callable[[float, str], None] | None = None, client=None) -> list:
    """:func:`probing.stats.layer_moments` computed on a Dask cluster.

    Parameters
    ----------
    acts : array_like or dask.array.Array of shape (n_samples, n_layers, d)
    codings, groups, n_groups, layers, chunk_rows, progress
        As in :func:`probing.stats.layer_moments`; ``chunk_rows`` is the rows per task
        when ``acts`` is not already a Dask array.
    client : distributed.Client, optional
        Default: :func:`get_client`.

    Returns
    -------
    list (per layer) of list (per group) of tuple (per labeling) of ClassMoments
    """
    from dask import delayed
    from distributed import as_completed

    d = acts.shape[2]
    layers, groups, codes, sizes = check_codings(acts.shape, codings, groups, n_groups, layers)
    client = client or get_client()
    x = as_dask_array(acts, chunk_rows or default_chunk_rows(d, len(layers), acts.dtype.itemsize))
    bounds = np.cumsum((0,) + x.chunks[0])
    tasks = [delayed(_chunk_moments, pure=True)(block, [c[a:b] for c in codes], sizes, groups[a:b], n_groups, layers)
             for block, a, b in zip(x.to_delayed().ravel(), bounds[:-1], bounds[1:])]
    parts = client.compute(tasks)
    for done, _ in enumerate(as_completed(parts), start=1):
        if progress is not None:
            progress(done / len(parts), f"moments on the cluster: {done}/{len(parts)} chunks")
    while len(parts) > 1:
        parts = [client.submit(_merge, *parts[i:i + SPLIT_EVERY], pure=False)
                 for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0].result()


def _best_pair(D, inv, block_rows, pairs) -> tuple[float, int, int]:
    """The most coherent pair among the given row-block pairs: (|cos|, i, j), on a worker."""
    top = coherence.scan_pairs(D, inv, block_rows, pairs=pairs).top
    return float(abs(top.cos[0])), int(top.i[0]), int(top.j[0])


def mutual_coherence(D, block_rows: int | None = None, client=None,
                     progress: Callable[[float, str], None] | None = None) -> float:
    """:func:`probing.coherence.mutual_coherence` with the row-block pairs spread over a Dask cluster.

    Each task scans the pairs ``(i0, j0 >= i0)`` of one row block ``i0`` (exact, float32 scan
    plus float64 recheck) and returns its best pair; the client keeps the running maximum.

    Parameters
    ----------
    D : array_like of shape (k, d)
    block_rows : int, optional
        Rows per block (default as in :func:`probing.coherence.mutual_coherence`).
    client : distributed.Client, optional
    progress : callable(fraction, message), optional

    Returns
    -------
    float
    """
    from distributed import as_completed

    D, inv = coherence.unit_rows(D)
    b = coherence.resolve_block_rows(block_rows, D.shape[0])
    client = client or get_client()
    D_future, inv_future = client.scatter([np.asarray(D), inv], broadcast=True)
    by_row: dict = {}
    for i0, j0 in coherence.block_pairs(D.shape[0], b):
        by_row.setdefault(i0, []).append((i0, j0))
    futures = [client.submit(_best_pair, D_future, inv_future, b, pairs, pure=False) for pairs in by_row.values()]
    best = 0.0
    for done, future in enumerate(as_completed(futures), start=1):
        best = max(best, future.result()[0])
        if progress is not None:
            progress(done / len(futures), f"coherence on the cluster: {done}/{len(futures)} row blocks")
    return best
