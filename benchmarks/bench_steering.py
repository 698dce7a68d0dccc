"""Steering and erasure on the bundled sentiment data: the measurements behind issue 9's targets.

1. Dose-response through the real model: a mean-difference vector from a middle layer
   (fitted on 900 training sentences) is added inside MiniLM's forward pass for 300
   held-out sentences; a last-layer LDA probe (fitted on the training sentences) reads
   them out. Target: most texts read negative at alpha = -2 and positive at +2.
2. LEACE: held-out probe accuracy per layer before and after erasure (eraser and probe
   fitted on training folds only) against the majority baseline. Target: within 2 points.

Run: ``.venv/bin/python benchmarks/bench_steering.py [--layers 3 4] [--texts 300]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from probing import load_activations  # noqa: E402
from probing.erasure import erasure_sweep  # noqa: E402
from probing.probes import fit_probe  # noqa: E402
from probing.steering import steering_sweep, steering_vector  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "sentiment_minilm.safetensors"
ALPHAS = (-4, -2, -1, 0, 1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--texts", type=int, default=300)
    args = parser.parse_args()
    aset = load_activations(DATA)
    y = aset.labels["label"]
    order = np.random.default_rng(0).permutation(aset.n_samples)
    test, train = order[:args.texts], order[args.texts:]
    readout = fit_probe(np.asarray(aset.layer(-1), dtype=np.float64)[train], y[train])
    texts = aset.meta["text"].iloc[test].tolist()
    print(f"readout: LDA probe on {aset.layers[-1]}, held-out accuracy "
          f"{readout.score(np.asarray(aset.layer(-1), dtype=np.float64)[test], y[test]):.3f}")
    print(f"fraction of {len(texts)} held-out texts read as positive, by alpha (vector = mean difference)")
    print("layer    " + "".join(f"{a:>8g}" for a in ALPHAS) + "   seconds")
    for layer in args.layers:
        vector = steering_vector(np.asarray(aset.layer(layer), dtype=np.float64)[train], y[train])
        start = time.perf_counter()
        frame = steering_sweep(texts, layer, vector, ALPHAS, readout).to_frame()
        print(f"{aset.layers[layer]:<9}" + "".join(f"{p:>8.3f}" for p in frame["positive_fraction"])
              + f"{time.perf_counter() - start:>10.1f}")
    print("\nLEACE: held-out 5-fold accuracy before/after erasure (eraser fitted on training folds)")
    table = erasure_sweep(aset, "label", cv=5).to_frame()
    table["after_minus_majority_pts"] = 100 * (table["accuracy_after"] - table["majority_baseline"])
    print(table.round(3).to_string(index=False))
    standard_error = 100 * np.sqrt(0.25 / aset.n_samples)
    print(f"standard error of a held-out accuracy near 0.5 with n = {aset.n_samples}: {standard_error:.1f} points")


if __name__ == "__main__":
    main()
