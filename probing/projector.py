"""Low-dimensional views of one layer's activations: PCA, UMAP, t-SNE and custom axes.

A view maps every row of ``X (n, d)`` to a point in 2 or 3 dimensions. The methods differ
in what they keep:

* **PCA** is linear and global: coordinates are projections on the directions of largest
  variance, so distances and directions in the plot are honest, but only for the variance
  those components carry.
* **UMAP** and **t-SNE** are non-linear and local: neighbours stay neighbours, but the
  distances between clusters, their sizes and the empty space are not meaningful.
* **Custom axes** are linear projections on directions you choose (a probe direction
  against PC1, two steering vectors): ``coords = X @ u`` for unit ``u``.

Large sets are fitted on a seeded sample of ``max_fit`` rows. UMAP then places the rest
with its own ``transform``; scikit-learn's t-SNE has none, so each remaining row is put
at the mean embedding of its ``k`` nearest sampled neighbours. ``Projection.note`` says
which was done. :func:`aggregate` bins a million points into a heatmap server-side.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from probing.data import check_finite
from probing.errors import ProbingInputError

Progress = Callable[[float, str], None] | None

METHODS = ("pca", "umap", "tsne", "custom")
DEFAULT_MAX_FIT = 5000
PRE_PCA_DIMS = 50  # UMAP and t-SNE run on the top 50 PCs when d is larger (as TensorBoard does)
KNN_PLACE = 10  # t-SNE: neighbours averaged to place rows outside the fitted sample
UMAP_TRANSFORM_MAX = 5_000  # placement="auto": UMAP's transform (an optimisation per row) up to this many rows
_CHUNK_ROWS = 65536
_PLACE_CHUNK_ROWS = 5000


@dataclass(frozen=True, eq=False)
class Projection:
    """A low-dimensional view of ``n`` rows.

    Attributes
    ----------
    coords : ndarray of shape (n, k)
        One point per row, ``k`` = 2 or 3.
    method : str
        ``"pca"``, ``"umap"``, ``"tsne"`` or ``"custom"``.
    axes : list of str
        A name per coordinate (``"PC1"``, ``"UMAP 1"``, a direction's name ...).
    params : dict
        Parameters of the fit (seed, sample size, perplexity ...), for provenance.
    fitted_on : int
        Number of rows the fit used (``n`` unless a sample was fitted).
    note : str
        What a reader must know to read the view (sampling, placement, orthogonality).
    """

    coords: np.ndarray
    method: str
    axes: list
    params: dict = field(default_factory=dict)
    fitted_on: int = 0
    note: str = ""

    @property
    def n_components(self) -> int:
        return self.coords.shape[1]

    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``row`` (its index) and one column per axis, named ``x``, ``y`` (, ``z``)."""
        frame = pd.DataFrame(self.coords, columns=["x", "y", "z"][:self.n_components])
        frame.insert(0, "row", np.arange(len(frame)))
        return frame


def _check_X(X) -> np.ndarray:
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise ProbingInputError(f"X must be numeric; got dtype {X.dtype}. Convert it to floats first.")
    if X.ndim != 2:
        raise ProbingInputError(f"X must be 2-D (n_samples, d); got shape {X.shape}. Pick one layer, e.g. aset.layer(i).")
    if X.shape[0] < 3 or X.shape[1] < 1:
        raise ProbingInputError(f"A projection needs at least 3 samples and 1 feature; got shape {X.shape}.")
    check_finite(X, "X")
    return X


def _sample(n: int, max_fit: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample of ``min(n, max_fit)`` rows (all rows when ``n <= max_fit``)."""
    if n <= max_fit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_fit, replace=False))


def _report(progress: Progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def project(X, method: str = "pca", n_components: int = 2, seed: int = 0, max_fit: int = DEFAULT_MAX_FIT,
            directions=None, orthogonalize: bool = False, names=None, perplexity: float = 30.0,
            n_neighbors: int = 15, placement: str = "auto", progress: Progress = None) -> Projection:
    """Map the rows of ``X`` to 2 or 3 coordinates.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
        One layer's activations (a memory map is read in chunks where possible).
    method : {"pca", "umap", "tsne", "custom"}
    n_components : int
        2 or 3 (for ``"custom"``: the number of directions).
    seed : int
        Seeds the sample, UMAP and t-SNE; the same seed gives the same view.
    max_fit : int
        UMAP/t-SNE fit on at most this many rows (a seeded sample) and place the rest.
    directions : array_like of shape (k, d), for ``"custom"``
        The axes, one direction per row (normalised here).
    orthogonalize : bool
        ``"custom"`` only: Gram-Schmidt the directions in order, so axis 2 is the part of
        direction 2 orthogonal to direction 1 and the view is an orthogonal projection.
    names : list of str, optional
        Axis names for ``"custom"``.
    perplexity : float
        t-SNE's effective number of neighbours (capped below a third of the sample).
    n_neighbors : int
        UMAP's neighbourhood size.
    placement : {"auto", "transform", "knn"}
        How UMAP places rows outside the fitted sample: its own ``transform`` (an
        optimisation per row, slow), or the mean position of the ``KNN_PLACE`` nearest
        sampled rows. ``"auto"`` uses ``transform`` for up to ``UMAP_TRANSFORM_MAX`` rows.
        t-SNE always uses nearest neighbours (scikit-learn's t-SNE has no transform).
    progress : callable(fraction, message), optional

    Returns
    -------
    Projection
    """
    if method not in METHODS:
        raise ProbingInputError(f"Unknown projection method {method!r}; choose one of {METHODS}.")
    X = _check_X(X)
    if method == "custom":
        return _custom(X, directions, orthogonalize, names)
    if n_components not in (2, 3):
        raise ProbingInputError(f"n_components must be 2 or 3; got {n_components}.")
    if int(max_fit) < 10:
        raise ProbingInputError(f"max_fit must be at least 10 rows; got {max_fit}.")
    if placement not in ("auto", "transform", "knn"):
        raise ProbingInputError(f"placement must be 'auto', 'transform' or 'knn'; got {placement!r}.")
    if method == "pca":
        return _pca(X, n_components, seed, progress)
    n = X.shape[0]
    rows = _sample(n, int(max_fit), seed)
    _report(progress, 0.05, f"reducing {len(rows):,} sampled rows to at most {PRE_PCA_DIMS} PCs")
    reduce = _pre_reduce(X, rows, seed)
    sample = reduce(np.asarray(X[rows], dtype=np.float32))
    params = {"seed": seed, "max_fit": int(max_fit), "pre_pca_dims": sample.shape[1]}
    prefix = f"Fitted on {len(rows):,} of {n:,} rows (seeded sample); " if len(rows) < n else ""
    rest = n - len(rows)
    if method == "tsne" or placement == "knn" or (placement == "auto" and rest > UMAP_TRANSFORM_MAX):
        placement = "knn"
    else:
        placement = "transform"
    if method == "umap":
        coords = _umap(X, rows, sample, reduce, n_components, seed, n_neighbors, placement, progress, params)
    else:
        coords = _tsne(X, rows, sample, reduce, n_components, seed, perplexity, progress, params)
    label = "UMAP" if method == "umap" else "t-SNE"
    how = (f"{label}'s own transform" if placement == "transform" else
           f"putting each at the mean position of its {KNN_PLACE} nearest sampled rows"
           + (" (scikit-learn's t-SNE cannot embed new rows)" if method == "tsne" else
              f" (UMAP's transform is too slow for {rest:,} rows)"))
    note = (prefix + f"the other {rest:,} were placed by {how}. " if rest else "") + \
        f"{label} keeps neighbourhoods; distances between clusters and cluster sizes are not meaningful."
    if sample.shape[1] < X.shape[1]:
        note += f" Rows were first reduced to their top {sample.shape[1]} principal components."
    _report(progress, 1.0, "done")
    return Projection(coords, method, [f"{label} {i + 1}" for i in range(n_components)], params, len(rows),
                      note.strip())


def _pca(X, n_components, seed, progress) -> Projection:
    from probing.pca import fit_pca

    if n_components > min(X.shape):
        raise ProbingInputError(f"PCA to {n_components} components needs d >= {n_components}; got shape {X.shape}.")
    basis = fit_pca(X, n_components=n_components, seed=seed, progress=progress)
    share = basis.explained_variance_ratio
    axes = [f"PC{i + 1} ({share[i]:.0%})" for i in range(n_components)]
    note = (f"Linear: the plot keeps {share.sum():.0%} of the variance; distances along the axes are true "
            "distances in those directions.")
    return Projection(basis.transform(X), "pca", axes, {"seed": seed}, X.shape[0], note)


def _pre_reduce(X, rows, seed) -> Callable[[np.ndarray], np.ndarray]:
    """A map to the top ``PRE_PCA_DIMS`` PCs of the sample (identity for small ``d``)."""
    if X.shape[1] <= PRE_PCA_DIMS or len(rows) <= PRE_PCA_DIMS:
        return lambda block: np.asarray(block, dtype=np.float32)
    from probing.pca import fit_pca

    basis = fit_pca(np.asarray(X[rows], dtype=np.float64), n_components=PRE_PCA_DIMS, seed=seed)
    return lambda block: basis.transform(block).astype(np.float32)


def _rest_chunks(n: int, rows: np.ndarray):
    """Chunks of the row indices outside the fitted sample."""
    rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
    return [rest[i:i + _PLACE_CHUNK_ROWS] for i in range(0, len(rest), _PLACE_CHUNK_ROWS)]


def _umap(X, rows, sample, reduce, k, seed, n_neighbors, placement, progress, params):
    import umap

    neighbors = int(min(n_neighbors, len(rows) - 1))
    params.update(n_neighbors=neighbors, min_dist=0.1, placement=placement)
    _report(progress, 0.15, f"fitting UMAP on {len(rows):,} rows (the first fit compiles numba code)")
    model = umap.UMAP(n_components=k, n_neighbors=neighbors, random_state=seed, min_dist=0.1, n_jobs=1)
    coords = np.empty((X.shape[0], k))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)  # a seed means one thread
        coords[rows] = model.fit_transform(sample)
    if placement == "knn":
        return _knn_place(X, rows, sample, coords, reduce, progress, 0.6)
    chunks = _rest_chunks(X.shape[0], rows)
    for i, chunk in enumerate(chunks):
        _report(progress, 0.6 + 0.4 * i / len(chunks), f"placing rows {chunk[0]:,}..{chunk[-1]:,} with UMAP transform")
        coords[chunk] = model.transform(reduce(np.asarray(X[chunk])))
    return coords


def _tsne(X, rows, sample, reduce, k, seed, perplexity, progress, params):
    from sklearn.manifold import TSNE

    perplexity = float(min(perplexity, (len(rows) - 1) / 3))
    params.update(perplexity=perplexity, placement="knn")
    _report(progress, 0.15, f"fitting t-SNE on {len(rows):,} rows")
    coords = np.empty((X.shape[0], k))
    coords[rows] = TSNE(n_components=k, perplexity=perplexity, random_state=seed, init="pca",
                        method="barnes_hut" if k < 4 else "exact").fit_transform(sample)
    return _knn_place(X, rows, sample, coords, reduce, progress, 0.7)


def _knn_place(X, rows, sample, coords, reduce, progress, start: float) -> np.ndarray:
    """Put every row outside the sample at the mean embedding of its ``KNN_PLACE`` nearest sampled rows."""
    from sklearn.neighbors import NearestNeighbors

    chunks = _rest_chunks(X.shape[0], rows)
    if chunks:
        index = NearestNeighbors(n_neighbors=min(KNN_PLACE, len(rows))).fit(sample)
    embedded = coords[rows]
    for i, chunk in enumerate(chunks):
        _report(progress, start + (1 - start) * i / len(chunks), f"placing rows {chunk[0]:,}..{chunk[-1]:,} by nearest neighbours")
        neighbours = index.kneighbors(reduce(np.asarray(X[chunk])), return_distance=False)
        coords[chunk] = embedded[neighbours].mean(axis=1)
    return coords


def unit_axes(directions, d: int, orthogonalize: bool = False) -> np.ndarray:
    """Unit rows ``(k, d)`` from ``directions``, Gram-Schmidt'ed in order when ``orthogonalize``."""
    D = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if D.ndim != 2 or D.shape[1] != d:
        raise ProbingInputError(f"Custom axes need directions of length d = {d}, one per row; got shape {D.shape}.")
    if not 1 <= len(D) <= 3:
        raise ProbingInputError(f"Custom axes take 1 to 3 directions; got {len(D)}.")
    if not np.isfinite(D).all():
        raise ProbingInputError("A custom axis direction contains NaN/Inf; recompute it.")
    if orthogonalize:
        Q, R = np.linalg.qr(D.T)
        D = (Q * np.sign(np.where(np.diag(R) == 0, 1.0, np.diag(R)))).T  # keep each axis pointing like its direction
        degenerate = np.abs(np.diag(R)) <= 1e-10 * max(np.abs(R).max(), 1e-300)
    else:
        degenerate = np.linalg.norm(D, axis=1) == 0
    if degenerate.any():
        raise ProbingInputError(f"Custom axis {int(np.flatnonzero(degenerate)[0]) + 1} is zero or a combination of the "
                                "axes before it; pick directions that are not parallel.")
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def _custom(X, directions, orthogonalize, names) -> Projection:
    if directions is None:
        raise ProbingInputError("method='custom' needs directions: one (d,) vector per axis, e.g. [probe, pc1].")
    U = unit_axes(directions, X.shape[1], orthogonalize)
    names = [f"direction {i + 1}" for i in range(len(U))] if names is None else [str(s) for s in names]
    if len(names) != len(U):
        raise ProbingInputError(f"Got {len(names)} axis names for {len(U)} directions.")
    coords = np.empty((X.shape[0], len(U)))
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        coords[start:start + _CHUNK_ROWS] = np.asarray(X[start:start + _CHUNK_ROWS], dtype=np.float64) @ U.T
    cos = U @ U.T
    if orthogonalize:
        note = ("Linear and orthogonal: axis 1 is the first direction; each later axis is the part of its direction "
                "orthogonal to the axes before it. Coordinates are X · u (not centred).")
    else:
        worst = np.abs(cos[np.triu_indices(len(U), 1)]).max() if len(U) > 1 else 0.0
        note = (f"Linear but oblique: the axes are the unit directions as given, with |cos| up to {worst:.2f} between "
                "them, so the picture is skewed by that overlap. Coordinates are X · u (not centred).")
    if orthogonalize:
        names = [names[0]] + [f"{s} ⟂ previous" for s in names[1:]]
    return Projection(coords, "custom", names, {"orthogonalize": bool(orthogonalize), "axis_cosines": cos.tolist()},
                      X.shape[0], note)


def aggregate(coords, bins: int = 100, extent=None, labels=None) -> pd.DataFrame:
    """Bin 2-D points into a grid: one row per non-empty cell with its count and majority label.

    Parameters
    ----------
    coords : array_like of shape (n, 2)
    bins : int
        Cells per axis.
    extent : tuple (x_min, x_max, y_min, y_max), optional
        The window to bin (points outside are dropped); default: all points.
    labels : array_like of shape (n,), optional
        Per-point labels; each cell gets its most common one and that label's share.

    Returns
    -------
    DataFrame
        Columns ``x``, ``x_end``, ``y``, ``y_end`` (cell edges), ``count``, and with labels
        ``majority`` and ``majority_share``. ``count`` sums to the number of points in the window.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ProbingInputError(f"aggregate bins 2-D points, shape (n, 2); got {coords.shape}. Pick two axes first.")
    if int(bins) < 1:
        raise ProbingInputError(f"bins must be at least 1; got {bins}.")
    bins = int(bins)
    x0, x1, y0, y1 = data_extent(coords) if extent is None else map(float, extent)
    if not (x1 > x0 and y1 > y0):
        x0, x1, y0, y1 = x0 - 0.5 * (x1 <= x0), x1 + 0.5 * (x1 <= x0), y0 - 0.5 * (y1 <= y0), y1 + 0.5 * (y1 <= y0)
    inside = points_in(coords, (x0, x1, y0, y1))
    ix = np.minimum(((coords[inside, 0] - x0) / (x1 - x0) * bins).astype(np.int64), bins - 1)
    iy = np.minimum(((coords[inside, 1] - y0) / (y1 - y0) * bins).astype(np.int64), bins - 1)
    cell = ix * bins + iy
    counts = np.bincount(cell, minlength=bins * bins)
    full = np.flatnonzero(counts)
    wx, wy = (x1 - x0) / bins, (y1 - y0) / bins
    frame = pd.DataFrame({"x": x0 + full // bins * wx, "x_end": x0 + (full // bins + 1) * wx,
                          "y": y0 + full % bins * wy, "y_end": y0 + (full % bins + 1) * wy, "count": counts[full]})
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(coords),):
            raise ProbingInputError(f"labels must have one value per point ({len(coords)}); got shape {labels.shape}.")
        classes, codes = np.unique(labels[inside], return_inverse=True)
        classes = classes.astype(str)
        table = np.bincount(cell * len(classes) + codes, minlength=bins * bins * max(len(classes), 1))
        table = table.reshape(bins * bins, max(len(classes), 1))[full]
        best = table.argmax(axis=1)
        frame["majority"] = classes[best] if len(classes) else []
        frame["majority_share"] = table[np.arange(len(full)), best] / counts[full]
    return frame


def data_extent(coords) -> tuple[float, float, float, float]:
    """``(x_min, x_max, y_min, y_max)`` of 2-D points."""
    coords = np.asarray(coords)
    return (float(coords[:, 0].min()), float(coords[:, 0].max()), float(coords[:, 1].min()), float(coords[:, 1].max()))


def points_in(coords, extent) -> np.ndarray:
    """Boolean mask ``(n,)`` of 2-D points inside ``(x_min, x_max, y_min, y_max)`` (edges included)."""
    coords = np.asarray(coords)
    x0, x1, y0, y1 = map(float, extent)
    return (coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1)
