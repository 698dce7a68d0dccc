"""Linear probes: planted directions, agreement with scikit-learn, honest statistics, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.covariance import empirical_covariance, oas, shrunk_covariance
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import PredefinedSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import probing.probes.closed_form
from probing.probes.closed_form import solve_from_moments
from probing import ActivationSet, ProbingInputError
from probing.probes import (
    LinearProbe,
    control_labels,
    fit_probe,
    mdl_probe,
    probe_layers,
    type_columns,
)
from probing.probes.folds import duplicate_rows
from probing.stats import layer_class_moments, layer_moments
from probing.synthetic import make_concept_embeddings


class IdentityShrunk(BaseEstimator):
    """sklearn-style covariance estimator with our shrinkage target: (1 - s) S + s (tr S / d) I."""

    def __init__(self, shrinkage=0.0):
        self.shrinkage = shrinkage

    def fit(self, X, y=None):
        S = empirical_covariance(X)
        self.covariance_ = shrunk_covariance(S, self.shrinkage)
        return self


def sklearn_lda(shrinkage):
    return LinearDiscriminantAnalysis(solver="lsqr", covariance_estimator=IdentityShrunk(shrinkage))


@pytest.fixture(scope="module")
def planted():
    return make_concept_embeddings(1500, d=24, n_concepts=2, noise=1.5, n_layers=3, seed=3)


def blobs(n=600, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.standard_normal((k, d)) * 1.5
    mix = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
    return rng.standard_normal((n, d)) @ mix + centres[y], y


@pytest.mark.parametrize("method, noise, accuracy", [("lda", 0.3, 0.99), ("mean_diff", 0.3, 0.99),
                                                     ("logistic", 1.0, 0.95)])
def test_recovers_planted_direction(method, noise, accuracy):
    # logistic needs non-separable classes: on separable data its direction is any separating one
    aset, directions = make_concept_embeddings(8000, d=16, noise=noise, seed=0)
    probe = fit_probe(aset.layer(0), aset.labels["label"], method=method)
    assert abs(probe.direction @ directions[0]) > 0.99
    assert np.isclose(np.linalg.norm(probe.direction_), 1.0)
    assert probe.score(aset.layer(0), aset.labels["label"]) > accuracy


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("shrinkage", [0.0, 0.4])
def test_lda_equals_sklearn(k, shrinkage):
    X, y = blobs(k=k)
    ours = LinearProbe(reg=shrinkage).fit(X, y)
    reference = sklearn_lda(shrinkage).fit(X, y)
    # for k > 2 our class scores are scikit-learn's minus one term common to all classes (from centred means)
    common = 0 if k == 2 else reference.priors_ @ reference.coef_
    np.testing.assert_allclose(ours.coef_, reference.coef_ - common, rtol=1e-8, atol=1e-10)
    shift = ours.intercept_ - reference.intercept_
    np.testing.assert_allclose(shift - (0 if k == 2 else shift.mean()), 0, atol=1e-8 * np.abs(reference.intercept_).max())
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))


def test_from_moments_equals_fit_and_original_labels():
    X, y = blobs(k=3)
    names = np.array(["cat", "dog", "eel"])[y]
    cm = layer_class_moments(X[:, None, :], y, 3)[0][0]
    fitted = LinearProbe().fit(X, names)
    from_moments = LinearProbe.from_moments(cm, ["cat", "dog", "eel"])
    np.testing.assert_allclose(fitted.coef_, from_moments.coef_, rtol=1e-10)
    assert set(fitted.predict(X)) <= {"cat", "dog", "eel"}
    assert fitted.direction_.shape == (3, 8) and fitted.subspace_.shape == (2, 8)
    np.testing.assert_allclose(fitted.subspace_ @ fitted.subspace_.T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(fitted.predict_proba(X).sum(axis=1), 1.0)
    assert not hasattr(LinearProbe(method="mean_diff").fit(X, y), "predict_proba")


@pytest.mark.parametrize("method", ["lda", "mean_diff", "logistic"])
def test_check_estimator(method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(LinearProbe(method=method))


@pytest.mark.parametrize("k", [2, 3])
def test_sweep_accuracy_equals_sklearn_lda_on_same_folds(k):
    X, y = blobs(n=500, k=k, seed=k)
    aset = ActivationSet(np.stack([X, X[:, ::-1] * 2 + 1], axis=1), labels={"y": y})
    sweep = probe_layers(aset, "y", cv=4, reg=0.3, control=False, seed=1)
    for layer in range(2):
        reference = cross_val_score(sklearn_lda(0.3), aset.layer(layer).astype(np.float64), y,
                                    cv=PredefinedSplit(sweep.folds))
        np.testing.assert_allclose(sweep.accuracy[layer], reference.mean(), atol=1e-9)
        np.testing.assert_allclose(sweep.accuracy_std[layer], reference.std(), atol=1e-9)
    assert (sweep.ci_low <= sweep.accuracy).all() and (sweep.accuracy <= sweep.ci_high).all()


class FixedRidge(BaseEstimator):
    """sklearn-style covariance estimator ``(1 - s) S + ridge I``: another labeling's shrunk covariance."""

    def __init__(self, shrinkage=0.0, ridge=0.0):
        self.shrinkage, self.ridge = shrinkage, ridge

    def fit(self, X, y=None):
        self.covariance_ = (1 - self.shrinkage) * empirical_covariance(X) + self.ridge * np.eye(X.shape[1])
        return self


