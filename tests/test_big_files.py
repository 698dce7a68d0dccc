"""Big files just open: a memory-mapped .npy over the size limit opens with no setting changed, and a sweep
over it stays within the memory budget.

The size limit (``PROBING_MAX_UPLOAD_MB``, default 2048 MB) is about bytes copied into
memory; a file read in place does not count. The file here is 2.2 GB but sparse (extended
by ``truncate``, a few rows written), so it costs almost nothing on disk.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from probing import ProbingInputError, load_activations

ROOT = Path(__file__).resolve().parents[1]
N, N_LAYERS, D = 1_100_000, 4, 128  # float32: 2.25 GB, over the default 2048 MB limit
WRITTEN = 20_000  # rows with a planted concept at each end; the rest of the file is a hole (zeros)
BUDGET = 64e6


@pytest.fixture(scope="module")
def big_npy(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "acts.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(N, N_LAYERS, D))
    y = labels()
    rng = np.random.default_rng(0)
    for rows in (slice(0, WRITTEN), slice(N - WRITTEN, N)):
        out[rows] = rng.standard_normal((WRITTEN, N_LAYERS, D), dtype=np.float32) + 2.0 * y[rows, None, None]
    out.flush()
    del out
    assert path.stat().st_size > 2048 * 2**20 and path.stat().st_blocks * 512 < 200 * 2**20, "a sparse file"
    return path


def labels() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 2, N)


def test_a_file_over_the_limit_opens_in_place_with_no_setting_changed(big_npy, monkeypatch):
    monkeypatch.delenv("PROBING_MAX_UPLOAD_MB", raising=False)
    aset = load_activations(big_npy)
    assert aset.storage == "memmap" and aset.shape == (N, N_LAYERS, D)
    assert aset.nbytes > 2048 * 2**20
    with open(big_npy, "rb") as f, pytest.raises(ProbingInputError, match="over the 2048.0 MB limit"):
        load_activations(f)  # the same bytes as an upload would be copied into memory: refused before reading


def test_a_sweep_over_it_stays_within_the_memory_budget(big_npy):
    """In a fresh process with a 64 MB budget, anonymous memory grows by the budget plus the per-sample outputs."""
    script = textwrap.dedent(f"""
        import json, sys, numpy as np
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'benchmarks')!r})
        from bench_scale import PeakSampler, rss_anon
        from probing import load_activations
        from probing.probes.sweep import probe_layers
        import sklearn.model_selection  # grouped folds import it lazily: modules are not the data's memory
        y = np.random.default_rng(1).integers(0, 2, {N})
        before = rss_anon()
        with PeakSampler() as peak:
            aset = load_activations({str(big_npy)!r})
            sweep = probe_layers(aset, y, cv=2, control=False)
        print(json.dumps({{"before": before, "peak": peak.peak, "accuracy": sweep.accuracy.tolist(),
                          "warnings": list(sweep.warnings)}}))
    """)
    env = {"PROBING_MEMORY_BUDGET": f"{BUDGET:.0f}", "OPENBLAS_NUM_THREADS": "1", "PATH": os.environ.get("PATH", "")}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    grown = result["peak"] - result["before"]
    # on top of the budget (docs/scaling.md): decision + projection kept per sample (n L 3 x 4 B = 53 MB), the
    # held-out scores of a layer block (n L k x 8 B = 70 MB), and the modules the sweep imports
    fixed = N * N_LAYERS * (3 * 4 + 2 * 8) + 32 * 2**20
    assert grown < BUDGET + fixed, f"anonymous memory grew by {grown / 2**20:.0f} MiB"
    assert grown < big_npy.stat().st_size / 10
    # every row was read: the file's hole (all-zero rows) was found to be one set of exact copies, kept in one fold
    copies = N - 2 * WRITTEN - 1
    assert any(f"{copies} of {N} rows are exact copies" in w for w in result["warnings"]), result["warnings"]
    assert all(0.0 <= a <= 1.0 for a in result["accuracy"]) and len(result["accuracy"]) == N_LAYERS
