"""fit_pca against scikit-learn's PCA on 50,000 x 384 float32 activations.

Targets (issue 6): all components in at most 1/4 of ``PCA(svd_solver="full")``'s time,
10 components in at most 1/2 of ``PCA(10, svd_solver="randomized")``'s time.

Run: ``.venv/bin/python benchmarks/bench_pca.py [--repeats 5] [--quick]``. Each pair runs
alternately and times are medians of the repeats (on a shared machine, rerun if the numbers
look noisy). ``--quick`` keeps the issue's size and takes 3 repeats.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.record import paired_times, record  # noqa: E402
from probing.pca import PCABasis, fit_pca  # noqa: E402
from probing.stats import compute_moments  # noqa: E402


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


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
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    args.repeats = 3 if args.quick else args.repeats
    X = activations(args.n, args.d, seed=0)
    cases = [
        ("all components", lambda: fit_pca(X), lambda: PCA(svd_solver="full").fit(X), 'PCA(svd_solver="full")',
         0.25),
        ("n_components=10", lambda: fit_pca(X, n_components=10),
         lambda: PCA(10, svd_solver="randomized", random_state=0).fit(X), 'PCA(10, svd_solver="randomized")', 0.5),
    ]
    for name, ours, theirs, reference, target in cases:
        t_ours, t_ref, basis, ref = paired_times(ours, theirs, args.repeats)
        diff = np.max(np.abs(basis.explained_variance - ref.explained_variance_) / ref.explained_variance_)
        record("bench_pca", f"fit_pca {name}, {args.n:,} x {args.d} float32, median of {args.repeats}", t_ours,
               f"sklearn {reference}", t_ref, f"<= {target}", f"max relative spectrum difference {diff:.1e}")
    t_moments, moments = median_time(lambda: compute_moments(X), args.repeats)
    t_eigen, _ = median_time(lambda: PCABasis.from_moments(moments), args.repeats)
    t_eigen10, _ = median_time(lambda: PCABasis.from_moments(moments, n_components=10), args.repeats)
    print(f"where fit_pca's time goes: moments pass {t_moments:.3f} s, eigendecomposition {t_eigen:.3f} s "
          f"(all) / {t_eigen10:.3f} s (10 components)")


if __name__ == "__main__":
    main()
