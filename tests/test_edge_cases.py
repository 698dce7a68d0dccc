"""Numerical edge cases, checked against scikit-learn or brute force (issue #23)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import oas
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import PredefinedSplit, cross_val_score

from probing import ActivationSet, ProbingInputError, load_activations, save_activations
from probing.linalg import analyze_map
from probing.probes import fit_probe, mdl_probe, probe_layers
from probing.stats import layer_class_moments
from probing.store import Workspace


def sklearn_shrinkage_lda():
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def class_constant_cases():
    """The issue's three cases: rows identical (or nearly) within each class."""
    yield "two constants", np.array([[-0.8]] * 3 + [[-0.5]] * 3), np.array([0, 0, 0, 1, 1, 1])
    for seed in range(5):
        rows = np.random.default_rng(seed).standard_normal((2, 8))
        yield f"two rows x10, seed {seed}", np.repeat(rows, 10, axis=0), np.repeat([0, 1], 10)
    y = np.repeat([0, 1], 50)
    yield "y + 1e-9 noise", (y + 1e-9 * np.random.default_rng(0).standard_normal(100))[:, None], y


@pytest.mark.parametrize("name, X, y", list(class_constant_cases()))
def test_lda_on_class_constant_rows_is_right(name, X, y):
    # brute force: the classes are separated, so the training rows must be classified perfectly
    probe = fit_probe(X, y)
    np.testing.assert_array_equal(probe.predict(X), y)
    assert np.all(np.isfinite(probe.coef_))
    # scikit-learn's shrinkage LDA never predicts the wrong class here (it predicts one class when
    # the within-class covariance is exactly zero); ours agrees wherever it separates
    reference = sklearn_shrinkage_lda().fit(X, y).predict(X)
    assert np.all((reference == y) <= (probe.predict(X) == y))
    cm = layer_class_moments(X[:, None, :], y, 2)[0][0]
    assert np.linalg.eigvalsh(cm.within_scatter()).min() > 0  # clamped to positive definite
    # nearly the same rows (exact copies would share a fold) through cross-validated sweeps and the MDL code
    nearly = X + 1e-12 * np.random.default_rng(0).standard_normal(X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few rows in d dimensions: the memorisation warning
        sweep = probe_layers(ActivationSet(nearly), y, cv=3, control=False)
    assert sweep.accuracy[0] == 1.0
    assert mdl_probe(nearly, y).compression > 1


def test_within_scatter_floor_is_rounding_sized():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 5)), rng.integers(0, 2, 300)
    cm = layer_class_moments(X[:, None, :], y, 2)[0][0]
    direct = sum((X[y == c] - X[y == c].mean(0)).T @ (X[y == c] - X[y == c].mean(0)) for c in (0, 1))
    np.testing.assert_allclose(cm.within_scatter(), direct, rtol=1e-12, atol=1e-10)


def test_float64_is_kept_and_a_small_signal_on_a_large_offset_survives(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    X = 1e4 + 1e-4 * (rng.standard_normal((400, 4)) + 2.0 * y[:, None])
    assert np.unique(X.astype(np.float32)).size < 10  # float32 rounding would erase the signal
    aset = ActivationSet(X, labels={"y": y})
    assert aset.acts.dtype == np.float64
    sweep = probe_layers(aset, "y", control=False)
    reference = cross_val_score(LinearDiscriminantAnalysis(), X, y, cv=PredefinedSplit(sweep.folds)).mean()
    assert reference > 0.95 and sweep.accuracy[0] == pytest.approx(reference, abs=1e-9)
    for suffix in (".safetensors", ".npz"):
        back = load_activations(save_activations(aset, tmp_path / f"f64{suffix}"))
        assert back.acts.dtype == np.float64 and np.array_equal(back.acts, aset.acts)
        assert back.fingerprint == aset.fingerprint
    assert ActivationSet(X.astype(np.float32)).fingerprint != aset.fingerprint
    workspace = Workspace()
    stored = workspace.load_dataset(workspace.add_dataset(aset).fingerprint)
    assert stored.acts.dtype == np.float64 and stored.fingerprint == aset.fingerprint


def test_control_labels_do_not_repeat_the_first_permutation():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((200, 1, 3)), rng.integers(0, 2, 200)
    sweep = probe_layers(X, y, permutations=3, seed=7)
    assert np.array_equal(np.bincount(sweep.control_y), np.bincount(sweep.y))  # shuffled labels
    # before: both were default_rng(seed).permutation(codes), so the control equalled permutation 1
    assert not np.array_equal(sweep.control_y, np.random.default_rng(7).permutation(sweep.y))
    first_permutation = np.random.default_rng(np.random.SeedSequence(7).spawn(2)[1]).permutation(sweep.y)
    assert not np.array_equal(sweep.control_y, first_permutation)


def test_auto_shrinkage_is_sklearn_oas_with_all_rows():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 90)
    X = rng.standard_normal((90, 12)) + y[:, None]
    centred = X - np.stack([X[y == c].mean(0) for c in range(3)])[y]
    assert fit_probe(X, y).shrinkage_ == pytest.approx(oas(centred)[1], rel=1e-9)


