"""Projector speed: server-side aggregation, sampled UMAP/t-SNE, and time to first paint in the browser.

Rows (each against a reference where one exists):

* ``aggregate`` of 1,000,000 points into an 80 x 80 grid with majority labels, against
  ``numpy.histogram2d`` (counts only).
* PCA view of 200,000 x 16 rows against scikit-learn's ``PCA(2).fit_transform``.
* t-SNE fitted on a 2,000-row sample with nearest-neighbour placement of 20,000 rows,
  against scikit-learn's ``TSNE`` on the same 2,000 rows alone.
* UMAP fitted on a 2,000-row sample plus ``transform`` of the rest (20,000 rows), against
  the 2,000-row fit alone (the first UMAP call also compiles numba code; it is warmed first).
* Time to first paint: the Projector page in headless Chromium, from clicking "Generate and
  open" with 200,000 demo points until the aggregated chart is drawn; then a zoom redraw.

Run: ``.venv/bin/python benchmarks/bench_projector.py [--skip-browser]``. The machine may be
shared, so rerun if the numbers look noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from probing.projector import aggregate, project  # noqa: E402
from probing.synthetic import make_concept_embeddings  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def numeric_rows() -> list[tuple[str, float, str, float]]:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(0)
    coords, labels = rng.standard_normal((1_000_000, 2)), rng.integers(0, 5, 1_000_000)
    rows = []
    ours, frame = timed(lambda: aggregate(coords, bins=80, labels=labels))
    ref, _ = timed(lambda: np.histogram2d(coords[:, 0], coords[:, 1], bins=80))
    assert frame["count"].sum() == 1_000_000
    rows.append(("aggregate 1M points, 80x80, majority label", ours, "np.histogram2d (counts only)", ref))

    aset, _ = make_concept_embeddings(n_samples=200_000, d=16, n_concepts=3, n_layers=1, seed=0)
    X = aset.layer(0)
    ours, _ = timed(lambda: project(X, "pca"))
    ref, _ = timed(lambda: PCA(2).fit_transform(X))
    rows.append(("PCA view 200k x 16", ours, "sklearn PCA(2)", ref))

    small = X[:20_000]
    ours, view = timed(lambda: project(small, "tsne", max_fit=2000, seed=0))
    sample = np.asarray(small[np.sort(np.random.default_rng(0).choice(20_000, 2000, replace=False))])
    ref, _ = timed(lambda: TSNE(2, random_state=0, init="pca").fit_transform(sample))
    rows.append((f"t-SNE 20k rows (fit {view.fitted_on:,} + kNN place)", ours, "sklearn TSNE on the 2k sample", ref))

    project(small[:300], "umap", max_fit=200, seed=0)  # compile numba code once
    ours, view = timed(lambda: project(small, "umap", max_fit=2000, seed=0))
    ref, _ = timed(lambda: project(sample, "umap", max_fit=2000, seed=0))
    rows.append((f"UMAP 20k rows (fit {view.fitted_on:,} + {view.params['placement']})", ours, "UMAP fit on the 2k sample only", ref))
    return rows


def browser_rows(n: int) -> list[tuple[str, float, str, float]]:
    from playwright.sync_api import sync_playwright

    from dashboard.local_server import CHROMIUM
    from test_browser_projector import draw_demo_points

    from dashboard.local_server import served_app

    env = {"PROBING_WORKSPACE": tempfile.mkdtemp(prefix="bench-projector-")}
    with served_app(env) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        timings = draw_demo_points(page, url, n)
        browser.close()
    return [(f"browser: first paint, {n:,} demo points", timings["first_paint_s"], "", float("nan")),
            ("browser: zoom redraw", timings["zoom_redraw_s"], "", float("nan"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    rows = numeric_rows() + ([] if args.skip_browser else browser_rows(args.points))
    print(f"{'task':52s} {'ours (s)':>9s}   {'reference':34s} {'ref (s)':>8s}")
    for task, ours, reference, ref in rows:
        print(f"{task:52s} {ours:9.2f}   {reference:34s} {ref:8.2f}")


if __name__ == "__main__":
    main()