def real_regularisation(X, y):
    """The real labels' LDA shrinkage and the ridge it adds, ``s tr(S_within) / d``."""
    s = LinearProbe().fit(X, y).shrinkage_
    within = sum(np.mean(y == c) * empirical_covariance(X[y == c]) for c in np.unique(y))
    return s, s * np.trace(within) / X.shape[1]


@pytest.mark.parametrize("k, spread", [(2, 1.5), (3, 1.5), (2, 40.0)])
def test_control_probe_keeps_the_real_labels_regularisation(k, spread):
    X, y = blobs(n=500, k=k, seed=k)
    X += y[:, None] * spread * np.linspace(-1, 1, X.shape[1])  # spread 40: far apart classes, a large update
    other = np.random.default_rng(5).integers(0, k, len(y))
    real, control = layer_moments(X[:, None, :], [(y, k), (other, k)])[0][0]
    first = solve_from_moments(real)
    got = solve_from_moments(control, like=first["system"])
    shrinkage, ridge = real_regularisation(X, y)
    reference = LinearDiscriminantAnalysis(solver="lsqr", covariance_estimator=FixedRidge(shrinkage, ridge))
    reference.fit(X, other)
    assert got["shrinkage"] == first["shrinkage"] and np.isclose(shrinkage, first["shrinkage"]) and 0 < shrinkage < 1
    coef = got["coef"][1:] - got["coef"][:1] if k == 2 else got["coef"]
    common = 0 if k == 2 else reference.priors_ @ reference.coef_  # k > 2: sklearn's class scores plus a common term
    np.testing.assert_allclose(coef, reference.coef_ - common, rtol=1e-8, atol=1e-9 * np.abs(coef).max())
    with pytest.raises(ProbingInputError, match="same rows"):
        solve_from_moments(layer_moments(X[:400, None, :], [(other[:400], k)])[0][0][0], like=first["system"])


def test_sweep_control_accuracy_is_sklearn_lda_on_the_same_folds_with_the_real_regularisation():
    X, y = blobs(n=400, k=2, seed=7)
    sweep = probe_layers(ActivationSet(X[:, None, :], labels={"y": y}), "y", cv=4, control=True, seed=2)
    hits = []
    for fold in range(4):
        train, test = sweep.folds != fold, sweep.folds == fold
        model = LinearDiscriminantAnalysis(solver="lsqr", covariance_estimator=FixedRidge(
            *real_regularisation(X[train], y[train]))).fit(X[train], sweep.control_y[train])
        hits.append(np.mean(model.predict(X[test]) == sweep.control_y[test]))
    np.testing.assert_allclose(sweep.control_accuracy[0], np.mean(hits), atol=1e-12)


def test_logistic_sweep_matches_sklearn_pipeline(planted):
    aset, _ = planted
    sweep = probe_layers(aset, "label", cv=3, method="logistic", control=False)
    for layer in range(aset.n_layers):
        reference = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()),
                                    aset.layer(layer).astype(np.float64), aset.labels["label"],
                                    cv=PredefinedSplit(sweep.folds))
        assert abs(sweep.accuracy[layer] - reference.mean()) < 0.01


