"""Benchmark: the 5-fold probe sweep against scikit-learn, per dataset.

Columns
-------
ours_s          probe_layers(method="lda", control=False) over all layers (5 folds)
sklearn_s       cross_val_score(LogisticRegression()) per layer, summed over all layers
                (timed on a subset of layers and extrapolated when --ref-layers is smaller)
speedup         sklearn_s / ours_s
floor_s         X^T X in float64 for every layer: the cost of touching the data once
ours_acc        best-layer 5-fold accuracy of the sweep
default_lr_acc  cross_val_score(LogisticRegression()) accuracy at that layer
tuned_lr_acc    best over C of a standardised LogisticRegression at that layer (same folds)

Run:  .venv/bin/python benchmarks/bench_probes.py [--ref-layers 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a fresh clone

from probing import load_activations  # noqa: E402
from probing.probes import probe_layers  # noqa: E402
from probing.synthetic import make_concept_embeddings  # noqa: E402

C_GRID = (0.001, 0.01, 0.1, 1.0)


def bench(aset, label, ref_layers: int, seed: int = 0) -> dict:
    y = aset.label(label)
    start = time.perf_counter()
    sweep = probe_layers(aset, label, cv=5, method="lda", control=False, seed=seed)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    for layer in range(aset.n_layers):
        X = np.asarray(aset.layer(layer), dtype=np.float64)
        X.T @ X
    floor = time.perf_counter() - start

    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    picked = np.unique(np.linspace(0, aset.n_layers - 1, min(ref_layers, aset.n_layers)).round().astype(int))
    best = sweep.best_layer
    picked = np.union1d(picked, [best])
    times, default_acc = [], {}
    for layer in picked:
        X = np.asarray(aset.layer(layer), dtype=np.float64)
        start = time.perf_counter()
        default_acc[layer] = cross_val_score(LogisticRegression(), X, y, cv=folds).mean()
        times.append(time.perf_counter() - start)
    X = np.asarray(aset.layer(best), dtype=np.float64)
    tuned = max(cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)),
                                X, y, cv=folds).mean() for C in C_GRID)
    sklearn_total = float(np.mean(times)) * aset.n_layers
    return {"dataset": aset.name, "shape": "x".join(map(str, aset.shape)), "ours_s": ours,
            "sklearn_s": sklearn_total, "ref_layers": f"{len(picked)}/{aset.n_layers}",
            "speedup": sklearn_total / ours, "floor_s": floor, "best_layer": aset.layers[best],
            "ours_acc": sweep.accuracy[best], "default_lr_acc": default_acc[best], "tuned_lr_acc": tuned,
            "ours_minus_tuned_pts": 100 * (sweep.accuracy[best] - tuned)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref-layers", type=int, default=3, help="layers on which to time the sklearn reference")
    parser.add_argument("--n", type=int, default=20000, help="synthetic samples")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads for both sides (on a shared, loaded machine 1 is fastest and fairest)")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    synthetic, _ = make_concept_embeddings(args.n, d=768, n_concepts=4, noise=3.0, n_layers=13, seed=0,
                                           name="synthetic (4 concepts, noise 3)")
    rows.append(bench(synthetic, "label", args.ref_layers))
    bundled = ROOT / "data" / "sentiment_minilm.safetensors"
    if bundled.exists():
        aset = load_activations(bundled, name="sentiment_minilm")
        label = "label" if "label" in aset.labels else aset.categorical_labels()[0]
        rows.append(bench(aset, label, args.ref_layers))
    else:
        print(f"note: {bundled.relative_to(ROOT)} is absent; only the synthetic set was benchmarked")
    print(f"BLAS threads: {args.threads}")
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
