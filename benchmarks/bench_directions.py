"""Direction sets in the workspace: save, list and load 1,000 sets of d = 768, and one SAE-sized set.

The reference is the workspace's other way to keep numbers, a saved result (a JSON file per
result, :meth:`Workspace.save_result`), holding the same vectors. Prints one table: total and
per-set wall time for each step. Pages save a handful of sets per run and list them on every
run, so listing must stay in milliseconds; saving pays one fsync per file (atomic writes).

    .venv/bin/python benchmarks/bench_directions.py [--n 1000] [--d 768] [--sae-rows 16384]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from probing.directions import DirectionSet  # noqa: E402
from probing.store import Workspace  # noqa: E402

FINGERPRINT = "0123456789abcdef"


def timed(rows: list, step: str, n: int, function) -> object:
    start = time.perf_counter()
    out = function()
    seconds = time.perf_counter() - start
    rows.append((step, n, seconds, seconds / n * 1e3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--sae-rows", type=int, default=16384)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sets = [DirectionSet(f"label_{i} (lda)", rng.standard_normal(args.d), "probe", dataset=FINGERPRINT,
                         layer=f"block_{i % 12}", layer_index=i % 12, params={"label": f"label_{i}"})
            for i in range(args.n)]
    sae = DirectionSet("W_dec", rng.standard_normal((args.sae_rows, args.d)).astype(np.float32), "sae",
                       dataset=FINGERPRINT, layer="block_6", layer_index=6)
    rows: list = []
    with tempfile.TemporaryDirectory() as root:
        ws = Workspace(root)
        timed(rows, "add_directions (new)", args.n, lambda: [ws.add_directions(s, owner="bench") for s in sets])
        timed(rows, "add_directions (already saved)", args.n, lambda: [ws.add_directions(s) for s in sets])
        entries = timed(rows, "list_directions (all)", 1, ws.list_directions)
        timed(rows, "list_directions (one layer)", 1, lambda: ws.list_directions(FINGERPRINT, 3))
        timed(rows, "load_directions", len(entries), lambda: [ws.load_directions(e.id) for e in entries])
        timed(rows, "open the workspace (index check)", 1, lambda: Workspace(root).list_directions())
        timed(rows, f"add {args.sae_rows} x {args.d} float32 set", 1, lambda: ws.add_directions(sae))
        timed(rows, "load its first 64 rows", 1, lambda: ws.load_directions(sae.content_id, max_rows=64))
        timed(rows, "load all its rows", 1, lambda: ws.load_directions(sae.content_id))
        ids = timed(rows, "reference: save_result (JSON)", args.n, lambda: [
            ws.save_result("direction", s.name, s.provenance(), {"vectors": s.vectors}) for s in sets])
        timed(rows, "reference: load_result (JSON)", args.n, lambda: [ws.load_result(i) for i in ids])
    print(f"{args.n} direction sets of d = {args.d} (float64), one {args.sae_rows} x {args.d} float32 set\n")
    print(f"{'step':42s} {'n':>6s} {'total s':>9s} {'ms each':>9s}")
    for step, n, seconds, each in rows:
        print(f"{step:42s} {n:6d} {seconds:9.3f} {each:9.3f}")


if __name__ == "__main__":
    main()