def test_selectivity_high_for_planted_concept(planted):
    aset, directions = planted
    sweep = probe_layers(aset, "label", permutations=9)
    frame = sweep.to_frame()
    assert list(frame.columns[:8]) == ["layer", "accuracy", "accuracy_std", "ci_low", "ci_high",
                                       "majority_baseline", "control_accuracy", "selectivity"]
    assert frame["accuracy"].iloc[-1] > 0.85 and frame["selectivity"].iloc[-1] > 0.3
    assert np.all(np.diff(sweep.accuracy) > 0)  # the concept grows with depth
    assert sweep.p_value[-1] == pytest.approx(0.1)
    assert abs(sweep.directions[-1] @ directions[0]) > 0.9
    curve, auc = sweep.roc(2)
    score = sweep.decision[2][:, 1] - sweep.decision[2][:, 0]
    assert auc == pytest.approx(roc_auc_score(sweep.y, score)) and curve["tpr"].iloc[-1] == 1.0
    confusion = sweep.confusion_matrix(2)
    assert confusion["count"].sum() == aset.n_samples
    assert (sweep.predictions(2) == aset.labels["label"]).mean() == pytest.approx(
        np.bincount(sweep.folds, weights=sweep.predictions(2) == aset.labels["label"]).sum() / aset.n_samples)
    # held-out projections: each row onto the direction of the probe fitted without its fold (brute force)
    X, y, folds = aset.layer(2).astype(np.float64), aset.labels["label"], sweep.folds
    expected = np.empty(len(X))
    for f in range(sweep.cv):
        expected[folds == f] = X[folds == f] @ fit_probe(X[folds != f], y[folds != f]).direction_
    np.testing.assert_allclose(sweep.projections(2)["projection"], expected, rtol=1e-4, atol=1e-4)


def test_selectivity_near_zero_on_noise():
    rng = np.random.default_rng(5)
    aset = ActivationSet(rng.standard_normal((2000, 2, 10)).astype(np.float32), labels={"y": rng.integers(0, 2, 2000)})
    sweep = probe_layers(aset, "y", permutations=19)
    assert np.all(np.abs(sweep.selectivity) < 0.05)
    assert np.all(np.abs(sweep.accuracy - 0.5) < 0.05)
    assert np.all(sweep.p_value > 0.05)


def test_multiclass_sweep(planted):
    aset, _ = planted
    y = np.array(["a", "b", "c", "d"])[aset.labels["concept_0"] * 2 + aset.labels["concept_1"]]
    sweep = probe_layers(aset, y, method="mean_diff")
    assert sweep.directions.shape == (3, 4, aset.d) and sweep.decision.shape == (3, aset.n_samples, 4)
    assert sweep.accuracy[-1] > 0.6 > sweep.majority_baseline
    assert set(sweep.predictions(0)) <= {"a", "b", "c", "d"}
    assert sweep.projections(1, direction=2).shape == (aset.n_samples, 3)
    with pytest.raises(ProbingInputError, match="two classes"):
        sweep.roc(0)


def test_control_labels_follow_types():
    codes = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    meta = pd.DataFrame({"word": list("abcdabcd")})
    control, kind = control_labels(codes, 2, meta, seed=0)
    assert "word" in kind and np.array_equal(control[:4], control[4:])
    shuffled, kind = control_labels(codes, 2, pd.DataFrame({"id": range(8)}), seed=0)
    assert kind == "shuffled labels" and np.array_equal(np.sort(shuffled), np.sort(codes))


def test_mdl_compresses_planted_concept_not_noise():
    aset, _ = make_concept_embeddings(2000, d=16, noise=0.5, seed=1)
    planted = mdl_probe(aset.layer(0), aset.labels["label"])
    assert planted.compression > 3
    assert planted.codelength_bits == pytest.approx(planted.blocks["bits"].sum())
    noise = mdl_probe(np.random.default_rng(0).standard_normal((2000, 16)), aset.labels["label"])
    assert noise.compression < 1.05
    sweep = probe_layers(aset, "label", mdl=True, control=False)
    assert sweep.to_frame()["compression"].iloc[0] == pytest.approx(planted.compression)


def test_warns_when_fewer_samples_than_dimensions():
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="memorise"):
        sweep = probe_layers(rng.standard_normal((60, 1, 100)), rng.integers(0, 2, 60))
    assert sweep.warnings


