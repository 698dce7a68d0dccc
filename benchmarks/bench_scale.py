"""A 5-fold probe sweep over a float16 memmap bigger than the memory budget.

Writes ``(n, layers, d)`` float16 activations with a planted binary concept to a ``.npy``
under /tmp (checking free disk first), then runs, each in a fresh subprocess:

* ``xtx32`` / ``xtx64``: one chunked numpy ``X^T X`` pass over every layer of the file
  (float32 and float64 products), the reference the issue sets (within 2x);
* ``sweep``: ``load_activations`` (memory-mapped; includes the chunked NaN/Inf scan) and
  ``probe_layers(aset, y, cv=5)`` (LDA, control task): one moments pass plus the held-out pass.

Peak anonymous memory (``RssAnon`` from /proc/self/status, sampled every 10 ms in a
thread) is what the process itself allocated; the file's pages are page cache, not
counted. The target is < 1 GB with ``PROBING_MEMORY_BUDGET=1GB``.

    .venv/bin/python benchmarks/bench_scale.py            # 200,000 x 7 x 768 (2.1 GB)
    .venv/bin/python benchmarks/bench_scale.py --big      # 1,000,000 x 7 x 768 (10.8 GB), the issue's size
    .venv/bin/python benchmarks/bench_scale.py --threads 1  # on an oversubscribed machine (see docs/scaling.md)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.record import record  # noqa: E402


def rss_anon() -> int:
    """This process's anonymous resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """Samples RssAnon in a thread; ``peak`` is the largest value seen."""

    def __init__(self, every: float = 0.01):
        self.every, self.peak, self._stop = every, rss_anon(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon())
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


def write_file(path: Path, n: int, n_layers: int, d: int, seed: int = 0) -> None:
    """float16 activations with a concept planted along one direction per layer; labels beside them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    directions = rng.standard_normal((n_layers, d)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    signal = np.linspace(0.2, 2.0, n_layers, dtype=np.float32)[:, None] * directions  # deeper layers: clearer
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, n_layers, d))
    for start in range(0, n, 16384):
        stop = min(start + 16384, n)
        block = rng.standard_normal((stop - start, n_layers, d), dtype=np.float32)
        block += (2 * y[start:stop, None, None] - 1) * signal
        out[start:stop] = block
    out.flush()
    del out
    np.save(path.with_suffix(".labels.npy"), y)


def child(mode: str, path: Path) -> dict:
    """Run one measurement in this (fresh) process and return its numbers."""
    from probing import budget

    acts = np.load(path, mmap_mode="r")
    n, n_layers, d = acts.shape
    rows = budget.chunk_rows(2 * n_layers * d * 2 + 24 * d, share=4)  # the moments pass's chunk size
    with PeakSampler() as peak:
        start, cpu = time.perf_counter(), time.process_time()
        if mode.startswith("xtx"):
            dtype = np.float32 if mode == "xtx32" else np.float64
            gram = np.zeros((n_layers, d, d))
            for a in range(0, n, rows):
                block = np.asarray(acts[a:a + rows], dtype=dtype)
                for layer in range(n_layers):
                    x = block[:, layer, :]
                    gram[layer] += x.T @ x
            load = 0.0
        else:
            from probing import load_activations
            from probing.probes.sweep import probe_layers

            aset = load_activations(path, max_bytes=path.stat().st_size + 1)
            load = time.perf_counter() - start
            sweep = probe_layers(aset, np.load(path.with_suffix(".labels.npy")), cv=5, seed=0)
            print("accuracy per layer:", np.round(sweep.accuracy, 3).tolist(), file=sys.stderr)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    phases = {} if mode.startswith("xtx") else {"load": load, **sweep.seconds}
    return {"mode": mode, "seconds": seconds, "cpu": cpu, "load_seconds": load, "peak_anon": peak.peak,
            "phases": phases}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--big", action="store_true", help="1,000,000 samples (10.8 GB): the issue's target size")
    parser.add_argument("--budget", default="1GB", help="PROBING_MEMORY_BUDGET for the runs")
    parser.add_argument("--dir", default="/tmp", help="where to write the file")
    parser.add_argument("--threads", type=int, help="BLAS threads for every run (OPENBLAS/OMP/MKL_NUM_THREADS)")
    parser.add_argument("--keep", action="store_true", help="keep the file afterwards")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.path))))
        return
    n = 1_000_000 if args.big else args.n
    path = Path(args.dir) / f"bench_scale_{n}x{args.layers}x{args.d}.npy"
    size = n * args.layers * args.d * 2
    free = shutil.disk_usage(args.dir).free
    if not path.exists() and free < 1.5 * size:
        sys.exit(f"Need {size / 1e9:.1f} GB (plus margin) in {args.dir}; only {free / 1e9:.1f} GB free.")
    if not path.exists():
        t = time.perf_counter()
        write_file(path, n, args.layers, args.d)
        print(f"wrote {path} ({size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s")
    env = {**os.environ, "PROBING_MEMORY_BUDGET": args.budget}
    if args.threads:
        env.update({k: str(args.threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    results = []
    try:
        for mode in ("xtx32", "xtx64", "sweep"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--path", str(path)], env=env,
                                 capture_output=True, text=True, check=True)
            sys.stderr.write(out.stderr)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            path.with_suffix(".labels.npy").unlink(missing_ok=True)
    reference = {r["mode"]: r for r in results}
    print(f"\n{n:,} x {args.layers} x {args.d} float16 = {size / 1e9:.2f} GB, PROBING_MEMORY_BUDGET={args.budget}, "
          f"{os.cpu_count()} cores, BLAS threads {args.threads or 'default'}, load average {os.getloadavg()[0]:.1f}")
    print("Ratios use CPU seconds (all threads): on a shared machine wall time mostly measures the neighbours.")
    print(f"{'run':<34}{'wall s':>8}{'CPU s':>8}{'CPU vs X^T X f32':>18}{'CPU vs X^T X f64':>18}{'peak anon MB':>14}")
    names = {"xtx32": "numpy X^T X pass (float32)", "xtx64": "numpy X^T X pass (float64)",
             "sweep": "load + 5-fold probe sweep (LDA)"}
    for r in results:
        print(f"{names[r['mode']]:<34}{r['seconds']:>8.1f}{r['cpu']:>8.1f}{r['cpu'] / reference['xtx32']['cpu']:>18.2f}"
              f"{r['cpu'] / reference['xtx64']['cpu']:>18.2f}{r['peak_anon'] / 2**20:>14.0f}")
    sweep = results[-1]
    split = ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in sweep["phases"].items())
    print(f"(sweep wall seconds by phase: {split}; load = memmap + NaN/Inf scan)")
    record("bench_scale", f"load + 5-fold LDA sweep, {n:,} x {args.layers} x {args.d} float16 memmap, "
           f"budget {args.budget} (CPU s)", sweep["cpu"], "one chunked float32 X^T X pass (CPU s)",
           reference["xtx32"]["cpu"], "<= 1.2", f"peak anonymous {sweep['peak_anon'] / 2**20:.0f} MB (target < 1 GB); "
           f"wall {sweep['seconds']:.1f} s vs {reference['xtx32']['seconds']:.1f} s; wall s by phase: {split}")


if __name__ == "__main__":
    main()
