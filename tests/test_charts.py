"""Notebook charts: each result's ``.plot()`` shows its own numbers, ``_repr_html_`` escapes names, and the
Coherence, Atlas and PCA pages draw exactly the chart the builder makes."""

import json
import subprocess
import sys

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import ROOT, run_page

from probing import ActivationSet, charts
from probing.atlas import direction_atlas
from probing.coherence import coherence_report
from probing.pca import fit_pca
from probing.probes import probe_layers
from probing.steering import activation_sweep
from probing.superposition.sweeps import PHASES, PhaseDiagram
from probing.synthetic import make_concept_embeddings

HOSTILE = "<script>alert(1)</script>"


def layer_datas(chart) -> list:
    """The DataFrame behind each layer of a chart (one for a plain Chart); a layer without its own uses the chart's."""
    return [part.data if isinstance(part.data, pd.DataFrame) else chart.data for part in getattr(chart, "layer", [chart])]


def serialized(chart) -> list:
    """The records altair writes into the Vega-Lite spec, per layer (what a notebook actually renders)."""
    spec = chart.to_dict()
    parts = spec.get("layer", [spec])
    return [spec["datasets"][part.get("data", spec.get("data"))["name"]] for part in parts]


@pytest.fixture(scope="module")
def sweep():
    aset, _ = make_concept_embeddings(n_samples=300, d=8, n_layers=4, seed=1)
    aset = ActivationSet(aset.acts, layers=[HOSTILE, "b1", "b2", "b3"], labels=aset.labels,
                         meta=pd.DataFrame({"word": np.arange(300) % 30}))  # input types that repeat
    sweep = probe_layers(aset, "concept_0", cv=3, seed=0, type_column="word")
    assert sweep.informative_control
    return sweep


def test_probe_sweep_chart_shows_the_accuracy_baseline_and_control_of_every_layer(sweep):
    chart = sweep.plot()
    assert isinstance(chart, alt.LayerChart)
    band, lines = layer_datas(chart)
    pd.testing.assert_frame_equal(band, sweep.to_frame())
    for series, expected in [("probe accuracy", sweep.accuracy), ("control task", sweep.control_accuracy),
                             ("majority baseline", np.full(4, sweep.majority_baseline))]:
        rows = lines[lines.series == series]
        assert rows.layer.tolist() == list(sweep.layers)
        np.testing.assert_allclose(rows.value, expected)
    records = serialized(chart)[1]
    shown = [r["value"] for r in records if r["series"] == "probe accuracy"]
    np.testing.assert_allclose(shown, sweep.accuracy)
    assert chart.to_dict()["layer"][0]["encoding"]["x"]["sort"] == list(sweep.layers)  # layers in model order, not alphabetical


def test_a_sweep_without_control_draws_two_series():
    aset, _ = make_concept_embeddings(n_samples=200, d=6, n_layers=2, seed=2)
    sweep = probe_layers(aset, "concept_0", cv=3, control=False)
    assert set(layer_datas(sweep.plot())[1].series) == {"probe accuracy", "majority baseline"}
    shuffled = probe_layers(aset, "concept_0", cv=3, control=True)  # no input types: shuffled labels
    assert shuffled.control_accuracy is not None and not shuffled.informative_control
    band, lines = layer_datas(shuffled.plot())
    assert set(lines.series) == {"probe accuracy", "majority baseline"} and "selectivity" not in band


def test_scree_chart_shows_the_variance_shares():
    X = np.random.default_rng(0).standard_normal((400, 12)) * np.linspace(3, 0.1, 12)
    basis = fit_pca(X)
    chart = basis.plot(n=5)
    bars, line = layer_datas(chart)
    pd.testing.assert_frame_equal(bars, basis.to_frame().head(5))
    assert bars is line or bars.equals(line)
    shares = np.linalg.eigvalsh(np.cov(X.T))[::-1]
    np.testing.assert_allclose(bars.explained_variance_ratio, (shares / shares.sum())[:5], rtol=1e-8)
    np.testing.assert_allclose([r["cumulative_ratio"] for r in serialized(chart)[1]], np.cumsum(shares / shares.sum())[:5])


def test_coherence_histogram_counts_every_pair_and_marks_the_bounds():
    D = np.random.default_rng(3).standard_normal((40, 6))
    report = coherence_report(D, bins=20)
    chart = report.plot()
    hist, marks = layer_datas(chart)
    pd.testing.assert_frame_equal(hist, report.histogram_frame())
    assert hist.pairs.sum() == 40 * 39 // 2
    assert dict(zip(marks.line, marks.value)) == {"mutual coherence μ": report.mu, "Welch bound": report.welch,
                                                  "random baseline": report.random_baseline}
    unmeasured = coherence_report(D, bins=20, baseline_draws=0).plot()
    assert layer_datas(unmeasured)[1].line.tolist() == ["mutual coherence μ", "Welch bound"]


def test_atlas_heatmap_shows_every_cosine_in_clustering_order():
    rng = np.random.default_rng(4)
    atlas = direction_atlas({HOSTILE: rng.standard_normal(5), "pcs": rng.standard_normal((3, 5))})
    chart = atlas.plot()
    assert isinstance(chart, alt.Chart)
    pd.testing.assert_frame_equal(chart.data, atlas.to_frame())
    assert len(chart.data) == 16
    spec = chart.to_dict()
    assert spec["encoding"]["x"]["sort"] == [atlas.names[i] for i in atlas.order]
    assert [p["name"] for p in spec["params"]] == ["cell"]  # the Atlas page reads the clicked pair from it


