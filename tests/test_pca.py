"""PCA as a change of basis: against scikit-learn, decorrelation, round trip, similarity, planted direction."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from probing import ActivationSet, ProbingInputError
from probing.linalg import change_of_basis
from probing.pca import fit_pca
from probing.synthetic import make_concept_embeddings


def _correlated(n=600, d=24, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * np.linspace(3.0, 0.2, d)[:, None]
    return rng.standard_normal((n, d)) @ mixing + 5.0


def _assert_equal_up_to_sign(A, B, atol):
    """Rows of A and B agree up to one sign per row."""
    signs = np.sign((A * B).sum(axis=1))
    np.testing.assert_allclose(A * signs[:, None], B, atol=atol)


# d = 24: k = 5 takes the subset solver, k = 10 and all components the full decomposition
@pytest.mark.parametrize("n_components,solver", [(None, "eigh"), (5, "eigh"), (10, "eigh"), (5, "lanczos"),
                                                 (3, "auto")])
def test_matches_sklearn(n_components, solver):
    X = _correlated()
    basis = fit_pca(X, n_components=n_components, solver=solver)
    ref = PCA(n_components=n_components, svd_solver="full").fit(X)
    np.testing.assert_allclose(basis.explained_variance, ref.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(basis.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-6)
    np.testing.assert_allclose(basis.mean, ref.mean_, rtol=1e-12)
    _assert_equal_up_to_sign(basis.components, ref.components_, atol=1e-8)
    _assert_equal_up_to_sign(basis.transform(X).T, ref.transform(X).T, atol=1e-8)


@pytest.mark.parametrize("n_components", [None, 4])
def test_float32_rows_match_sklearn_in_float64_to_1e5(n_components):
    """float32 data: float32 chunk products, yet a well-conditioned spectrum agrees to 1e-5 per eigenvalue."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((24, 24)))
    X32 = ((rng.standard_normal((5000, 24)) * np.linspace(3.0, 0.2, 24)) @ q + 5.0).astype(np.float32)
    basis = fit_pca(X32, n_components=n_components, chunk_rows=1000)
    ref = PCA(n_components=n_components, svd_solver="full").fit(X32.astype(np.float64))
    np.testing.assert_allclose(basis.explained_variance, ref.explained_variance_, rtol=1e-5)
    _assert_equal_up_to_sign(basis.components[:4], ref.components_[:4], atol=1e-4)


def test_float32_spectrum_error_is_small_against_the_largest_eigenvalue():
    """Ill-conditioned float32 data (eigenvalues spanning ~1e7): the float32 Gram's error is ~1e-7 of the top
    eigenvalue, so the tail loses relative accuracy but no eigenvalue is off by more than 1e-6 of the largest."""
    X32 = _correlated(n=5000).astype(np.float32)
    values = fit_pca(X32).explained_variance
    ref = PCA(svd_solver="full").fit(X32.astype(np.float64)).explained_variance_
    assert ref[0] / ref[-1] > 1e6
    assert np.max(np.abs(values - ref)) < 1e-6 * ref[0]


