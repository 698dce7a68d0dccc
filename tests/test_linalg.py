"""Linear maps: rank-nullity, kernel and image, effective rank, composition, Eckart-Young, change of basis."""

import io

import numpy as np
import pytest

from probing import ProbingInputError
from probing import linalg as L


@pytest.mark.parametrize("m,n,rank,seed", [(6, 9, 3, 0), (12, 5, 2, 1), (8, 8, 8, 2), (7, 7, 0, 3), (30, 20, 11, 4)])
def test_rank_nullity_on_random_low_rank(m, n, rank, seed):
    A = L.random_low_rank(m, n, rank, seed=seed)
    report = L.analyze_map(A)
    assert report.rank == rank == np.linalg.matrix_rank(A)
    assert report.rank + report.nullity == n
    assert report.kernel.shape == (n, n - rank) and report.image.shape == (m, rank)
    assert "holds" in report.rank_nullity()


def test_kernel_is_dead_and_bases_are_orthonormal():
    A = L.random_low_rank(10, 14, 4, seed=5)
    report = L.analyze_map(A)
    K, Im = report.kernel, report.image
    assert np.abs(A @ K).max() < 1e-10 * np.abs(A).max()
    np.testing.assert_allclose(K.T @ K, np.eye(K.shape[1]), atol=1e-12)
    np.testing.assert_allclose(Im.T @ Im, np.eye(Im.shape[1]), atol=1e-12)
    # Every column of A lies in the image: projecting onto it changes nothing.
    np.testing.assert_allclose(Im @ (Im.T @ A), A, atol=1e-10)
    # Kernel and row space together span the input space.
    full = np.c_[K, report.right_vectors[:report.rank].T]
    np.testing.assert_allclose(full.T @ full, np.eye(14), atol=1e-12)


def test_tolerance_matches_numpy_default_and_float32_eps():
    A = L.random_low_rank(20, 30, 5, seed=6)
    s = np.linalg.svd(A, compute_uv=False)
    assert L.analyze_map(A).tol == pytest.approx(s.max() * 30 * np.finfo(np.float64).eps)
    A32 = A.astype(np.float32)
    report32 = L.analyze_map(A32)
    assert report32.tol == pytest.approx(s.max() * 30 * np.finfo(np.float32).eps, rel=1e-5)
    assert report32.rank == np.linalg.matrix_rank(A32) == 5
    assert L.analyze_map(A, tol=s[2] * 1.0001).rank == 2
    assert L.analyze_map(A, rtol=s[3] / s[0] * 1.0001).rank == 3
    assert L.analyze_map(A, rtol=1e-3).tol == pytest.approx(1e-3 * s[0])
    with pytest.raises(ProbingInputError, match="not both"):
        L.analyze_map(A, tol=1.0, rtol=0.1)


def test_effective_ranks():
    assert L.entropy_effective_rank(np.ones(7)) == pytest.approx(7.0)
    assert L.entropy_effective_rank(np.r_[3.0, np.zeros(4)]) == pytest.approx(1.0)
    s = np.array([3.0, 2.0, 1.0, 0.5])
    share = np.cumsum(s ** 2) / (s ** 2).sum()
    for energy in (0.5, 0.9, 0.95, 0.99, 1.0):
        k = L.energy_rank(s, energy)
        assert share[k - 1] >= energy - 1e-12 and (k == 1 or share[k - 2] < energy)
    with pytest.raises(ProbingInputError):
        L.energy_rank(s, 1.5)


@pytest.mark.parametrize("r", [0, 1, 3, 6])
def test_low_rank_error_matches_eckart_young(r):
    rng = np.random.default_rng(7)
    A = rng.standard_normal((9, 6))
    s = np.linalg.svd(A, compute_uv=False)
    approx = L.low_rank_approx(A, r)
    assert np.linalg.matrix_rank(approx.approx) == r
    assert approx.spectral_error == pytest.approx(s[r] if r < 6 else 0.0, abs=1e-10)
    assert approx.frobenius_error == pytest.approx(np.sqrt((s[r:] ** 2).sum()), abs=1e-10)
    assert approx.eckart_young_frobenius == pytest.approx(approx.frobenius_error, abs=1e-10)
    # No other rank-r map does better: not 200 random rank-r maps (each scaled optimally), nor 200 small
    # perturbations of the optimum's own factors (which keep rank <= r), in Frobenius or spectral norm.
    competitors = [L.random_low_rank(9, 6, r, seed=seed) if r else np.zeros_like(A) for seed in range(200)]
    competitors = [B * (np.sum(A * B) / max(np.sum(B * B), 1e-300)) for B in competitors]
    competitors += [(approx.left + 1e-3 * rng.standard_normal(approx.left.shape))
                    @ (approx.right + 1e-3 * rng.standard_normal(approx.right.shape)) for _ in range(200)]
    assert min(np.linalg.norm(A - B) for B in competitors) >= approx.frobenius_error - 1e-12
    assert min(np.linalg.norm(A - B, 2) for B in competitors) >= approx.spectral_error - 1e-12
    assert approx.lora_params == r * 15 and approx.full_params == 54
    spectrum = L.analyze_map(A).to_frame()
    if r:
        assert spectrum.loc[r - 1, "frobenius_error_rank_k"] == pytest.approx(approx.frobenius_error)