def test_mdl_block_ends_are_raised_for_small_n():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((100, 3)), np.repeat([0, 1, 2, 3], 25)
    blocks = mdl_probe(X, y).blocks
    assert blocks["stop"].iloc[0] == 8  # 0.1 % of 100 rows would be 0: raised to 2 * 4 classes
    assert blocks["stop"].is_monotonic_increasing and blocks["stop"].iloc[-1] == 100


def test_frobenius_error_keeps_a_small_tail():
    table = analyze_map(np.diag([1.0, 1e-9])).to_frame()
    assert table["frobenius_error_rank_k"].iloc[0] == pytest.approx(1e-9, rel=1e-9)
    A = np.random.default_rng(0).standard_normal((6, 4))
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    for k, error in enumerate(analyze_map(A).to_frame()["frobenius_error_rank_k"], start=1):
        assert error == pytest.approx(np.linalg.norm(A - (U[:, :k] * S[:k]) @ Vt[:k]), abs=1e-12)



def test_two_samples_get_advice_that_can_be_followed():
    with pytest.raises(ProbingInputError, match="single sample.*at least 2 samples of every class") as info:
        probe_layers(np.random.default_rng(0).standard_normal((2, 1, 4)), [0, 1])
    assert "cv <=" not in str(info.value)


@pytest.mark.parametrize("method", ["lda", "mean_diff"])
def test_few_rows_in_many_dimensions_are_probed_in_their_span(monkeypatch, method):
    import probing.probes.closed_form

    rng = np.random.default_rng(0)
    y = rng.permutation(np.arange(40) % 2)
    X = rng.standard_normal((40, 2, 600)) + 0.5 * y[:, None, None] * np.eye(600)[0]
    with pytest.warns(UserWarning, match="39-dimensional span"):
        sweep = probe_layers(X, y, method=method, control=False)
    # brute force in the full 600 dimensions, fold by fold
    for layer in range(2):
        held_out = np.empty(40)
        for f in range(sweep.cv):
            train = sweep.folds != f
            probe = fit_probe(X[train, layer], y[train], method=method)
            held_out[~train] = X[~train, layer] @ probe.direction_
        np.testing.assert_allclose(sweep.projections(layer)["projection"], held_out, rtol=1e-4, atol=1e-4)
        full = fit_probe(X[:, layer], y, method=method).direction_
        assert abs(sweep.directions[layer] @ full) == pytest.approx(1.0, abs=1e-6)
    # the d x d budget no longer applies: only the 39 x 39 matrices of the span are built
    monkeypatch.setattr(probing.probes.closed_form, "MAX_SCATTER_BYTES", 4 * 8 * 39**2)
    with pytest.warns(UserWarning):
        probe_layers(X, y, control=False)


def test_atlas_does_not_tick_orthogonal_directions_above_welch():
    from probing.atlas import direction_atlas, readable, round_frame

    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((16, 4)))[0].T  # 4 orthonormal "PCs" in d = 16
    atlas = direction_atlas({"pc": Q})
    near = atlas.nearest("pc[0]", 3)
    assert atlas.welch == 0 and np.abs(near["cosine"]).max() < 1e-12  # rounding, not 0 exactly
    assert not near["above_welch"].any()
    assert readable(near["cosine"].iloc[0]) == "0" and readable(0.123456) == "0.123" and readable(-1234.5) == "-1.23e+03"
    shown = round_frame(pd.DataFrame({"cosine": [2e-16, 0.0123456, -0.98765], "name": ["a", "b", "c"]}))
    assert shown["cosine"].tolist() == [0.0, 0.0123, -0.988] and shown["name"].tolist() == ["a", "b", "c"]
    tilted = direction_atlas({"a": np.eye(3), "b": np.ones(3)})  # 4 directions in d = 3: a real bound
    assert tilted.above_welch(0.9) and not tilted.above_welch(tilted.welch + 1e-9)


