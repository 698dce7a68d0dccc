"""One row of ``benchmarks/RESULTS.md``: ours against a reference, both timed in the same run.

Every benchmark calls :func:`record` for each comparison it makes. The row is printed, and
appended as one JSON line to the file named by ``PROBING_BENCH_ROWS`` when that is set
(``benchmarks/run_all.py`` sets it and turns the lines into the table).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

ROWS_ENV = "PROBING_BENCH_ROWS"


def record(benchmark: str, workload: str, ours_s: float, reference: str, reference_s: float,
           target: str = "", note: str = "") -> dict:
    """Print one comparison and append it to ``$PROBING_BENCH_ROWS``.

    Parameters
    ----------
    benchmark : str
        Script name, e.g. ``"bench_pca"``.
    workload : str
        What both sides did, with sizes.
    ours_s, reference_s : float
        Seconds for ours and for the reference, measured in this run.
    reference : str
        What the reference is (library and call).
    target : str
        The issue's target for ``ours / reference``, e.g. ``"<= 0.25"``.
    note : str
        Accuracy, agreement or anything needed to read the row.
    """
    row = {"benchmark": benchmark, "workload": workload, "ours_s": float(ours_s), "reference": reference,
           "reference_s": float(reference_s), "ratio": float(ours_s) / max(float(reference_s), 1e-12),
           "target": target, "note": note}
    print(f"[{benchmark}] {workload}: ours {ours_s:.3f} s, {reference} {reference_s:.3f} s, "
          f"ratio {row['ratio']:.3f} (target {target or '-'}) {note}", flush=True)
    path = os.environ.get(ROWS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
    return row


def paired_times(ours, theirs, repeats: int) -> tuple[float, float, object, object]:
    """Median seconds of two functions run alternately (a busy neighbour slows both alike).

    Returns
    -------
    t_ours, t_reference, last result of ours, last result of the reference
    """
    t_ours, t_ref, a, b = [], [], None, None
    for _ in range(repeats):
        start = time.perf_counter()
        a = ours()
        t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        b = theirs()
        t_ref.append(time.perf_counter() - start)
    return float(np.median(t_ours)), float(np.median(t_ref)), a, b
