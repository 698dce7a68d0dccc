"""LEACE: after erasure every class has the same mean and a fresh probe is at chance."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from probing import ProbingInputError
from probing.erasure import class_sums_in_gram, erase_layers, erasure_sweep, fit_eraser, mean_squared_change
from probing.stats import labelled_moments
from probing.synthetic import make_concept_embeddings


@pytest.fixture(scope="module")
def data():
    aset, _ = make_concept_embeddings(n_samples=1500, d=24, n_concepts=3, noise=1.0, n_layers=2, seed=5)
    return aset


def test_class_means_are_equal_after_erasure(data):
    X, y = data.layer(-1).astype(np.float64), data.labels["label"]
    erased = fit_eraser(X, y).transform(X)
    np.testing.assert_allclose(erased[y == 0].mean(axis=0), erased[y == 1].mean(axis=0), atol=1e-9)


def test_fresh_probe_is_at_chance_after_erasure(data):
    X, y = data.layer(-1).astype(np.float64), data.labels["label"]
    train, test = np.arange(0, 1000), np.arange(1000, 1500)
    eraser = fit_eraser(X[train], y[train])
    before = LogisticRegression(max_iter=2000).fit(X[train], y[train]).score(X[test], y[test])
    after = LogisticRegression(max_iter=2000).fit(eraser(X[train]), y[train]).score(eraser(X[test]), y[test])
    in_sample = LogisticRegression(max_iter=2000).fit(eraser(X), y).score(eraser(X), y)
    majority = max(np.mean(y[test]), 1 - np.mean(y[test]))
    assert before > 0.95
    assert abs(after - majority) < 0.05
    assert abs(in_sample - max(np.mean(y), 1 - np.mean(y))) < 0.05


def test_erasure_sweep_reports_chance_on_every_layer(data):
    frame = erasure_sweep(data, "label", cv=4).to_frame()
    assert list(frame["layer"]) == data.layers
    assert (frame["accuracy_before"].iloc[-1]) > 0.95
    assert np.all(np.abs(frame["accuracy_after"] - frame["majority_baseline"]) < 0.05)
    assert np.all(frame["msc_leace"] <= frame["msc_orth"] + 1e-9)


def test_other_concepts_survive_erasure(data):
    X = data.layer(-1).astype(np.float64)
    erased = fit_eraser(X, data.labels["concept_0"]).transform(X)
    before = cross_val_score(LogisticRegression(max_iter=2000), X, data.labels["concept_1"], cv=5).mean()
    after = cross_val_score(LogisticRegression(max_iter=2000), erased, data.labels["concept_1"], cv=5).mean()
    assert after > 0.85 and after > before - 0.02


def test_leace_moves_data_less_than_orthogonal_projection():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((10, 10))
    y = rng.integers(0, 2, 3000)
    X = rng.standard_normal((3000, 10)) @ mixing + np.outer(y, rng.standard_normal(10))
    leace = mean_squared_change(X, fit_eraser(X, y).transform(X))
    orth = mean_squared_change(X, fit_eraser(X, y, method="orth").transform(X))
    assert leace < orth


def test_multiclass_erasure_equalises_all_means():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    centres = rng.standard_normal((4, 12)) * 3
    X = centres[y] + rng.standard_normal((2000, 12))
    eraser = fit_eraser(X, y)
    erased = eraser.transform(X)
    means = np.stack([erased[y == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(means - means.mean(axis=0), 0, atol=1e-8)
    assert eraser.rank == 3


def test_erase_layers_equalises_class_means_and_leaves_a_probe_at_chance_on_every_layer(data):
    erased = erase_layers(data, "label")
    assert erased.shape == data.shape and erased.labels.keys() == data.labels.keys()
    y = data.labels["label"]
    majority = max(np.mean(y), 1 - np.mean(y))
    for layer in range(data.n_layers):
        X, Z = data.layer(layer).astype(np.float64), erased.layer(layer).astype(np.float64)
        gap_before = np.linalg.norm(X[y == 0].mean(axis=0) - X[y == 1].mean(axis=0))
        gap_after = np.linalg.norm(Z[y == 0].mean(axis=0) - Z[y == 1].mean(axis=0))
        assert gap_before > 1 and gap_after < 1e-4 * gap_before, (layer, gap_before, gap_after)
        in_sample = LogisticRegression(max_iter=2000).fit(Z, y).score(Z, y)
        held_out = cross_val_score(LogisticRegression(max_iter=2000), Z, y, cv=5).mean()
        assert abs(in_sample - majority) < 0.05 and held_out < majority + 0.05, (layer, in_sample, held_out)


def test_one_class_is_refused(data):
    with pytest.raises(ProbingInputError, match="at least 2 classes"):
        fit_eraser(data.layer(0), np.zeros(data.n_samples))


def _brute_force_leace(X, y):
    """``W⁺ P W`` and the mean from the definition, in float64 with an explicit symmetric square root."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    sigma = np.cov(X, rowvar=False, ddof=0)
    onehot = (y[:, None] == np.unique(y)[None, :]).astype(np.float64)
    sigma_xz = (X - mean).T @ (onehot - onehot.mean(axis=0)) / len(X)
    values, vectors = np.linalg.eigh(sigma)
    W, W_inv = (vectors / np.sqrt(values)) @ vectors.T, (vectors * np.sqrt(values)) @ vectors.T
    u, s, _ = np.linalg.svd(W @ sigma_xz, full_matrices=False)
    u = u[:, s > 1e-10 * s.max()]
    return mean, W_inv @ u @ u.T @ W