def test_atlas_page_shows_orthogonal_pcs_as_zero_and_not_above_welch():
    from conftest import run_page

    at = run_page("atlas")
    near = at.dataframe[-1].value
    orthogonal = near[near["direction"].str.contains("PC") & near["cosine"].abs().lt(1e-6)] if "direction" in near \
        else near.iloc[:0]
    assert len(orthogonal) and (orthogonal["cosine"] == 0).all() and not orthogonal["above_welch"].any()
    assert not any("0.0000000" in str(v) for v in near["cosine"])


def test_superposition_scatter_stays_readable_when_every_value_is_equal():
    import json

    from conftest import run_page

    def two_in_three(at):
        at.session_state["sup_concepts"], at.session_state["sup_d"] = 2, 3

    at = run_page("superposition", setup=two_in_three)
    at.toggle(key="sup_interference_run").set_value(True).run()  # the interference section runs on request
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    scatter = next(spec["layer"][0] for spec in specs if "layer" in spec
                   and spec["layer"][0].get("encoding", {}).get("x", {}).get("field") == "sum_cos2")
    encoding = scatter["encoding"]
    assert encoding["x"]["scale"]["domain"] == [0, 0.5]  # orthogonal concepts: interference 0, not 1e-32 zoomed
    low, high = encoding["y"]["scale"]["domain"]
    assert high == 1.0 and high - low >= 0.05
    assert encoding["color"]["scale"]["domain"] == [0, 1]
    assert any("the lesson's Exercise 8(d)" in m.value for m in at.markdown)


def test_projector_hover_shows_text_and_many_string_classes_stay_categorical():
    import json

    from conftest import run_page
    from test_page_probes import chart_frames

    def many_classes(at):
        rng = np.random.default_rng(0)
        aset = ActivationSet(rng.standard_normal((600, 1, 8)), name="words",
                             labels={"word": np.array([f"w{i}" for i in range(600)])},
                             meta=pd.DataFrame({"text": [f"the sentence of word {i}" for i in range(600)]}))
        at.session_state["datasets"][aset.name] = aset
        at.session_state["dataset"] = aset
        at.session_state["proj_colour"] = "word"

    at = run_page("projector", setup=many_classes)
    spec = next(s for s in (json.loads(c.proto.spec) for c in at.get("vega_lite_chart"))
                if s.get("encoding", {}).get("x", {}).get("field") == "x")
    assert "text" in [t["field"] for t in spec["encoding"]["tooltip"]]
    assert spec["encoding"]["color"]["type"] == "nominal"
    low, high = spec["encoding"]["x"]["scale"]["domain"]
    data = next(frame for frame in chart_frames(at) if "x" in frame and "text" in frame)
    assert low < data["x"].min() and data["x"].max() < high  # no dot sits on the plot's edge
    assert data["text"].iloc[0].startswith("the sentence of word")



def test_charts_of_a_large_sweep_stay_small():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60_000)
    X = rng.standard_normal((60_000, 1, 4)).astype(np.float32)
    X[:, 0, 0] += 1.2 * y
    sweep = probe_layers(X, y, control=False)
    full, auc = sweep.roc(0)
    thin, thin_auc = sweep.roc(0, max_points=500)
    assert len(full) > 5000 and len(thin) <= 500 and thin_auc == auc
    assert thin.iloc[0].tolist()[:2] == [0.0, 0.0] and thin.iloc[-1].tolist()[:2] == [1.0, 1.0]
    # the thinned curve is the full one: its trapezoid area matches the AUC
    assert np.trapezoid(thin["tpr"], thin["fpr"]) == pytest.approx(auc, abs=2e-3)
    assert len(sweep.projection_histogram(0)) <= 2 * 60 and sweep.projection_histogram(0)["count"].sum() == 60_000


def test_rows_without_a_type_are_types_of_their_own():
    from probing.probes.controls import control_labels, identities, type_columns

    values = np.array(["a", "a", "b", "b", "", "", "", ""], dtype=object)
    assert len(set(identities(values))) == 6  # two shared types, four rows that name none
    codes = np.array([0, 1] * 4)
    draws = [control_labels(codes, 2, pd.DataFrame({"t": values}), seed=s, type_column="t")[0] for s in range(50)]
    assert all(d[0] == d[1] and d[2] == d[3] for d in draws)  # a shared type shares its class
    assert any(d[4] != d[5] for d in draws)  # empty values do not
    assert type_columns({}, pd.DataFrame({"t": [""] * 90 + ["x", "y"] * 5})) == ["t"]
