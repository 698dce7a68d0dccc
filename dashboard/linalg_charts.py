"""Altair pictures of 2-D linear maps, shared by the PCA and Linear-algebra lab pages.

The numbers come from ``probing.linalg`` (``grid_lines``, ``svd_steps``); these
functions only draw them and return the frame they drew, for the download button.
Encodings are channel objects (``alt.X("x:Q")``), not shorthand strings: Altair turns each
string into a channel by hashing its whole schema (about 7 ms a string), which made
redrawing these pictures the slowest part of a rerun.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from probing import linalg

KINDS = ["grid", "grid after the map", "basis vector", "its image", "new basis vector"]
KIND_COLOURS = alt.Scale(domain=KINDS, range=["#d0d0d0", "#9ecae9", "#333333", "#e45756", "#54a24b"])


def arrows(vectors, names, kind: str) -> pd.DataFrame:
    """Arrows from the origin to the columns of ``vectors`` (shape ``(2, k)``), for :func:`map_picture`."""
    v = np.asarray(vectors, dtype=np.float64)
    return pd.DataFrame({"name": names, "x": v[0], "y": v[1], "x0": 0.0, "y0": 0.0, "kind": kind,
                         "angle": (90 - np.degrees(np.arctan2(v[1], v[0]))) % 360})


def _arrow_layers(vecs: pd.DataFrame, colour) -> list:
    shafts = alt.Chart(vecs).mark_rule(strokeWidth=2.5).encode(
        x=alt.X("x0:Q"), y=alt.Y("y0:Q"), x2=alt.X2("x:Q"), y2=alt.Y2("y:Q"), color=colour,
        tooltip=[alt.Tooltip("name"), alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f")])
    heads = alt.Chart(vecs).mark_point(shape="triangle", filled=True, size=90, opacity=1).encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"), angle=alt.Angle("angle:Q", scale=None), color=colour)
    labels = alt.Chart(vecs).mark_text(dx=12, dy=-10, fontSize=13, fontWeight="bold").encode(
        x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("name"), color=colour)
    return [shafts, heads, labels]


def map_picture(M, title: str, extra: pd.DataFrame | None = None, size: int = 330):
    """The unit grid, its image under the ``2 x 2`` map ``M``, ``e1, e2`` and their images ``M e1, M e2``.

    Returns the chart and the grid frame it drew.
    """
    grid = linalg.grid_lines(M, extent=2, points=9)
    grid["kind"] = np.where(grid.stage == "before", KINDS[0], KINDS[1])
    vecs = pd.concat([arrows(np.eye(2), ["e1", "e2"], KINDS[2]),
                      arrows(M, ["M e1", "M e2"], KINDS[3])] + ([extra] if extra is not None else []))
    limit = float(max(np.abs(grid[["x", "y"]]).max().max(), np.abs(vecs[["x", "y"]]).max().max())) * 1.05
    scale = alt.Scale(domain=[-limit, limit])
    colour = alt.Color("kind:N", scale=KIND_COLOURS, title=None)
    lines = alt.Chart(grid).mark_line(strokeWidth=1.2).encode(
        x=alt.X("x:Q", scale=scale, title=None), y=alt.Y("y:Q", scale=scale, title=None),
        detail=alt.Detail("line:N"), order=alt.Order("order:Q"), color=colour)
    chart = alt.layer(lines, *_arrow_layers(vecs, colour), title=title).properties(width=size, height=size)
    return chart, grid


def svd_picture(steps: linalg.SVDSteps, size: int = 210):
    """Four panels: the unit circle, after ``Vᵀ``, after ``Σ``, after ``U`` (= ``A x``); returns chart and frame."""
    frame = steps.stages()
    limit = float(np.abs(frame[["x", "y"]]).max().max()) * 1.1
    scale = alt.Scale(domain=[-limit, limit])
    colours = alt.Scale(domain=["circle", "v1", "v2"], range=["#4c78a8", "#e45756", "#54a24b"])
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", scale=scale, title=None), y=alt.Y("y:Q", scale=scale, title=None),
        color=alt.Color("curve:N", scale=colours, title=None,
                        legend=alt.Legend(orient="bottom", labelExpr="datum.label == 'circle' ? 'unit circle' : datum.label == 'v1' "
                                                    "? 'σ₁ axis (v₁)' : 'σ₂ axis (v₂)'")),
        detail=alt.Detail("curve:N"), order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("stage"), alt.Tooltip("curve"), alt.Tooltip("x:Q", format=".3f"),
                 alt.Tooltip("y:Q", format=".3f")])
    lines = base.mark_line(strokeWidth=2).properties(width=size, height=size)
    chart = lines.facet(facet=alt.Facet("stage:N", title=None), columns=4)
    return chart, frame


def matrix_table(M, row_name: str = "row", prefix: str = "c") -> pd.DataFrame:
    """A matrix as a frame with numbered columns (``c1``, ``c2``, ...) for ``st.dataframe``."""
    M = np.atleast_2d(np.asarray(M, dtype=np.float64))
    frame = pd.DataFrame(M, columns=[f"{prefix}{j + 1}" for j in range(M.shape[1])])
    frame.insert(0, row_name, np.arange(1, len(M) + 1))
    return frame
