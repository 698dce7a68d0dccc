"""Run every benchmark (short sizes) and write ``benchmarks/RESULTS.md``: one table, ours / reference.

Each ``bench_*.py`` runs in its own process with the arguments in ``QUICK`` (sizes that finish
in minutes on 2 cores; the scripts' own defaults are the issues' full sizes) and appends its
comparisons to a rows file (:mod:`benchmarks.record`). The page has the machine's cores, load,
BLAS (threadpoolctl) and library versions, because a ratio means little without them.

    make bench                      # or: .venv/bin/python benchmarks/run_all.py [--only pca erasure] [--full]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_probes": [],  # the 20,000 x 6 x 512 (about a minute)
    "bench_pca": ["--quick"],
    "bench_erasure": ["--quick"],
    "bench_loaders": ["--quick"],
    "bench_superposition": ["--quick"],
    "bench_pages": [],
    "bench_scale": ["--n", "200000", "--threads", "1"],  # 2.15 GB; the 1,000,000 rows: --big
    "bench_coherence": ["--k", "4096", "--repeats", "1"],
    "bench_directions": ["--n", "200", "--sae-rows", "2048"],
    "bench_workspace": ["--datasets", "100", "--results", "20"],
    "bench_projector": ["--skip-browser", "--points", "50000"],
    "bench_extract": ["128"],
    "bench_steering": ["--layers", "3", "--texts", "100"],
    "bench_load": ["--sessions", "4", "--timeout", "240"],
}
LIBRARIES = ("numpy", "scipy", "scikit-learn", "torch", "concept-erasure", "dask", "streamlit")


def uptime() -> str:
    """The 1, 5 and 15 minute load averages (other people's work on a shared machine)."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def environment() -> list[str]:
    """Lines describing the machine: cores, load, BLAS, library versions."""
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401  (loads the BLAS threadpoolctl reports)

    versions = []
    for lib in LIBRARIES:
        try:
            versions.append(f"{lib} {importlib.metadata.version(lib)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{lib} absent")
    blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('threading_layer', '-')}, "
            f"{p.get('num_threads')} threads, {p.get('architecture', '-')})" for p in threadpool_info()]
    return [f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(`os.cpu_count()`), Python {platform.python_version()}",
            f"- BLAS / thread pools (threadpoolctl): {'; '.join(blas)}",
            f"- libraries: {', '.join(versions)}"]


def table(rows: list[dict]) -> list[str]:
    lines = ["| benchmark | workload | ours (s) | reference | reference (s) | ours / ref | target | note |",
             "|---|---|---:|---|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['workload']} | {r['ours_s']:.3f} | {r['reference']} | "
                     f"{r['reference_s']:.3f} | {r['ratio']:.3f} | {r['target']} | {r['note']} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="benchmark names without the bench_ prefix")
    parser.add_argument("--full", action="store_true", help="the scripts' default (full) sizes")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    rows_file = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    env = {**os.environ, "PROBING_BENCH_ROWS": str(rows_file), "PYTHONPATH": str(HERE.parent)}
    load_before, started, runs = uptime(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), []
    for name in names:
        argv = [] if args.full else QUICK.get(name, [])
        print(f"== {name} {' '.join(argv)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *argv], env=env, cwd=HERE.parent)
        runs.append(f"| {name} | `{' '.join(argv) or '(defaults)'}` | {time.perf_counter() - start:.0f} | "
                    f"{'ok' if code == 0 else f'exit {code}'} |")
    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    rows_file.unlink()
    text = ["# Benchmark results", "",
            f"Written by `make bench` (`benchmarks/run_all.py`), started {started}. Each row is ours against "
            "its reference measured in the same run (ratio = ours / reference: below 1 is faster). "
            "The machine is shared: load averages (1/5/15 min) were "
            f"{load_before} at the start and {uptime()} at the end, so wall times are noisy; "
            "rerun before trusting a ratio near its target.", "", *environment(), "", *table(rows), "",
            "## Runs", "", "| script | arguments | seconds | status |", "|---|---|---:|---|", *runs, "",
            "Scripts without rows in the table print their own tables only (see `make bench` output).", ""]
    args.out.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(line.endswith("ok |") for line in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
