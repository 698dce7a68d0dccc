"""Mutual coherence of a 16,384 x 768 float32 dictionary: blocked scan vs the naive ``U @ U.T``.

Each variant runs in its own subprocess, so peak memory (``ru_maxrss`` of that process)
belongs to that variant alone. Prints a table with wall time, CPU time (user + system,
all threads: on a shared, overloaded machine the steadier measure of work), peak RSS,
the RSS added over the process after setup (the data and imports), and the ratios to
the naive reference. Targets (issue 8): at most half the time and a fifth of the peak memory.

    .venv/bin/python benchmarks/bench_coherence.py [--k 16384] [--d 768] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "naive U @ U.T (GEMM only)": "gemm",
    "naive coherence (U @ U.T, abs, argmax)": "naive",
    "mutual_coherence (blocks of 2048)": "blocked:2048",
    "mutual_coherence (blocks of 1024)": "blocked:1024",
    "coherence_report (blocks of 1024, no random baseline)": "report:1024",
}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(variant: str, k: int, d: int) -> None:
    """Run one variant and print a JSON line: seconds, peak and setup RSS (MiB), mu."""
    import numpy as np

    kind, _, block = variant.partition(":")
    if kind in ("blocked", "report"):
        sys.path.insert(0, str(ROOT))
        from probing.coherence import coherence_report, mutual_coherence
    D = np.random.default_rng(0).standard_normal((k, d), dtype=np.float32)
    setup = _peak_mib()
    start, cpu = time.perf_counter(), _cpu_s()
    if kind == "gemm":
        U = D / np.linalg.norm(D, axis=1, keepdims=True)
        G = U @ U.T
        mu = float("nan")
    elif kind == "naive":
        U = D / np.linalg.norm(D, axis=1, keepdims=True)
        G = U @ U.T
        np.abs(G, out=G)
        np.fill_diagonal(G, 0.0)
        mu = float(G.max())
    elif kind == "blocked":
        mu = mutual_coherence(D, block_rows=int(block))
    else:
        mu = coherence_report(D, block_rows=int(block), baseline_draws=0).mu
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mib": _peak_mib(), "setup_mib": setup, "mu": mu}))


def run(variant: str, k: int, d: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--k", str(k), "--d", str(d)],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=16384)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per variant (interleaved); the best is shown, since load only adds time")
    parser.add_argument("--threads", type=int, help="BLAS threads per child (default: the library's default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.k, args.d)
        return
    import numpy as np
    import pandas as pd

    results = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):  # interleaved, so load on a shared machine hits every variant alike
        for name, variant in VARIANTS.items():
            results[name].append(run(variant, args.k, args.d, args.threads))
    rows = []
    for name, runs in results.items():
        rows.append({"variant": name, "time_s": min(r["seconds"] for r in runs),
                     "cpu_s": min(r["cpu_s"] for r in runs),
                     "peak_rss_mib": np.median([r["peak_mib"] for r in runs]),
                     "added_rss_mib": np.median([r["peak_mib"] - r["setup_mib"] for r in runs]),
                     "mu": runs[0]["mu"]})
    table = pd.DataFrame(rows)
    naive = table.set_index("variant").loc["naive coherence (U @ U.T, abs, argmax)"]
    table["time_vs_naive"] = table.time_s / naive.time_s
    table["cpu_vs_naive"] = table.cpu_s / naive.cpu_s
    table["peak_vs_naive"] = table.peak_rss_mib / naive.peak_rss_mib
    threads = args.threads or "default"
    print(f"k={args.k}, d={args.d}, float32, BLAS threads {threads}, best of {args.repeats} interleaved runs "
          "(memory: median), each in its own process")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    found = table.mu.dropna()
    print("all variants agree on mu:", bool(np.allclose(found, found.iloc[0], atol=1e-6)))


if __name__ == "__main__":
    main()
