"""Projector views: PCA against scikit-learn, custom axes against X @ u, determinism, exact aggregation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from probing import ProbingInputError
from probing.projector import aggregate, data_extent, points_in, project, unit_axes


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((240, 12)) * np.linspace(3, 0.5, 12)).astype(np.float32)


def test_pca_view_matches_sklearn_up_to_sign(X):
    view = project(X, "pca", n_components=3)
    ref = PCA(3).fit_transform(X.astype(np.float64))
    assert view.coords.shape == (240, 3) and view.fitted_on == 240
    # float32 data: float32 products, float64 accumulation (the precision policy): 1e-6 of the data's scale
    np.testing.assert_allclose(np.abs(view.coords), np.abs(ref), atol=1e-6 * np.abs(ref).max())
    assert view.axes[0].startswith("PC1") and "variance" in view.note
    assert list(view.to_frame().columns) == ["row", "x", "y", "z"]


def test_tsne_fits_a_sample_places_the_rest_and_is_deterministic(X):
    first = project(X[:120], "tsne", max_fit=60, seed=3, perplexity=10)
    again = project(X[:120], "tsne", max_fit=60, seed=3, perplexity=10)
    other = project(X[:120], "tsne", max_fit=60, seed=4, perplexity=10)
    assert first.coords.shape == (120, 2) and first.fitted_on == 60
    np.testing.assert_array_equal(first.coords, again.coords)
    assert not np.allclose(first.coords, other.coords)
    assert "nearest sampled rows" in first.note and "60 of 120" in first.note
    # every placed row sits at the mean position of its 10 nearest sampled rows (brute force)
    rows = np.sort(np.random.default_rng(3).choice(120, size=60, replace=False))
    placed = np.setdiff1d(np.arange(120), rows)
    distances = np.linalg.norm(X[placed, None, :] - X[None, rows, :], axis=2)
    nearest = np.argsort(distances, axis=1)[:, :10]
    np.testing.assert_allclose(first.coords[placed], first.coords[rows][nearest].mean(axis=1), rtol=1e-5, atol=1e-5)
    lo, hi = first.coords[rows].min(axis=0), first.coords[rows].max(axis=0)
    assert np.all(first.coords[placed] >= lo) and np.all(first.coords[placed] <= hi)


def test_umap_fits_a_sample_transforms_the_rest_and_is_deterministic(X):
    first = project(X[:150], "umap", max_fit=100, seed=0, n_neighbors=8)
    again = project(X[:150], "umap", max_fit=100, seed=0, n_neighbors=8)
    assert first.coords.shape == (150, 2) and first.fitted_on == 100
    assert np.isfinite(first.coords).all()
    np.testing.assert_array_equal(first.coords, again.coords)
    assert "UMAP's own transform" in first.note and "not meaningful" in first.note
    knn = project(X[:150], "umap", max_fit=100, seed=0, n_neighbors=8, placement="knn")
    assert "nearest sampled rows" in knn.note
    rows = np.sort(np.random.default_rng(0).choice(150, size=100, replace=False))
    np.testing.assert_array_equal(knn.coords[rows], first.coords[rows])  # same seeded fit, other placement


def test_custom_axes_are_projections_on_unit_directions(X):
    rng = np.random.default_rng(1)
    D = rng.standard_normal((2, 12))
    view = project(X, "custom", directions=D, names=["probe", "pc1"])
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    np.testing.assert_allclose(view.coords, X.astype(np.float64) @ U.T, rtol=1e-10, atol=1e-10)
    assert view.axes == ["probe", "pc1"] and "oblique" in view.note


def test_orthogonalized_axes_are_orthonormal_and_keep_the_first_direction(X):
    D = np.array([[1.0, 1.0] + [0.0] * 10, [1.0, 0.0] + [0.0] * 10])
    U = unit_axes(D, 12, orthogonalize=True)
    np.testing.assert_allclose(U @ U.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(U[0], D[0] / np.linalg.norm(D[0]))
    assert U[1] @ D[1] > 0  # the second axis still points along its direction
    view = project(X, "custom", directions=D, orthogonalize=True)
    np.testing.assert_allclose(view.coords, X.astype(np.float64) @ U.T, atol=1e-9)
    with pytest.raises(ProbingInputError, match="not parallel"):
        unit_axes([D[0], 2 * D[0]], 12, orthogonalize=True)


def test_aggregate_counts_and_majorities_match_brute_force():
    rng = np.random.default_rng(2)
    coords = rng.standard_normal((20_000, 2))
    labels = rng.choice(["a", "b", "c"], size=20_000, p=[0.5, 0.3, 0.2])
    frame = aggregate(coords, bins=16, labels=labels)
    assert frame["count"].sum() == 20_000
    x0, x1, y0, y1 = data_extent(coords)
    hist, _, _ = np.histogram2d(coords[:, 0], coords[:, 1], bins=16, range=[[x0, x1], [y0, y1]])
    assert sorted(frame["count"]) == sorted(hist[hist > 0].astype(int))
    # majority per cell by brute force
    ix = np.minimum(((coords[:, 0] - x0) / (x1 - x0) * 16).astype(int), 15)
    iy = np.minimum(((coords[:, 1] - y0) / (y1 - y0) * 16).astype(int), 15)
    table = pd.crosstab(ix * 16 + iy, labels)
    cells = np.rint((frame["x"] - x0) / (x1 - x0) * 16).astype(int) * 16 + np.rint((frame["y"] - y0) / (y1 - y0) * 16).astype(int)
    expected = table.loc[cells]
    assert (expected.max(axis=1).to_numpy() == (frame["majority_share"] * frame["count"]).round().to_numpy()).all()
    assert (expected.to_numpy()[np.arange(len(frame)), expected.columns.get_indexer(frame["majority"])]
            == expected.max(axis=1).to_numpy()).all()


def test_aggregate_in_a_zoomed_window_counts_exactly_the_points_inside():
    coords = np.random.default_rng(3).standard_normal((5000, 2))
    window = (-0.5, 1.0, -1.0, 0.25)
    frame = aggregate(coords, bins=7, extent=window)
    assert frame["count"].sum() == points_in(coords, window).sum()
    assert frame["x"].min() >= -0.5 and frame["x_end"].max() <= 1.0 + 1e-12


def test_bad_inputs_are_explained(X):
    with pytest.raises(ProbingInputError, match="Unknown projection method"):
        project(X, "isomap")
    with pytest.raises(ProbingInputError, match="2 or 3"):
        project(X, "pca", n_components=5)
    with pytest.raises(ProbingInputError, match="needs directions"):
        project(X, "custom")
    with pytest.raises(ProbingInputError, match="length d = 12"):
        project(X, "custom", directions=np.ones((2, 5)))
    with pytest.raises(ProbingInputError, match=r"shape \(n, 2\)"):
        aggregate(np.zeros((5, 3)))
