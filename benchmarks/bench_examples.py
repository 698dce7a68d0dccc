"""Directions in action on the bundled sentiment data and MiniLM (issue 20, "Numbers to report").

1. The share of the top-50 examples along the sentiment probe direction (LDA, fitted on all
   1,200 rows of a layer) that are positive, and of the bottom 50 that are negative, per layer.
2. How much the last-layer probe drops when the sentiment direction of a layer (the LDA probe
   direction, and the class-mean difference) is ablated at that layer (an early, a middle and
   a late one) inside MiniLM, against the random control (as many random directions), on a
   seeded sample of texts with fresh cross-validation.

    .venv/bin/python benchmarks/bench_examples.py [--n 400] [--layers 1 3 5] [--cv 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from probing import load_activations  # noqa: E402
from probing.examples import ablation_effect, top_examples  # noqa: E402
from probing.probes import fit_probe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="texts run through the model per condition")
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 3, 5], help="where to ablate")
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--k", type=int, default=50, help="top examples counted")
    args = parser.parse_args()

    aset = load_activations(ROOT / "data" / "sentiment_minilm.safetensors", name="sentiment")
    labels = aset.labels["sentiment"]
    directions, mean_diffs = {}, {}
    print(f"Top-{args.k} examples along the LDA sentiment probe direction (all {aset.n_samples} rows)")
    print(f"{'layer':<12}{'top: positive':>15}{'bottom: negative':>18}")
    for index, name in enumerate(aset.layers):
        probe = fit_probe(np.asarray(aset.layer(index), dtype=np.float64), labels, method="lda")
        direction = probe.direction_ if probe.classes_[1] == "positive" else -probe.direction_
        directions[index] = direction
        X = np.asarray(aset.layer(index), dtype=np.float64)
        mean_diffs[index] = X[labels == "positive"].mean(0) - X[labels != "positive"].mean(0)
        top = top_examples(aset, direction, index, k=args.k)
        bottom = top_examples(aset, -direction, index, k=args.k)
        print(f"{name:<12}{(top['sentiment'] == 'positive').mean():>15.2f}"
              f"{(bottom['sentiment'] == 'negative').mean():>18.2f}")

    rows = np.sort(np.random.default_rng(0).choice(aset.n_samples, min(args.n, aset.n_samples), replace=False))
    texts = aset.meta["text"].to_numpy()[rows].tolist()
    print(f"\nLast-layer probe accuracy ({args.cv}-fold CV, 95% interval) on {len(texts)} texts after ablating the "
          "layer's sentiment direction at that layer")
    print(f"{'direction':<17}{'ablated at':<12}{'none':>20}{'ablated':>20}{'random control':>20}{'drop':>8}{'control drop':>14}"
          f"{'seconds':>9}")
    for kind, found in (("probe (lda)", directions), ("mean difference", mean_diffs)):
        for layer in args.layers:
            report(kind, layer, found[layer], texts, labels[rows], aset.layers, args.cv)


def report(kind, layer, direction, texts, labels, layers, cv) -> None:
    """One row of the ablation table: the last-layer accuracy as is, ablated and under the random control."""
    start = time.perf_counter()
    effect = ablation_effect(texts, labels, direction, layer=layer, cv=cv, seed=0)
    last = effect[effect["layer"] == layers[-1]].set_index("condition")
    cell = {c: f"{r.accuracy:.3f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for c, r in last.iterrows()}
    drop = last.loc["none", "accuracy"] - last.loc["ablated", "accuracy"]
    control = last.loc["none", "accuracy"] - last.loc["random control", "accuracy"]
    print(f"{kind:<17}{layers[layer]:<12}{cell['none']:>20}{cell['ablated']:>20}{cell['random control']:>20}"
          f"{drop:>8.3f}{control:>14.3f}{time.perf_counter() - start:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