def test_bad_input(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    aset = ActivationSet(X[:, None, :], labels={"one": np.zeros(40, int), "rare": np.r_[np.zeros(38), 1, 1].astype(int),
                                              "score": rng.standard_normal(40)})
    with pytest.raises(ProbingInputError, match="only one class"):
        probe_layers(aset, "one")
    with pytest.raises(ProbingInputError, match="only one class"):
        fit_probe(X, np.zeros(40))
    with pytest.raises(ProbingInputError, match="fewer members than the 5 folds"):
        probe_layers(aset, "rare")
    with pytest.raises(ProbingInputError, match="continuous"):
        probe_layers(aset, "score")
    with pytest.raises(ProbingInputError, match="40 samples"):
        probe_layers(aset, np.zeros(39))
    with pytest.raises(ProbingInputError, match="one label per row"):
        fit_probe(X, np.zeros(39))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ProbingInputError, match="NaN"):
        fit_probe(bad, rng.integers(0, 2, 40))
    with pytest.raises(ProbingInputError, match="NaN"):
        probe_layers(bad, rng.integers(0, 2, 40))
    with pytest.raises(ProbingInputError, match="NaN"):
        probe_layers(aset, np.r_[np.nan, np.ones(39)])
    with pytest.raises(ProbingInputError, match="cv"):
        probe_layers(aset, rng.integers(0, 2, 40), cv=1)
    with pytest.raises(ProbingInputError, match="method"):
        probe_layers(aset, rng.integers(0, 2, 40), method="svm")
    with pytest.raises(ProbingInputError, match="shrinkage"):
        fit_probe(X, rng.integers(0, 2, 40), reg=2.0)
    monkeypatch.setattr(probing.probes.closed_form, "MAX_SCATTER_BYTES", 100)
    with pytest.raises(ProbingInputError, match="PCA"):
        probe_layers(aset, rng.integers(0, 2, 40))
    with pytest.raises(ProbingInputError, match="PCA"):
        fit_probe(X, rng.integers(0, 2, 40))


def test_auto_shrinkage_is_sklearns_oas_and_keeps_quiet_coordinates_from_dominating():
    from probing.probes.closed_form import oas_shrinkage

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    X = rng.standard_normal((600, 30)) + 0.8 * y[:, None] * (np.arange(30) < 10)
    X[:, 29] = 1e-3 * rng.standard_normal(600) + 2e-4 * y  # a nearly constant coordinate that separates a little
    centred = X - np.where(y[:, None] == 1, X[y == 1].mean(0), X[y == 0].mean(0))
    assert oas_shrinkage(empirical_covariance(centred), 600) == pytest.approx(oas(centred)[1], rel=1e-6)
    probe = LinearProbe().fit(X, y)
    assert probe.shrinkage_ == pytest.approx(oas(centred)[1], rel=1e-9)  # OAS with n, not n - n_classes
    direction = probe.direction_
    assert direction[29] ** 2 < 0.05 and np.sum(direction[:10] ** 2) > 0.9