@pytest.mark.parametrize("k", [2, 4])
def test_low_rank_eraser_equals_the_definition(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 3000)
    X = rng.standard_normal((3000, 16)) @ rng.standard_normal((16, 16)) + rng.standard_normal((k, 16))[y] * 2
    mean, proj = _brute_force_leace(X, y)
    eraser = fit_eraser(X, y)
    assert eraser.rank == k - 1 and eraser.left.shape == (16, k - 1)
    np.testing.assert_allclose(eraser.proj, proj, atol=1e-9)
    np.testing.assert_allclose(eraser(X), X - (X - mean) @ proj.T, atol=1e-9)


def test_singular_covariance_falls_back_to_the_pseudo_inverse():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    base = rng.standard_normal((2000, 8)) + np.outer(y, rng.standard_normal(8))
    X = np.hstack([base, base[:, :2]])  # two duplicated features: the covariance is singular
    erased = fit_eraser(X, y)(X)
    np.testing.assert_allclose(erased[y == 0].mean(axis=0), erased[y == 1].mean(axis=0), atol=1e-9)


def test_float32_rows_are_erased_in_float32_like_float64():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    y = rng.integers(0, 3, 20_000)
    X = ((rng.standard_normal((20_000, 32)) * np.linspace(0.5, 2, 32)) @ q + rng.standard_normal((3, 32))[y] + 4.0)
    X32 = X.astype(np.float32)
    erased = fit_eraser(X32, y)(X32)
    exact = fit_eraser(X32.astype(np.float64), y)(X32.astype(np.float64))
    assert erased.dtype == np.float32
    change = np.max(np.abs(X32 - exact))
    assert np.max(np.abs(erased - exact)) < 1e-5 * change


def test_same_erasure_as_concept_erasure():
    torch = pytest.importorskip("torch")
    concept_erasure = pytest.importorskip("concept_erasure")
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 4000)
    X = rng.standard_normal((4000, 12)) @ rng.standard_normal((12, 12)) + rng.standard_normal((3, 12))[y]
    theirs = concept_erasure.LeaceEraser.fit(torch.from_numpy(X), torch.nn.functional.one_hot(torch.from_numpy(y)).double(),
                                             constrain_cov_trace=False, shrinkage=False)
    np.testing.assert_allclose(fit_eraser(X, y)(X), theirs(torch.from_numpy(X)).numpy(), atol=1e-9)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-6)])
def test_class_moments_from_one_gram_equal_the_chunked_moments_pass(dtype, rtol):
    """The shifted Gram with the one-hot columns gives the moments of probing.stats (float32: to its policy's 1e-6)."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 20_000)
    X = (rng.standard_normal((20_000, 24)) * np.linspace(0.5, 3, 24) + rng.standard_normal((3, 24))[y] + 50.0)
    ours = class_sums_in_gram(X.astype(dtype), y, 3)  # 20,000 rows: several chunks
    exact = labelled_moments(X, y, 3)  # float64 throughout
    np.testing.assert_array_equal(ours.counts, exact.counts)
    np.testing.assert_allclose(ours.means, exact.means, rtol=rtol)
    np.testing.assert_allclose(ours.pooled.mean, exact.pooled.mean, rtol=rtol)
    scale = np.abs(exact.pooled.scatter).max()
    assert np.abs(ours.pooled.scatter - exact.pooled.scatter).max() < rtol * scale


@pytest.mark.parametrize("bad,message", [(np.nan, "NaN values"), (np.inf, "Inf values"), (1e30, "too large")])
def test_non_finite_or_overflowing_rows_are_refused(bad, message):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((500, 6)).astype(np.float32)
    X[321, 4] = bad
    with pytest.raises(ProbingInputError, match=message):
        fit_eraser(X, rng.integers(0, 2, 500))


def test_float32_fit_erases_like_concept_erasure_in_float64():
    """float32 rows far from the origin: our float32 moments give concept-erasure's float64 eraser to 1e-5."""
    torch = pytest.importorskip("torch")
    concept_erasure = pytest.importorskip("concept_erasure")
    rng = np.random.default_rng(8)
    q, _ = np.linalg.qr(rng.standard_normal((48, 48)))
    y = rng.integers(0, 2, 30_000)
    X32 = ((rng.standard_normal((30_000, 48)) * np.linspace(0.5, 2, 48)) @ q + 2.0 * np.outer(y, q[0]) + 10.0
           ).astype(np.float32)
    X = torch.from_numpy(X32.astype(np.float64))
    theirs = concept_erasure.LeaceEraser.fit(X, torch.nn.functional.one_hot(torch.from_numpy(y)).double(),
                                             constrain_cov_trace=False, shrinkage=False)(X).numpy()
    ours = fit_eraser(X32, y)(X32)
    assert ours.dtype == np.float32
    assert np.max(np.abs(ours - theirs)) < 1e-5 * np.max(np.abs(X32 - theirs))


@pytest.mark.parametrize("labels", [np.zeros((500, 1), dtype=int), np.zeros(499, dtype=int)])
def test_labels_must_be_one_per_row(labels):
    X = np.random.default_rng(9).standard_normal((500, 6))
    with pytest.raises(ProbingInputError, match="one label per row"):
        fit_eraser(X, labels)