def test_steering_and_phase_diagram_charts_plot_their_frames():
    X = np.random.default_rng(5).standard_normal((50, 4))
    sweep = activation_sweep(X, np.array([1.0, 0, 0, 0]), [-2.0, 0.0, 2.0], lambda Z: Z[:, 0])
    chart = sweep.plot("happy")
    pd.testing.assert_frame_equal(chart.data, sweep.to_frame())
    assert chart.data.positive_fraction.tolist() == [0.0, 0.5, 1.0] or chart.data.positive_fraction.is_monotonic_increasing
    assert chart.to_dict()["encoding"]["y"]["title"] == "fraction read as happy"
    diagram = PhaseDiagram(np.array([0.0, 0.9]), np.array([0.5, 2.0]), np.ones((2, 2, 2)), np.array([[0, 1], [2, 2]]))
    chart = diagram.plot()
    pd.testing.assert_frame_equal(chart.data, diagram.to_frame())
    assert chart.to_dict()["encoding"]["color"]["scale"]["domain"] == list(PHASES)


def test_html_summaries_show_the_key_numbers_and_escape_names(sweep):
    page = sweep._repr_html_()
    best = sweep.best_layer
    assert f"{sweep.accuracy[best]:.4g}" in page and f"{sweep.majority_baseline:.4g}" in page
    assert all(f"{a:.4g}" in page for a in sweep.accuracy)  # the per-layer table
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    atlas = direction_atlas({HOSTILE: [1.0, 0.2, 0.0], "b": [1.0, 0.0, 0.0], "c": [0.0, 0.0, 1.0]})
    page = atlas._repr_html_()
    assert HOSTILE not in page and "&lt;script&gt;" in page and f"{atlas.coherence:.4g}" in page
    top = atlas.top_pairs(1).iloc[0]
    assert {top.a, top.b} == {HOSTILE, "b"} and top.abs_cos == pytest.approx(atlas.coherence)

    report = coherence_report(np.random.default_rng(6).standard_normal((30, 5)))
    assert f"{report.mu:.4g}" in report._repr_html_() and f"{report.welch:.4g}" in report._repr_html_()
    basis = fit_pca(np.random.default_rng(7).standard_normal((100, 6)))
    assert f"{basis.explained_variance_ratio[0]:.4g}" in basis._repr_html_()


def test_without_altair_probing_imports_and_plot_says_what_to_install():
    code = ("import sys; sys.modules['altair'] = None\n"
            "import probing, probing.charts, probing.probes, probing.pca, probing.atlas, probing.coherence\n"
            "from probing.coherence import coherence_report\n"
            "report = coherence_report([[1.0, 0.0], [1.0, 1.0]])\n"
            "assert 'CoherenceReport' in report._repr_html_()\n"
            "try:\n    report.plot()\nexcept ImportError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'probing[app]'" in done.stdout


# --- The pages draw the builders' charts -------------------------------------------------------------


def shape(spec):
    """A Vega-Lite spec without data references and page or theme settings: marks, encodings, params, sizes."""
    if isinstance(spec, dict):
        return {key: shape(value) for key, value in spec.items()
                if key not in ("$schema", "config", "autosize", "datasets", "data")}
    if isinstance(spec, list):
        return [shape(value) for value in spec]
    return spec


def page_chart(at, builder_chart):
    """The one chart on the page whose spec matches ``builder_chart``, and its datasets as frames."""
    expected = shape(builder_chart.to_dict())
    found = [chart for chart in at.get("vega_lite_chart") if shape(json.loads(chart.proto.spec)) == expected]
    assert len(found) == 1, f"{len(found)} charts on the page match the builder's spec"
    return [pa.ipc.open_stream(dataset.data.data).read_pandas() for dataset in found[0].proto.datasets]


@pytest.fixture
def recorded(monkeypatch):
    """Record the result each chart builder is called with (the pages call them through ``.plot()``)."""
    seen = {}

    def spy(name):
        builder = getattr(charts, name)

        def call(result, *args, **kwargs):
            seen[name] = (result, args, kwargs)
            return builder(result, *args, **kwargs)
        monkeypatch.setattr(charts, name, call)
    for name in ("coherence_histogram", "atlas_heatmap", "scree_chart"):
        spy(name)
    return seen


@pytest.mark.parametrize("page, builder", [("coherence", "coherence_histogram"), ("atlas", "atlas_heatmap"),
                                           ("pca", "scree_chart")])
def test_pages_draw_the_builders_chart(recorded, page, builder):
    at = run_page(page)
    result, args, kwargs = recorded[builder]
    built = getattr(charts, builder)(result, *args, **kwargs)
    datas = []
    for data in layer_datas(built):  # layers sharing one frame share one dataset
        if not any(data.equals(seen) for seen in datas):
            datas.append(data)
    frames = page_chart(at, built)
    assert len(frames) == len(datas)
    for shown, data in zip(frames, datas):
        pd.testing.assert_frame_equal(shown.reset_index(drop=True), data.reset_index(drop=True), check_dtype=False)
