"""The Dask engine gives the local results: moments, probe sweeps, coherence; scheduler selection."""

from collections import Counter

import dask.array as da
import numpy as np
import pytest
import zarr
from dask.utils import key_split
from distributed import Client, LocalCluster, get_task_stream

from probing import ActivationSet, ProbingInputError
from probing import distributed as engine
from probing.coherence import mutual_coherence
from probing.probes.sweep import probe_layers
from probing.stats import layer_moments
from probing.synthetic import make_concept_embeddings


@pytest.fixture(scope="module")
def client():
    with LocalCluster(processes=False, dashboard_address=":0", n_workers=1, threads_per_worker=2) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def planted():
    aset, _ = make_concept_embeddings(n_samples=700, d=10, n_concepts=3, n_layers=3, seed=5)
    return aset


def tasks_run(stream) -> Counter:
    """How many tasks of each function the cluster's workers ran, from ``get_task_stream``."""
    return Counter(key_split(record["key"]) for record in stream.data)


def assert_moments_equal(a, b):
    for per_layer_a, per_layer_b in zip(a, b, strict=True):
        for per_group_a, per_group_b in zip(per_layer_a, per_layer_b, strict=True):
            for x, y in zip(per_group_a, per_group_b, strict=True):
                assert x.pooled.count == y.pooled.count
                np.testing.assert_allclose(x.pooled.scatter, y.pooled.scatter, rtol=1e-10, atol=1e-9)
                np.testing.assert_allclose(x.pooled.mean, y.pooled.mean, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(x.means, y.means, rtol=1e-12, atol=1e-12)
                np.testing.assert_array_equal(x.counts, y.counts)


def test_dask_moments_equal_local_moments(client, planted):
    rng = np.random.default_rng(0)
    codings = [(rng.integers(0, 3, 700), 3), (rng.integers(0, 2, 700), 2)]
    folds = rng.integers(0, 4, 700)
    seen = []
    with get_task_stream(client) as stream:
        dask_result = engine.layer_moments(planted.acts, codings, folds, 4, [0, 2], chunk_rows=64,
                                           progress=lambda f, m: seen.append(f))
    assert tasks_run(stream)["chunk_moments"] == 11  # ceil(700 / 64) chunks, each a task on a worker
    assert tasks_run(stream)["merge"] >= 1
    # the same chunk plan: the same float32 products, merged in a different order
    assert_moments_equal(dask_result, layer_moments(planted.acts, codings, folds, 4, [0, 2], chunk_rows=64))
    assert len(seen) == 11 and seen[-1] == 1.0  # one report per chunk task


def test_probe_sweep_on_dask_equals_local(client, planted, monkeypatch):
    monkeypatch.setenv("PROBING_MEMORY_BUDGET", "1MiB")  # several chunk tasks
    label = planted.categorical_labels()[0]
    local = probe_layers(planted, label, cv=4, seed=2)
    with get_task_stream(client) as stream:
        remote = probe_layers(planted, label, cv=4, seed=2, backend="dask")
    assert tasks_run(stream)["chunk_moments"] > 1
    np.testing.assert_allclose(remote.accuracy, local.accuracy, atol=1e-6)
    np.testing.assert_allclose(remote.control_accuracy, local.control_accuracy, atol=1e-6)
    np.testing.assert_allclose(remote.directions, local.directions, atol=1e-6)
    np.testing.assert_allclose(remote.decision, local.decision, atol=1e-6)
    with pytest.raises(ProbingInputError, match="Unknown backend 'ray'"):
        probe_layers(planted, label, backend="ray")


def test_dask_backed_activation_sets_from_zarr(client, planted, tmp_path):
    store = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=planted.shape, chunks=(128, 3, 10), dtype="float32")
    store[:] = planted.acts
    lazy = ActivationSet(da.from_zarr(str(tmp_path / "a.zarr")), planted.layers, planted.labels, planted.meta)
    assert lazy.storage == "dask" and lazy.fingerprint == planted.fingerprint
    label = planted.categorical_labels()[0]
    np.testing.assert_allclose(probe_layers(lazy, label, cv=3, backend="dask").accuracy,
                               probe_layers(planted, label, cv=3).accuracy, atol=1e-6)


def test_coherence_across_workers_is_exact(client):
    D = np.random.default_rng(4).standard_normal((900, 16))
    D[611] = D[17] * -3 + 1e-3  # one nearly parallel pair, in different row blocks
    with get_task_stream(client) as stream:
        assert engine.mutual_coherence(D, block_rows=128) == mutual_coherence(D, block_rows=128)
    assert tasks_run(stream)["best_pair"] == 8  # one task per row block of 128 (900 rows)
    assert engine.mutual_coherence(D[:300], block_rows=64) == mutual_coherence(D[:300], block_rows=64)


def test_the_scheduler_comes_from_the_environment(client, monkeypatch):
    address = client.scheduler.address
    monkeypatch.setenv("PROBING_DASK_SCHEDULER", address)
    remote = engine.get_client()
    assert remote.scheduler.address == address and engine.get_client() is remote  # reused
    assert address in engine.where_work_runs()
    remote.close()
    monkeypatch.delenv("PROBING_DASK_SCHEDULER")
    assert engine.get_client() is client and "local" in engine.where_work_runs()
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    monkeypatch.setenv("PROBING_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    with pytest.raises(ProbingInputError, match="Could not reach the Dask scheduler"):
        engine.get_client()


def test_two_worker_processes_give_the_local_moments(planted):
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        codings = [(planted.labels["label"].astype(int), 2)]
        with get_task_stream(c) as stream:
            remote = engine.layer_moments(np.asarray(planted.acts), codings, chunk_rows=100, client=c)
        workers = c.scheduler_info()["workers"]
        assert len(workers) == 2
        assert tasks_run(stream)["chunk_moments"] == 7
        assert {record["worker"] for record in stream.data} <= set(workers)
    assert_moments_equal(remote, layer_moments(planted.acts, codings, chunk_rows=100))


def test_dask_with_another_chunk_plan_agrees_to_float32_tolerance(client, planted):
    """Different row chunks give different float32 products: 1e-5 relative, not float64 rounding."""
    codings = [(planted.labels["label"].astype(int), 2)]
    remote = engine.layer_moments(planted.acts, codings, chunk_rows=64, client=client)
    local = layer_moments(planted.acts, codings, chunk_rows=700)
    for a, b in zip(remote, local, strict=True):
        x, y = a[0][0], b[0][0]
        assert np.max(np.abs(x.pooled.scatter - y.pooled.scatter)) < 1e-5 * np.max(np.abs(y.pooled.scatter))
        assert np.max(np.abs(x.means - y.means)) < 1e-6 * np.max(np.abs(y.means))