def _graded(n=20_000, d=48, span=1e8, offset=3.0, seed=0):
    """float32 rows whose covariance has eigenvalues log-spaced over ``span`` (in a random basis)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    variances = np.logspace(0, -np.log10(span), d)
    return ((rng.standard_normal((n, d)) * np.sqrt(variances)) @ q + offset).astype(np.float32)


def _relative_errors(values, exact):
    return np.abs(values - exact[:len(values)]) / exact[:len(values)]


def test_float32_ill_conditioned_spectrum_is_accurate_per_eigenvalue():
    """Eigenvalues spanning 1e8: the float32 Gram alone is off by ~30% on the smallest (its rounding is ~1e-8 of
    the largest); the second pass over the tail brings every eigenvalue within 1e-5 of a float64 computation,
    better than scikit-learn's float32 SVD (~5e-3 here)."""
    X32 = _graded()
    exact = np.linalg.eigvalsh(np.cov(X32.astype(np.float64), rowvar=False))[::-1]
    basis = fit_pca(X32)
    assert _relative_errors(basis.explained_variance, exact).max() < 1e-5
    sklearn_error = _relative_errors(PCA(svd_solver="full").fit(X32).explained_variance_, exact).max()
    assert _relative_errors(basis.explained_variance, exact).max() < sklearn_error
    # the refined components still diagonalise the covariance, to the size of each eigenvalue
    rotated = basis.components @ np.cov(X32.astype(np.float64), rowvar=False) @ basis.components.T
    np.testing.assert_allclose(np.diag(rotated), basis.explained_variance, rtol=1e-5)
    np.testing.assert_allclose(basis.components @ basis.components.T, np.eye(48), atol=1e-12)
    # a truncation reaching into the tail refines the whole tail first, then keeps the top 40
    top = fit_pca(X32, n_components=40)
    np.testing.assert_array_equal(top.explained_variance, basis.explained_variance[:40])
    np.testing.assert_array_equal(top.components, basis.components[:40])


def test_float32_ill_conditioned_tail_is_refined_from_memmaps_sets_and_uncentred(tmp_path):
    X32 = _graded(n=6000, d=24, offset=0.3, seed=1)
    path = tmp_path / "layer.npy"
    np.save(path, X32)
    from_memmap = fit_pca(np.load(path, mmap_mode="r"), chunk_rows=1000)
    from_set = fit_pca((ActivationSet(X32[:, None, :]), 0), chunk_rows=1000)
    exact = np.linalg.eigvalsh(np.cov(X32.astype(np.float64), rowvar=False))[::-1]
    assert _relative_errors(from_memmap.explained_variance, exact).max() < 1e-5
    np.testing.assert_allclose(from_set.components, from_memmap.components, atol=1e-10)
    uncentred = fit_pca(X32, center=False)
    second = X32.astype(np.float64).T @ X32.astype(np.float64) / len(X32)
    assert _relative_errors(uncentred.explained_variance, np.linalg.eigvalsh(second)[::-1]).max() < 1e-5


def test_float32_memmap_and_activation_set_agree(tmp_path):
    aset, _ = make_concept_embeddings(n_samples=400, d=16, n_layers=2, seed=3)
    path = tmp_path / "layer.npy"
    np.save(path, np.ascontiguousarray(aset.layer(1)))
    memmap = np.load(path, mmap_mode="r")
    from_memmap = fit_pca(memmap, chunk_rows=64)
    from_set = fit_pca((aset, 1), chunk_rows=64)  # the same chunk plan gives the same float32 products
    ref = PCA(svd_solver="full").fit(aset.layer(1).astype(np.float64))
    np.testing.assert_allclose(from_memmap.explained_variance, ref.explained_variance_, rtol=1e-6)
    np.testing.assert_allclose(from_set.components, from_memmap.components, atol=1e-10)


def test_components_orthonormal_and_sign_convention_deterministic():
    X = _correlated(seed=1)
    basis = fit_pca(X)
    np.testing.assert_allclose(basis.components @ basis.components.T, np.eye(basis.d), atol=1e-12)
    rows = np.arange(basis.n_components)
    assert np.all(basis.components[rows, np.abs(basis.components).argmax(axis=1)] > 0)
    np.testing.assert_array_equal(fit_pca(X).components, basis.components)
    # Flipping the data's sign flips every PC back to the same convention.
    np.testing.assert_allclose(fit_pca(-X).components, basis.components, atol=1e-10)


