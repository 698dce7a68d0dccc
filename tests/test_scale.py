"""Streaming with a memory budget: chunked == in-memory, nothing materialised, anonymous memory bounded."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from probing import ActivationSet, ProbingInputError
from probing import budget
from probing.coherence import mutual_coherence
from probing.pca import fit_pca
from probing.probes.sweep import probe_layers
from probing.lazy import ShardedArray
from probing.stats import default_chunk_rows, layer_moments
from probing.steering import steering_vector
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]


class CountingArray(ShardedArray):
    """A lazy array that records the most rows any single read asked for."""

    def __init__(self, acts):
        super().__init__([acts], kind="counting")
        self.largest_read = 0

    def _read(self, start, stop):
        self.largest_read = max(self.largest_read, stop - start)
        return super()._read(start, stop)


@pytest.mark.parametrize("text, expected", [("1GB", 10**9), ("512MiB", 512 * 2**20), ("2e6", 2_000_000),
                                            (" 64 mb ", 64 * 10**6), ("1048576", 2**20)])
def test_memory_budget_parses_sizes(monkeypatch, text, expected):
    monkeypatch.setenv("PROBING_MEMORY_BUDGET", text)
    assert budget.memory_budget() == expected


def test_memory_budget_default_and_errors(monkeypatch):
    monkeypatch.delenv("PROBING_MEMORY_BUDGET", raising=False)
    assert budget.memory_budget() == max(budget.total_ram() // 8, 256 * 2**20)
    for bad in ("lots", "1 parsec", "10"):
        monkeypatch.setenv("PROBING_MEMORY_BUDGET", bad)
        with pytest.raises(ProbingInputError, match="PROBING_MEMORY_BUDGET"):
            budget.memory_budget()


def test_budget_decides_chunk_rows(monkeypatch):
    monkeypatch.setenv("PROBING_MEMORY_BUDGET", "64MiB")
    small = default_chunk_rows(768, 7, 2)
    monkeypatch.setenv("PROBING_MEMORY_BUDGET", "1GiB")
    large = default_chunk_rows(768, 7, 2)
    assert large == pytest.approx(16 * small, rel=0.01)
    assert large * (2 * 7 * 768 * 2 + 24 * 768) <= 2**30 / 4


def test_chunked_moments_equal_in_memory_brute_force():
    rng = np.random.default_rng(1)
    acts = rng.standard_normal((301, 3, 5)) * np.array([1, 10, 100])[:, None] + 50
    y, folds = rng.integers(0, 3, 301), rng.integers(0, 4, 301)
    whole = layer_moments(acts, [(y, 3)], folds, 4, chunk_rows=301)
    for rows in (1, 7, 64):
        chunked = layer_moments(ShardedArray([acts[:100], acts[100:]]), [(y, 3)], folds, 4, chunk_rows=rows)
        for layer in range(3):
            for fold in range(4):
                a, b = chunked[layer][fold][0], whole[layer][fold][0]
                X = acts[folds == fold, layer]
                np.testing.assert_allclose(a.pooled.scatter, (X - X.mean(0)).T @ (X - X.mean(0)), rtol=1e-9, atol=1e-8)
                np.testing.assert_allclose(a.pooled.mean, b.pooled.mean, rtol=1e-12)
                np.testing.assert_allclose(a.means, b.means, rtol=1e-12)
                np.testing.assert_array_equal(a.counts, b.counts)


@pytest.fixture(scope="module")
def planted():
    aset, _ = make_concept_embeddings(n_samples=900, d=12, n_concepts=2, n_layers=3, seed=3)
    return aset


def test_analyses_on_a_lazy_set_equal_in_memory_and_read_in_chunks(planted, monkeypatch):
    monkeypatch.setenv("PROBING_MEMORY_BUDGET", "1MiB")  # chunks of a few hundred rows
    label = planted.categorical_labels()[0]
    counting = CountingArray(planted.acts)
    lazy = ActivationSet(counting, planted.layers, planted.labels, planted.meta)
    assert lazy.fingerprint == planted.fingerprint
    sweep_lazy, sweep = probe_layers(lazy, label, cv=3, seed=0), probe_layers(planted, label, cv=3, seed=0)
    np.testing.assert_allclose(sweep_lazy.accuracy, sweep.accuracy, atol=1e-12)
    np.testing.assert_allclose(sweep_lazy.directions, sweep.directions, atol=1e-10)
    pca_lazy, pca = fit_pca((lazy, 1), n_components=4), fit_pca(np.asarray(planted.layer(1), dtype=np.float64), 4)
    # float32 rows get float32 chunk products (the precision policy), the float64 copy float64 ones
    np.testing.assert_allclose(np.abs(pca_lazy.components @ pca.components.T), np.eye(4), atol=1e-5)
    y = planted.labels[label]
    X = planted.layer(2).astype(np.float64)
    expected = X[y == np.unique(y)[1]].mean(0) - X[y == np.unique(y)[0]].mean(0)
    np.testing.assert_allclose(steering_vector(lazy, label, layer=2), expected, atol=1e-6)  # float32 class sums
    assert 0 < counting.largest_read < planted.n_samples  # never a whole layer at once


def test_coherence_of_a_float16_memmap_equals_in_memory(tmp_path):
    D = np.random.default_rng(2).standard_normal((700, 24)).astype(np.float16)
    np.save(tmp_path / "D.npy", D)
    mapped = np.load(tmp_path / "D.npy", mmap_mode="r")
    assert mutual_coherence(mapped, block_rows=128) == mutual_coherence(D.astype(np.float64), block_rows=128)


def test_a_memmap_sweep_keeps_anonymous_memory_under_budget(tmp_path):
    """300,000 x 8 x 64 float16 (307 MB) swept with a 64 MB budget in a fresh process."""
    path = tmp_path / "acts.npy"
    n, n_layers, d = 300_000, 8, 64
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, n_layers, d))
    rng = np.random.default_rng(0)
    for start in range(0, n, 50_000):
        out[start:start + 50_000] = rng.standard_normal((50_000, n_layers, d), dtype=np.float32)
    out.flush()
    del out
    script = textwrap.dedent(f"""
        import json, sys, numpy as np
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'benchmarks')!r})
        from bench_scale import PeakSampler, rss_anon
        from probing import load_activations
        from probing.probes.sweep import probe_layers
        y = np.random.default_rng(1).integers(0, 2, {n})
        before = rss_anon()
        with PeakSampler() as peak:
            aset = load_activations({str(path)!r}, max_bytes=2**31)
            sweep = probe_layers(aset, y, cv=5, control=False)
        kept = sum(v.nbytes for v in vars(sweep).values() if isinstance(v, np.ndarray))
        print(json.dumps({{"before": before, "peak": peak.peak, "storage": aset.storage, "kept": kept,
                          "scores": sweep.decision.nbytes + sweep.projection.nbytes}}))
    """)
    env = {"PROBING_MEMORY_BUDGET": "64MB", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["storage"] == "memmap"
    grown = result["peak"] - result["before"]
    # The budget promises: each chunk's working set <= 64 MB / CHUNK_SHARE (8 MB; one more for a read-ahead).
    # On top come the outputs kept for every sample (34 MB here: float32 held-out scores and projections, y,
    # folds), which are accumulated in float64 while sweeping (2 x 29 MB). Reading one whole layer at once
    # (38 MB as float16, 154 MB as float64) breaks this bound.
    per_sample = result["kept"] + 2 * result["scores"]
    bound = per_sample + 2 * 64e6 / budget.CHUNK_SHARE + 8e6
    assert grown < bound, f"anonymous memory grew by {grown / 1e6:.0f} MB, over {bound / 1e6:.0f} MB"
    assert grown < path.stat().st_size / 2