def noise_sweep(n, d, seed, **kwargs):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, 1, d)), rng.permutation(np.arange(n) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n < 2d: the memorisation warning
        return X[:, 0], y, probe_layers(X, y, control=False, seed=seed, **kwargs)


def test_held_out_projections_of_noise_are_at_chance():
    held_out, training_fit = [], []
    for seed in range(6):
        X, y, sweep = noise_sweep(30, 96, seed)
        held_out.append(roc_auc_score(y, sweep.projections(0)["projection"]))
        training_fit.append(roc_auc_score(y, X @ sweep.directions[0]))
    assert min(training_fit) > 0.99  # the direction fitted on all rows separates its own noise
    assert abs(np.mean(held_out) - 0.5) < 0.12 and max(held_out) < 0.85


def pairs(n_pairs=100, d=128, seed=0):
    """Minimal pairs: two near-identical rows sharing a random label and a ``pair_id``."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_pairs, d))
    X = np.repeat(base, 2, axis=0) + 0.01 * rng.standard_normal((2 * n_pairs, d))
    y = np.repeat(rng.permutation(np.arange(n_pairs) % 2), 2)
    return ActivationSet(X, labels={"y": y}, meta=pd.DataFrame({"pair_id": np.repeat(np.arange(n_pairs), 2)}))


def test_grouped_folds_keep_pairs_together_and_stop_the_leak():
    from sklearn.model_selection import StratifiedGroupKFold

    aset = pairs()
    grouped = probe_layers(aset, "y", control=False, seed=3)  # groups="auto": by pair_id
    free = probe_layers(aset, "y", control=False, seed=3, groups=None)
    pair_id = aset.meta["pair_id"].to_numpy()
    assert "'pair_id'" in grouped.grouping and free.grouping == "stratified folds"
    assert all(len(set(grouped.folds[pair_id == p])) == 1 for p in range(100))
    assert sum(len(set(free.folds[pair_id == p])) > 1 for p in range(100)) > 50
    expected = np.empty(200, dtype=int)
    for fold, (_, test) in enumerate(StratifiedGroupKFold(5, shuffle=True, random_state=3).split(
            np.zeros(200), aset.labels["y"], pair_id)):
        expected[test] = fold
    np.testing.assert_array_equal(grouped.folds, expected)
    assert free.accuracy[0] > 0.7  # the twin in the training rows gives the label away
    assert abs(grouped.accuracy[0] - 0.5) < 0.15
    by_array = probe_layers(aset, "y", control=False, seed=3, groups=pair_id)
    np.testing.assert_array_equal(by_array.folds, grouped.folds)
    with pytest.raises(ProbingInputError, match="Unknown group column 'sentence'"):
        probe_layers(aset, "y", groups="sentence")


def test_exact_duplicates_share_a_fold_with_a_warning():
    rng = np.random.default_rng(0)
    unique, labels = rng.standard_normal((40, 2, 64)), rng.permutation(np.arange(40) % 2)
    X, y = np.repeat(unique, 5, axis=0), np.repeat(labels, 5)
    with pytest.warns(UserWarning, match="160 of 200 rows are exact copies"):
        sweep = probe_layers(X, y, seed=1)
    source = np.repeat(np.arange(40), 5)
    assert all(len(set(sweep.folds[source == i])) == 1 for i in range(40))
    assert np.all(np.abs(sweep.accuracy - 0.5) < 0.2) and "duplicate" in sweep.grouping


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_duplicate_rows_is_the_brute_force_partition(dtype):
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((40, 4, 50)).astype(dtype)[rng.integers(0, 40, 300)]  # many exact copies
    acts[::7, 3, 49] += 1  # near-copies differing in one value: their sampled keys collide, the full hash splits them
    acts[1:3] = acts[0]
    acts[0, 2, 10], acts[1:3, 2, 10] = -0.0, 0.0  # -0.0 equals 0.0
    groups = duplicate_rows(acts, seed=3)
    _, expected = np.unique((acts + 0).reshape(300, -1), axis=0, return_inverse=True)
    pairs = np.unique(np.c_[groups, expected.ravel()], axis=0)
    assert len(pairs) == len(np.unique(groups)) == len(np.unique(expected))  # the same partition
    assert groups[0] == groups[1] == groups[2] and groups.max() + 1 == len(np.unique(groups))
    first = np.unique(groups, return_index=True)[1]
    assert np.all(np.diff(first) > 0)  # numbered by first appearance


def test_memorisation_warning_only_when_n_is_small_next_to_d():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(160, int), np.ones(10, int)]  # a rare class no longer triggers it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe_layers(rng.standard_normal((170, 1, 64)), y, control=False)  # 136 training rows > 2d
    with pytest.warns(UserWarning, match="2d = 128"):
        probe_layers(rng.standard_normal((150, 1, 64)), rng.integers(0, 2, 150), control=False)


def test_control_type_column_can_be_a_label_and_a_group_column_is_flagged():
    aset = pairs()
    aset = aset.with_labels(word=np.repeat(np.arange(50), 4))
    sweep = probe_layers(aset, "y", type_column="word", groups=None)
    assert sweep.control_kind == "random class per 'word' type"
    assert all(len(set(sweep.control_y[aset.labels["word"] == w])) == 1 for w in range(50))
    flagged = probe_layers(aset, "y", type_column="pair_id")  # pair_id is also the fold grouping
    assert any("at chance by construction" in note for note in flagged.warnings)
    # identities, most distinct first; a two-valued label is a property, not a type
    assert type_columns(aset.labels, aset.meta) == ["pair_id", "word"]
    with pytest.raises(ProbingInputError, match="Unknown control type column"):
        probe_layers(aset, "y", type_column="lemma")


def test_near_best_lists_layers_inside_the_best_interval():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    signal = rng.standard_normal((400, 8)) + 1.5 * y[:, None] * np.eye(8)[0]
    acts = np.stack([rng.standard_normal((400, 8)), signal, signal + 0.01 * rng.standard_normal((400, 8))], axis=1)
    sweep = probe_layers(acts, y, control=False)
    assert sweep.best_layer in (1, 2) and set(sweep.near_best) == {1, 2}


@pytest.mark.parametrize("seed", [0, 1, 17])
@pytest.mark.parametrize("counts", [(50, 50), (7, 30, 13), (5, 5, 5, 5, 81)])
def test_stratified_folds_are_sklearns(seed, counts):
    from sklearn.model_selection import StratifiedKFold

    from probing.probes.folds import stratified_folds

    codes = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts))[::-1], counts))
    expected = np.empty(len(codes), dtype=np.int64)
    for fold, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(codes, codes)):
        expected[test] = fold
    np.testing.assert_array_equal(stratified_folds(codes, 5, seed), expected)


def test_roc_curve_is_sklearns_with_every_point_kept():
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sklearn_roc

    from probing.probes.scoring import roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = np.round(y + rng.standard_normal(400), 1)  # ties
    fpr, tpr, thresholds, auc = roc_curve(y, score)
    want = sklearn_roc(y, score, drop_intermediate=False)
    for got, expected in zip((fpr, tpr, thresholds), want):
        np.testing.assert_allclose(got, expected)
    assert auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