def test_covariance_in_new_basis_is_diagonal():
    X = _correlated(seed=2)
    basis = fit_pca(X)
    C_new = np.cov(basis.transform(X), rowvar=False)
    off = C_new - np.diag(np.diag(C_new))
    assert np.abs(off).max() < 1e-8 * C_new.max()
    np.testing.assert_allclose(np.diag(C_new), basis.explained_variance, rtol=1e-8)
    # The same statement as a change of basis of the covariance map.
    C = np.cov(X, rowvar=False)
    np.testing.assert_allclose(basis.change_of_basis(C), np.diag(basis.explained_variance), atol=1e-8 * C_new.max())


def test_round_trip_with_all_components():
    X = _correlated(seed=3)
    basis = fit_pca(X)
    np.testing.assert_allclose(basis.inverse_transform(basis.transform(X)), X, atol=1e-9)
    truncated = fit_pca(X, n_components=4)
    residual = X - truncated.inverse_transform(truncated.transform(X))
    # What is lost is exactly the variance of the dropped components.
    dropped = basis.explained_variance[4:].sum()
    assert (residual ** 2).sum() / (len(X) - 1) == pytest.approx(dropped, rel=1e-8)


def test_change_of_basis_is_similarity_and_matches_general_formula():
    X = _correlated(n=300, d=8, seed=4)
    basis = fit_pca(X)
    A = np.random.default_rng(5).standard_normal((8, 8))
    B = basis.change_of_basis(A)
    P = basis.components.T
    np.testing.assert_allclose(B, np.linalg.inv(P) @ A @ P, atol=1e-10)
    np.testing.assert_allclose(B, change_of_basis(A, P), atol=1e-10)
    np.testing.assert_allclose(np.trace(B), np.trace(A), atol=1e-10)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(B)), np.sort_complex(np.linalg.eigvals(A)), atol=1e-8)


def test_pc1_aligns_with_planted_direction():
    aset, directions = make_concept_embeddings()
    basis = fit_pca((aset, 0), n_components=5)
    alignment = basis.alignment(directions, names=["planted"])
    assert alignment.cosines[0, 0] > 0.95
    assert alignment.summary().loc[0, "best_pc"] == "PC1"
    assert alignment.subspace_cosine[0] >= alignment.cosines[0, 0]
    frame = alignment.to_frame()
    assert len(frame) == 5 and frame.abs_cos.max() == pytest.approx(alignment.cosines[0, 0])
    # Scaling a direction does not change its alignment; a dict names the directions.
    scaled = basis.alignment({"x3": 3 * directions[0]})
    np.testing.assert_allclose(scaled.cosines, alignment.cosines)


def test_uncentred_pca_uses_second_moment():
    X = _correlated(n=200, d=6, seed=6)
    basis = fit_pca(X, center=False)
    second = X.T @ X / len(X)
    np.testing.assert_allclose(basis.explained_variance, np.sort(np.linalg.eigvalsh(second))[::-1], rtol=1e-9)
    np.testing.assert_allclose(basis.inverse_transform(basis.transform(X)), X, atol=1e-9)


@pytest.mark.parametrize("bad,match", [
    (np.ones((1, 4)), "at least 2 samples"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
    (np.ones(5), "2-D"),
])
def test_bad_input_raises(bad, match):
    with pytest.raises(ProbingInputError, match=match):
        fit_pca(bad)


def test_bad_parameters_raise():
    X = _correlated(n=50, d=4)
    basis = fit_pca(X)
    with pytest.raises(ProbingInputError, match="n_components"):
        fit_pca(X, n_components=5)
    with pytest.raises(ProbingInputError, match="solver"):
        fit_pca(X, solver="magic")
    with pytest.raises(ProbingInputError, match="square"):
        basis.change_of_basis(np.ones((4, 3)))
    with pytest.raises(ProbingInputError, match="4 x 4"):
        basis.change_of_basis(np.eye(3))
    with pytest.raises(ProbingInputError, match="zero"):
        basis.alignment(np.zeros(4))
    with pytest.raises(ProbingInputError, match="transform expects"):
        basis.transform(np.ones((3, 5)))
