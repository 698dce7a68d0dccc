"""The dashboard's charts as plain functions, so a notebook draws the same pictures as the pages.

Each builder takes a result object (:class:`~probing.probes.sweep.ProbeSweep`,
:class:`~probing.pca.PCABasis`, :class:`~probing.coherence.bounds.CoherenceReport`,
:class:`~probing.atlas.Atlas`, :class:`~probing.steering.SteeringSweep`,
:class:`~probing.superposition.sweeps.PhaseDiagram`) and returns an altair chart whose data
is the result's ``to_frame()`` (or the subset a docstring names). The result classes'
``.plot()`` call these builders, and the pages pass the same charts to ``st.altair_chart``.

altair belongs to the ``app`` extra, so it is imported inside the builders: ``import probing``
works without it, and a builder without it raises an ``ImportError`` that says what to install.
Big charts (an atlas of many directions has ``m**2`` cells) exceed altair's default limit of
5,000 rows in a notebook; ``alt.data_transformers.disable_max_rows()`` lifts it.
Encodings are channel objects (``alt.X("pc:O")``, ``alt.Tooltip("pc")``), never shorthand
strings: altair turns each string into a channel by hashing its whole schema (about 7 ms a
string), which made redrawing a page's charts the slowest part of a rerun.

:func:`html_summary` is the short HTML table a result shows in Jupyter (``_repr_html_``);
every string in it is escaped, so a hostile layer or direction name shows as text.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

INSTALL_HINT = "pip install 'probing[app]'"
PHASE_COLORS = ("#d9d9d9", "#4c78a8", "#e45756")  # not represented, dedicated, superposed


def altair():
    """The altair module, or an ImportError saying how to install it."""
    try:
        import altair as alt
    except ImportError as exc:
        raise ImportError(f"Charts need altair, which comes with the dashboard extra: {INSTALL_HINT} "
                          "(or pip install altair).") from exc
    return alt


def probe_sweep_chart(sweep, height: int = 320):
    """Held-out accuracy by layer with a one-standard-deviation band, the majority baseline and the control task.

    Parameters
    ----------
    sweep : ProbeSweep
    height : int

    Returns
    -------
    altair.LayerChart
        Layer 0 (the band) has ``sweep.shown_frame()`` as data; layer 1 (the lines) the same rows
        stacked once per series (``series``: probe accuracy, majority baseline, and the control task
        when it measures memorisation) with the plotted number in ``value``.
    """
    alt = altair()
    frame = sweep.shown_frame()
    long = [frame.assign(series="probe accuracy", value=frame["accuracy"]),
            frame.assign(series="majority baseline", value=frame["majority_baseline"])]
    if sweep.informative_control:
        long.append(frame.assign(series="control task", value=frame["control_accuracy"]))
    lines = pd.concat(long, ignore_index=True)
    x = alt.X("layer:N", sort=list(sweep.layers), title="layer", axis=alt.Axis(labelAngle=-30))
    tooltip = [alt.Tooltip(c, format=".3f") if c != "layer" else c for c in frame.columns]
    colors = alt.Scale(domain=["probe accuracy", "control task", "majority baseline"],
                       range=["#1f77b4", "#ff7f0e", "#888888"])
    band = alt.Chart(frame).mark_area(opacity=0.2, color="#1f77b4").encode(
        x=x, y=alt.Y("low:Q", title="held-out accuracy", scale=alt.Scale(zero=False)), y2=alt.Y2("high:Q"),
        tooltip=tooltip
    ).transform_calculate(low="max(0, datum.accuracy - datum.accuracy_std)",
                          high="min(1, datum.accuracy + datum.accuracy_std)")
    series = alt.Chart(lines).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q"), color=alt.Color("series:N", scale=colors, title=None),
        strokeDash=alt.condition(alt.datum.series == "probe accuracy", alt.value([1, 0]), alt.value([5, 4])),
        tooltip=tooltip)
    return (band + series).properties(height=height)


def scree_chart(basis, n: int = 50, height: int = 280):
    """Share of variance per principal component (bars) and the running total (line, right axis).

    Parameters
    ----------
    basis : PCABasis
    n : int
        Components shown: the data is ``basis.to_frame().head(n)``.
    height : int

    Returns
    -------
    altair.LayerChart
    """
    alt = altair()
    shown = basis.to_frame().head(n)
    bars = alt.Chart(shown).mark_bar(color="#4c78a8").encode(
        x=alt.X("pc:O", title="principal component"),
        y=alt.Y("explained_variance_ratio:Q", title="share of variance", axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("pc"), alt.Tooltip("explained_variance:Q", format=".4g"),
                 alt.Tooltip("explained_variance_ratio:Q", format=".2%"),
                 alt.Tooltip("cumulative_ratio:Q", format=".2%")])
    line = alt.Chart(shown).mark_line(color="#e45756", point=alt.OverlayMarkDef(color="#e45756")).encode(
        x=alt.X("pc:O"), y=alt.Y("cumulative_ratio:Q", title="cumulative share", axis=alt.Axis(format="%"),
                          scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("pc"), alt.Tooltip("cumulative_ratio:Q", format=".2%")])
    return alt.layer(bars, line).resolve_scale(y="independent").properties(height=height)


def coherence_histogram(report):
    """Histogram of ``|cos|`` over all pairs with rules at μ, the Welch bound and the random baseline.

    Parameters
    ----------
    report : CoherenceReport

    Returns
    -------
    altair.LayerChart
        Layer 0 has ``report.histogram_frame()`` as data; layer 1 the three marks (``value``, ``line``),
        without the random baseline when it was not measured (NaN).
    """
    alt = altair()
    marks = pd.DataFrame({"value": [report.mu, report.welch, report.random_baseline],
                          "line": ["mutual coherence μ", "Welch bound", "random baseline"]}).dropna()
    bars = alt.Chart(report.histogram_frame()).mark_bar().encode(
        x=alt.X("bin_left:Q", bin="binned", title="|cos| between two directions", scale=alt.Scale(domain=[0, 1])),
        x2=alt.X2("bin_right:Q"), y=alt.Y("fraction:Q", title="fraction of pairs"),
        tooltip=[alt.Tooltip("bin_left:Q", format=".3f"), alt.Tooltip("bin_right:Q", format=".3f"),
                 alt.Tooltip("pairs:Q"),
                 alt.Tooltip("fraction:Q", format=".2%")])
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3], size=2).encode(
        x=alt.X("value:Q"),
        color=alt.Color("line:N", title=None, legend=alt.Legend(orient="top"), scale=alt.Scale(scheme="set1")),
        tooltip=[alt.Tooltip("line:N"), alt.Tooltip("value:Q", format=".4f")])
    return bars + rules


def atlas_heatmap(atlas, selection: str = "cell"):
    """The clustered cosine matrix of an atlas; clicking a cell selects its ``row`` and ``col``.

    Parameters
    ----------
    atlas : Atlas
    selection : str
        Name of the point selection (the Atlas page reads the clicked pair from it).

    Returns
    -------
    altair.Chart
        Data: ``atlas.to_frame()`` (one row per ordered pair of directions).
    """
    alt = altair()
    order = [atlas.names[i] for i in atlas.order]
    cell = alt.selection_point(name=selection, fields=["row", "col"], on="click")
    axis = alt.Axis(labels=len(order) <= 80, labelLimit=260, labelOverlap=False)  # every row named
    return alt.Chart(atlas.to_frame()).mark_rect().encode(
        x=alt.X("col:N", sort=order, title=None, axis=axis),
        y=alt.Y("row:N", sort=order, title=None, axis=axis),
        color=alt.Color("cosine:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)),
        opacity=alt.condition(cell, alt.value(1.0), alt.value(0.55)),
        tooltip=[alt.Tooltip("row:N"), alt.Tooltip("col:N"), alt.Tooltip("row_group:N"), alt.Tooltip("col_group:N"),
                 alt.Tooltip("cosine:Q", format=".3f")],
    ).add_params(cell).properties(height=min(700, 180 + 14 * len(order)))


def steering_chart(sweep, positive: str = "positive"):
    """Dose-response of a steering sweep: the fraction of inputs read as ``positive`` at each alpha.

    Parameters
    ----------
    sweep : SteeringSweep
    positive : str
        Name of the class the readout's positive side means (axis title).

    Returns
    -------
    altair.Chart
        Data: ``sweep.to_frame()``.
    """
    alt = altair()
    return alt.Chart(sweep.to_frame()).mark_line(point=True).encode(
        x=alt.X("alpha:Q"), y=alt.Y("positive_fraction:Q", title=f"fraction read as {positive}",
                                    scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("alpha"), alt.Tooltip("mean_score:Q", format=".3f"),
                 alt.Tooltip("positive_fraction:Q", format=".2f")])


def phase_diagram_chart(diagram, phases, height: int = 380):
    """What a one-dimensional toy model does with a second feature, over density and relative importance.

    Parameters
    ----------
    diagram : PhaseDiagram
    phases : sequence of str
        The phase names in order (:data:`probing.superposition.sweeps.PHASES`), coloured grey, blue, red.
    height : int

    Returns
    -------
    altair.Chart
        Data: ``diagram.to_frame()``.
    """
    alt = altair()
    return alt.Chart(diagram.to_frame()).mark_rect().encode(
        x=alt.X("density:O", sort="descending", axis=alt.Axis(format=".2g"),
                title="feature density 1 − sparsity (sparser →)"),
        y=alt.Y("relative_importance:O", sort="descending", axis=alt.Axis(format=".2g"),
                title="relative importance of feature 2"),
        color=alt.Color("phase:N", scale=alt.Scale(domain=list(phases), range=list(PHASE_COLORS))),
        tooltip=[alt.Tooltip("density:Q", format=".3f"), alt.Tooltip("relative_importance:Q", format=".2f"),
                 alt.Tooltip("phase"),
                 alt.Tooltip("norm_0:Q", format=".2f"), alt.Tooltip("norm_1:Q", format=".2f")]
    ).properties(height=height)


def html_summary(title: str, numbers: dict, table: pd.DataFrame | None = None, max_rows: int = 30) -> str:
    """A result's Jupyter summary: a title, key numbers and a table, every string escaped.

    Parameters
    ----------
    title : str
    numbers : dict of str to object
        Shown as "name: value" lines; floats with 4 significant digits.
    table : DataFrame, optional
        Shown below (floats with 4 significant digits, at most ``max_rows`` rows).
    max_rows : int

    Returns
    -------
    str
        HTML.
    """
    items = "".join(f"<li>{html.escape(str(name))}: <b>{html.escape(_number(value))}</b></li>"
                    for name, value in numbers.items())
    body = f"<div><strong>{html.escape(title)}</strong><ul>{items}</ul>"
    if table is not None:
        body += table.to_html(index=False, escape=True, max_rows=max_rows, float_format=_number, na_rep="")
    return body + "</div>"


def _number(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)
