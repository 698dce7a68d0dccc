"""fit_pca against scikit-learn's PCA on 50,000 x 384 float32 activations.

Targets (issue 6): all components in at most 1/4 of ``PCA(svd_solver="full")``'s time,
10 components in at most 1/2 of ``PCA(10, svd_solver="randomized")``'s time.

Run: ``.venv/bin/python benchmarks/bench_pca.py [--repeats 5]``. Each pair runs alternately
and times are medians of the repeats (on a shared machine, rerun if the numbers look noisy).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from probing.pca import PCABasis, fit_pca  # noqa: E402
from probing.stats import compute_moments  # noqa: E402


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def paired_times(ours, theirs, repeats: int) -> tuple[float, float, object, object]:
    """Median times of two functions run alternately, so a busy neighbour slows both alike."""
    t_ours, t_ref = [], []
    for _ in range(repeats):
        t, basis = median_time(ours, 1)
        t_ours.append(t)
        t, ref = median_time(theirs, 1)
        t_ref.append(t)
    return float(np.median(t_ours)), float(np.median(t_ref)), basis, ref


def activations(n: int, d: int, seed: int) -> np.ndarray:
    """Correlated float32 rows with a decaying spectrum, like a transformer layer."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * (1.0 / np.arange(1, d + 1) ** 0.5)[:, None]
    return (rng.standard_normal((n, d)) @ mixing + rng.standard_normal(d)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    X = activations(args.n, args.d, seed=0)
    cases = [
        ("all components", lambda: fit_pca(X), lambda: PCA(svd_solver="full").fit(X), 0.25),
        ("n_components=10", lambda: fit_pca(X, n_components=10),
         lambda: PCA(10, svd_solver="randomized", random_state=0).fit(X), 0.5),
    ]
    print(f"PCA on {args.n:,} x {args.d} float32, median of {args.repeats}")
    print(f"{'case':<16} {'fit_pca s':>10} {'sklearn s':>10} {'ratio':>7} {'target':>7} {'max rel diff spectrum':>22}")
    for name, ours, theirs, target in cases:
        t_ours, t_ref, basis, ref = paired_times(ours, theirs, args.repeats)
        diff = np.max(np.abs(basis.explained_variance - ref.explained_variance_) / ref.explained_variance_)
        ok = "ok" if t_ours / t_ref <= target else "MISS"
        print(f"{name:<16} {t_ours:>10.3f} {t_ref:>10.3f} {t_ours / t_ref:>7.3f} {target:>7.2f} {diff:>22.2e} {ok}")
    t_moments, moments = median_time(lambda: compute_moments(X), args.repeats)
    t_eigen, _ = median_time(lambda: PCABasis.from_moments(moments), args.repeats)
    t_eigen10, _ = median_time(lambda: PCABasis.from_moments(moments, n_components=10), args.repeats)
    print(f"where fit_pca's time goes: moments pass {t_moments:.3f} s, eigendecomposition {t_eigen:.3f} s "
          f"(all) / {t_eigen10:.3f} s (10 components)")


if __name__ == "__main__":
    main()