def test_compose_rank_bounds():
    A = L.random_low_rank(8, 10, 4, seed=9)
    B = L.random_low_rank(10, 7, 6, seed=10)
    c = L.compose(A, B)
    np.testing.assert_allclose(c.product, A @ B)
    assert c.rank_product == np.linalg.matrix_rank(A @ B)
    assert c.lower_bound <= c.rank_product <= c.upper_bound == 4
    with pytest.raises(ProbingInputError, match="inner|input dimension"):
        L.compose(A, A)


def test_change_of_basis_is_similarity():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((5, 5))
    P = rng.standard_normal((5, 5))
    B = L.change_of_basis(A, P)
    np.testing.assert_allclose(B, np.linalg.inv(P) @ A @ P, atol=1e-10)
    np.testing.assert_allclose(np.trace(B), np.trace(A), atol=1e-10)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(B)), np.sort_complex(np.linalg.eigvals(A)), atol=1e-8)
    # The seed's worked example P^-1 [[3,1],[0,3]] P with P = [[1,1],[0,1]]: the seed prints [[3,2],[0,3]],
    # but by hand P^-1 A = [[3,-2],[0,3]] and then (P^-1 A) P = [[3,1],[0,3]] (this Jordan block commutes with P).
    np.testing.assert_allclose(L.change_of_basis([[3, 1], [0, 3]], [[1, 1], [0, 1]]), [[3, 1], [0, 3]])
    # In its eigenbasis a symmetric map is diagonal.
    S = np.array([[2.0, 1.0], [1.0, 2.0]])
    _, V = np.linalg.eigh(S)
    np.testing.assert_allclose(L.change_of_basis(S, V), np.diag([1.0, 3.0]), atol=1e-12)


def test_change_of_basis_rejects_bad_input():
    with pytest.raises(ProbingInputError, match="square"):
        L.change_of_basis(np.ones((2, 3)), np.eye(2))
    with pytest.raises(ProbingInputError, match="singular"):
        L.change_of_basis(np.eye(2), [[1, 2], [2, 4]])
    with pytest.raises(ProbingInputError, match="same shape"):
        L.change_of_basis(np.eye(2), np.eye(3))
    with pytest.raises(ProbingInputError, match="NaN"):
        L.analyze_map([[1.0, np.nan]])
    with pytest.raises(ProbingInputError, match="2-D"):
        L.analyze_map(np.ones(3))


def test_example_maps_have_their_geometry():
    R = L.rotation(0.7, n=3, plane=(0, 2))
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    P = L.random_projection(6, 2, seed=12)
    np.testing.assert_allclose(P @ P, P, atol=1e-12)
    assert L.analyze_map(P).rank == 2
    H = L.reflection([1.0, 2.0, 2.0])
    np.testing.assert_allclose(H @ H, np.eye(3), atol=1e-12)
    assert np.linalg.det(H) == pytest.approx(-1.0)
    S = L.shear(1.5, n=2)
    assert np.linalg.det(S) == pytest.approx(1.0)
    np.testing.assert_allclose(S @ [1.0, 0.0], [1.0, 0.0])
    grid = L.grid_lines(S, extent=1, points=5)
    after = grid[(grid.stage == "after") & (grid.line == "vertical 1")][["x", "y"]].to_numpy()
    before = grid[(grid.stage == "before") & (grid.line == "vertical 1")][["x", "y"]].to_numpy()
    np.testing.assert_allclose(after, before @ S.T)


def test_load_matrices_reads_npy_and_safetensors_without_pickle():
    from safetensors.numpy import save

    W = np.arange(12, dtype=np.float32).reshape(3, 4)
    buffer = io.BytesIO()
    np.save(buffer, W)
    np.testing.assert_array_equal(L.load_matrices(buffer.getvalue(), "w.npy")["array"], W)
    tensors = L.load_matrices(save({"q": W, "k": W.T.copy()}), "w.safetensors")
    assert set(tensors) == {"q", "k"} and tensors["k"].shape == (4, 3)
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProbingInputError, match="Could not read"):
        L.load_matrices(pickled.getvalue(), "evil.npy")
    with pytest.raises(ProbingInputError, match="Unsupported"):
        L.load_matrices(b"", "w.pt")
