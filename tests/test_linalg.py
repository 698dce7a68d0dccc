"""Linear maps: rank-nullity, kernel and image, effective rank, composition, Eckart-Young, change of basis."""


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


# --- The lessons' linear algebra (issue 21) --------------------------------------------------------------

LEVEL2_A = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
LEVEL2_B = np.array([1.0, 3.0, 2.0])


def test_projection_handles_the_level2_rank_deficient_case():
    P = L.projection(LEVEL2_A)
    np.testing.assert_allclose(P @ LEVEL2_B, 13 / 14 * np.array([1.0, 2.0, 3.0]), atol=1e-12)
    np.testing.assert_allclose(P, LEVEL2_A @ np.linalg.pinv(LEVEL2_A), atol=1e-12)
    np.testing.assert_allclose(P @ P, P, atol=1e-12)
    np.testing.assert_allclose(P, P.T, atol=1e-12)
    assert np.trace(P) == pytest.approx(1.0)
    # A full-rank basis still gives the hat matrix A (AᵀA)⁻¹ Aᵀ.
    B = np.random.default_rng(0).standard_normal((6, 3))
    np.testing.assert_allclose(L.projection(B), B @ np.linalg.solve(B.T @ B, B.T), atol=1e-12)


@pytest.mark.parametrize("m,n,rank,seed", [(6, 9, 3, 0), (12, 5, 2, 1), (7, 7, 0, 3), (5, 5, 5, 4), (3, 2, 1, 5)])
def test_four_subspaces_are_orthogonal_complements(m, n, rank, seed):
    from scipy.linalg import null_space, orth

    A = L.random_low_rank(m, n, rank, seed=seed)
    report = L.analyze_map(A)
    row, ker, col, left = report.row_space, report.kernel, report.image, report.left_null_space
    assert row.shape == (n, rank) and ker.shape == (n, n - rank)
    assert col.shape == (m, rank) and left.shape == (m, m - rank)
    np.testing.assert_allclose(np.c_[row, ker].T @ np.c_[row, ker], np.eye(n), atol=1e-10)
    np.testing.assert_allclose(np.c_[col, left].T @ np.c_[col, left], np.eye(m), atol=1e-10)
    scale = max(np.abs(A).max(), 1.0)
    assert np.abs(A @ ker).max(initial=0) < 1e-10 * scale and np.abs(A.T @ left).max(initial=0) < 1e-10 * scale
    # Same subspaces as scipy's (compare the projections onto them).
    for ours, ref in ((ker, null_space(A)), (left, null_space(A.T)), (col, orth(A)), (row, orth(A.T))):
        np.testing.assert_allclose(ours @ ours.T, ref @ ref.T, atol=1e-9)
    assert "holds" in report.rank_nullity() and "holds" in report.rank_nullity(transpose=True)
    assert f"= m = {m}" in report.rank_nullity(transpose=True)
    assert list(report.subspaces()["dimension"]) == [rank, n - rank, rank, m - rank]


def test_condition_number_matches_numpy_and_is_infinite_when_rank_deficient():
    A = np.random.default_rng(1).standard_normal((7, 4))
    assert L.analyze_map(A).condition_number == pytest.approx(np.linalg.cond(A))
    assert L.analyze_map(np.diag([10.0, 1e-3])).condition_number == pytest.approx(1e4)
    assert L.analyze_map(LEVEL2_A).condition_number == np.inf


def test_solve_level2_numbers_and_residual_orthogonal_to_column_space():
    result = L.solve(LEVEL2_A, LEVEL2_B)
    np.testing.assert_allclose(result.x, [13 / 70, 26 / 70], atol=1e-12)
    np.testing.assert_allclose(result.fitted, 13 / 14 * np.array([1, 2, 3]), atol=1e-12)
    np.testing.assert_allclose(result.residual, np.array([1, 16, -11]) / 14, atol=1e-12)
    assert result.residual_norm == pytest.approx(np.sqrt(378) / 14)
    assert not result.consistent and not result.unique
    np.testing.assert_allclose(LEVEL2_A.T @ result.residual, 0, atol=1e-12)
    assert "no exact solution" in result.verdict()


@pytest.mark.parametrize("m,n,rank,seed", [(8, 5, 3, 0), (4, 9, 2, 1), (6, 6, 6, 2), (10, 4, 4, 3)])
def test_solve_matches_lstsq_minimum_norm(m, n, rank, seed):
    rng = np.random.default_rng(seed)
    A = L.random_low_rank(m, n, rank, seed=seed)
    b = rng.standard_normal(m)
    result = L.solve(A, b)
    reference = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(result.x, reference, atol=1e-9)
    np.testing.assert_allclose(A.T @ result.residual, 0, atol=1e-9)  # residual ⟂ column space
    assert np.abs(result.x @ result.report.kernel).max(initial=0) < 1e-9  # minimum norm: no kernel part
    assert result.unique == (rank == n)
    assert result.consistent == (rank == m)  # a random b is reachable only when the image is all of R^m
    exact = L.solve(A, A @ rng.standard_normal(n))
    assert exact.consistent and exact.residual_norm < 1e-9


def test_solve_rejects_mismatched_b():
    with pytest.raises(ProbingInputError, match="one entry per row"):
        L.solve(LEVEL2_A, [1.0, 2.0])


# rank, nullity, consistent for each lesson example, and kernel vectors the lessons give by hand.
LESSON_FACTS = {
    "Level 2 Debug": (1, 1, False, []),
    "Exercise 1(a)": (2, 1, False, [[1, -2, 1]]),
    "Part 7": (2, 2, False, []),
    "Part 4": (2, 1, True, []),
    "Section 2.4": (3, 1, True, [[-1, -1, 1, 0]]),
    "Appendix D.1": (2, 2, True, [[-2, 1, 0, 0], [1, 0, 1, 0]]),
    "Appendix A.3": (1, 2, True, [[-2, 1, 0], [1, 0, 1]]),
    "Part 2": (1, 1, False, [[-2, 1]]),
    "Exercise 1(b)": (2, 1, True, [[0, 0, 1]]),
}


def test_lesson_maps_have_the_lessons_rank_nullity_and_kernels():
    assert len(L.LESSON_MAPS) == len(LESSON_FACTS)
    for name, (A, b, _) in L.LESSON_MAPS.items():
        (key,) = [k for k in LESSON_FACTS if name.startswith(k)]
        rank, nullity, consistent, kernel_vectors = LESSON_FACTS[key]
        result = L.solve(A, b)
        assert (result.report.rank, result.report.nullity, result.consistent) == (rank, nullity, consistent), name
        K = result.report.kernel
        for v in kernel_vectors:
            np.testing.assert_allclose(K @ (K.T @ np.array(v, float)), v, atol=1e-10)


def test_lesson_bases_give_the_lessons_matrices():
    expected = {"Section 3.3": [[3, 1], [0, 3]], "Exercise 2": [[1, 0], [0, -1]], "Section 3.2": [[1, 1], [1, -1]],
                "Appendix A.2": L.rotation(np.pi / 6)}
    for name, (A, P, _) in L.LESSON_BASES.items():
        (key,) = [k for k in expected if name.startswith(k)]
        np.testing.assert_allclose(L.change_of_basis(A, P), expected[key], atol=1e-12)


def test_same_map_two_bases_eigenbasis_and_fallback():
    sym = L.same_map_two_bases([[2.0, 1.0], [1.0, 2.0]])
    assert sym.diagonal and not sym.note
    np.testing.assert_allclose(np.diag(sym.B), [3.0, 1.0], atol=1e-12)  # largest first
    upper = L.same_map_two_bases([[2.0, 1.0], [0.0, 3.0]])  # not symmetric, still diagonalisable
    assert upper.diagonal
    np.testing.assert_allclose(sorted(np.diag(upper.B)), [2.0, 3.0], atol=1e-12)
    for A in (L.rotation(0.5), L.shear(1.0)):
        assert L.eigenbasis(A) is None
        fallback = L.same_map_two_bases(A)
        assert "cannot be diagonalised" in fallback.note
        np.testing.assert_allclose(fallback.P, L.rotation(np.pi / 4))
    table = upper.invariants().set_index("invariant")
    assert (table["A (old basis)"] == table["P⁻¹AP (new basis)"]).all()
    chosen = L.same_map_two_bases([[3, 1], [0, 3]], [[1, 1], [0, 1]])
    np.testing.assert_allclose(chosen.B, [[3, 1], [0, 3]])
    with pytest.raises(ProbingInputError, match="singular"):
        L.same_map_two_bases(np.eye(2), [[1, 2], [2, 4]])


def test_whitening_turns_the_covariance_into_the_identity():
    C = np.array([[3.0, 2.0], [2.0, 2.0]])  # the lesson's Part 5 covariance
    w = L.whitening(C)
    np.testing.assert_allclose(w.transform @ C @ w.transform.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(w.transform @ w.basis, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(w.variances, np.linalg.eigvalsh(C)[::-1])
    X = np.random.default_rng(42).multivariate_normal([1.0, -2.0], C, size=20000)
    fitted = L.whitening(np.cov(X.T), mean=X.mean(axis=0))
    np.testing.assert_allclose(np.cov(fitted(X).T), np.eye(2), atol=1e-10)
    # A rank-deficient covariance whitens its 1-D support and says it dropped one direction.
    v = np.array([1.0, 2.0])
    flat = L.whitening(np.outer(v, v))
    assert flat.dropped == 1 and flat.transform.shape == (1, 2)
    with pytest.raises(ProbingInputError, match="symmetric"):
        L.whitening([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ProbingInputError, match="negative"):
        L.whitening([[1.0, 0.0], [0.0, -1.0]])


def test_svd_steps_rotate_stretch_rotate():
    for A in ([[2.0, 1.0], [1.0, 2.0]], [[1.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], LEVEL2_A[:2]):
        steps = L.svd_steps(A)
        np.testing.assert_allclose(steps.U @ np.diag(steps.s) @ steps.Vt, A, atol=1e-12)
        assert np.linalg.det(steps.Vt) == pytest.approx(1.0)
        assert steps.reflects == (np.linalg.det(A) < -1e-12)
        frame = steps.stages(points=61)
        final = frame[(frame.stage.str.startswith("4")) & (frame.curve == "circle")][["x", "y"]].to_numpy()
        start = frame[(frame.stage.str.startswith("1")) & (frame.curve == "circle")][["x", "y"]].to_numpy()
        np.testing.assert_allclose(final, start @ np.asarray(A).T, atol=1e-12)
        assert np.linalg.norm(final, axis=1).max() <= steps.s[0] + 1e-12
        v1 = frame[(frame.stage.str.startswith("4")) & (frame.curve == "v1")][["x", "y"]].to_numpy()[-1]
        assert np.linalg.norm(v1) == pytest.approx(steps.s[0])  # A v1 = sigma1 u1: the long semi-axis
    with pytest.raises(ProbingInputError, match="2 x 2"):
        L.svd_steps(np.eye(3))


@pytest.mark.parametrize("name", L.LESSON_FUNCTIONS)
def test_analytic_jacobians_match_finite_differences(name):
    f = L.lesson_function(name, 5, seed=3)
    x = np.random.default_rng(4).standard_normal(5)
    np.testing.assert_allclose(L.jacobian(f, x), L.numerical_jacobian(f, x), atol=1e-6)
    np.testing.assert_allclose(L.jacobian(lambda v: f(v), x), L.numerical_jacobian(f, x))  # plain callable


def test_softmax_jacobian_kills_constants_and_has_rank_n_minus_1():
    z = np.array([2.0, 1.0, 0.1, -0.5, 3.0])
    J = L.jacobian(L.lesson_function("softmax", 5), z)
    s = L.softmax(z)
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), atol=1e-15)
    np.testing.assert_allclose(J @ np.ones(5), 0, atol=1e-15)
    np.testing.assert_allclose(J, J.T)
    assert L.analyze_map(J).rank == np.linalg.matrix_rank(J) == 4
    np.testing.assert_allclose(L.analyze_map(J).kernel[:, 0] ** 2, np.full(5, 0.2), atol=1e-12)  # ker = span(1)


def test_relu_jacobian_is_a_diagonal_of_zeros_and_ones():
    z = np.array([1.0, -2.0, 3.0, -0.5, 0.25])
    J = L.jacobian(L.lesson_function("ReLU", 5), z)
    np.testing.assert_array_equal(J, np.diag([1.0, 0.0, 1.0, 0.0, 1.0]))


def test_layernorm_jacobian_kills_constants():
    x = np.random.default_rng(5).standard_normal(6)
    J = L.jacobian(L.lesson_function("LayerNorm", 6), x)
    np.testing.assert_allclose(J @ np.ones(6), 0, atol=1e-12)
    np.testing.assert_allclose(L.layer_norm(x + 7.0), L.layer_norm(x), atol=1e-12)


def test_linearity_report_separates_linear_from_the_lessons_non_examples():
    linear = L.linearity_report(L.lesson_function("linear map W x", 4, seed=1), 4, seed=0)
    assert linear.linear and linear.f_zero_norm == 0 and not linear.counterexamples
    expected_failures = {"translation x + 5": {"additivity", "homogeneity"}, "ReLU": {"additivity", "homogeneity"},
                         "softmax": {"additivity", "homogeneity"}, "x² (elementwise)": {"additivity", "homogeneity"},
                         "norm ‖x‖": {"additivity", "homogeneity"}, "LayerNorm": {"additivity", "homogeneity"}}
    for name, failures in expected_failures.items():
        report = L.linearity_report(L.lesson_function(name, 4), 4, seed=0)
        assert not report.linear, name
        assert set(report.counterexamples) == failures, name
        add = report.counterexamples["additivity"]
        assert np.linalg.norm(add["lhs T(u+v)"] - add["rhs T(u)+T(v)"]) > 1e-3, name
        hom = report.counterexamples["homogeneity"]
        assert np.linalg.norm(hom["lhs T(cu)"] - hom["rhs c T(u)"]) > 1e-3, name
    assert L.linearity_report(L.lesson_function("translation x + 5", 4), 4).f_zero_norm == pytest.approx(10.0)
    # The norm is homogeneous for c >= 0 only: its counterexample has a negative scalar.
    assert L.linearity_report(L.lesson_function("norm ‖x‖", 3), 3).counterexamples["homogeneity"]["c"] < 0


@pytest.mark.parametrize("activation", ["none", "ReLU"])
def test_backprop_through_a_linear_layer_is_multiplication_by_w_transpose(activation):
    import torch

    rng = np.random.default_rng(6)
    W, x, target = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    result = L.linear_layer_backprop(W, x, target, activation)
    np.testing.assert_allclose(result.grad_x, W.T @ result.grad_z)
    np.testing.assert_allclose(result.grad_x, result.grad_x_numeric, atol=1e-6)
    xt = torch.tensor(x, requires_grad=True)
    z = torch.tensor(W) @ xt
    a = torch.relu(z) if activation == "ReLU" else z
    (0.5 * ((a - torch.tensor(target)) ** 2).sum()).backward()
    np.testing.assert_allclose(result.grad_x, xt.grad.numpy(), atol=1e-12)
    with pytest.raises(ProbingInputError, match="needs 4 entries"):
        L.linear_layer_backprop(W, x[:3], target)


def test_exercise6_affine_composition_numbers():
    M1 = L.rotate_scale_translate(45, 1.0, (1.0, 0.0))
    M2 = L.rotate_scale_translate(0, 2.0, (0.0, 1.0))
    r = np.sqrt(2)
    np.testing.assert_allclose(M1, [[1 / r, -1 / r, 1], [1 / r, 1 / r, 0], [0, 0, 1]], atol=1e-12)
    c = L.compose_affine(M1, M2, point=(1.0, 0.0))
    np.testing.assert_allclose(c.product, [[r, -r, 2], [r, r, 1], [0, 0, 1]], atol=1e-12)
    assert c.rotation_degrees == pytest.approx(45.0)
    np.testing.assert_allclose(c.scales, [2.0, 2.0])
    np.testing.assert_allclose(c.translation, [2.0, 1.0])
    np.testing.assert_allclose(c.via_product, [2 + r, 1 + r], atol=1e-12)
    np.testing.assert_allclose(c.via_steps, c.via_product, atol=1e-12)
    # The inverse of [[A, t], [0, 1]] is [[A⁻¹, −A⁻¹t], [0, 1]].
    A, t = 2.0 * L.rotation(0.3), np.array([1.0, -2.0])
    np.testing.assert_allclose(np.linalg.inv(L.affine_matrix(A, t)),
                               L.affine_matrix(np.linalg.inv(A), -np.linalg.solve(A, t)), atol=1e-12)
    with pytest.raises(ProbingInputError, match="last row"):
        L.compose_affine(np.ones((3, 3)), M2)


def test_lora_update_recovers_the_rank_of_the_update():
    W0, W = L.lora_example(512, 512, r=4, seed=0)  # the lesson's Exercise 7
    update = L.lora_update(W0, W)
    assert update.report.rank == 4 and update.report.nullity == 508
    assert 1.0 <= update.report.entropy_rank <= 4.0 and update.report.energy_rank <= 4
    assert update.lora_params == update.report.energy_rank * 1024
    noisy = L.lora_update(*L.lora_example(256, 128, r=3, noise=1e-4, seed=1))
    assert noisy.report.rank == 128  # noise makes dW full rank ...
    assert noisy.report.energy_rank == 3  # ... but 3 directions carry 90% of its energy
    small = W0[:20, :30]
    assert L.lora_update(small, small).report.rank == 0
    with pytest.raises(ProbingInputError, match="same shape"):
        L.lora_update(small, small[:, :10])


def test_parse_matrix_formats_and_errors():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    for text in ("1 2; 3 4", "1 2\n3 4", "1, 2\n3, 4\n", "[[1, 2], [3, 4]]", " 1,2 ; 3 ,4 ", "2/2 4/2; 3 4"):
        np.testing.assert_array_equal(L.parse_matrix(text), expected)
    np.testing.assert_allclose(L.parse_vector("1, 3; 2"), [1.0, 3.0, 2.0])
    np.testing.assert_allclose(L.parse_vector("13/14 -1e-2"), [13 / 14, -0.01])
    with pytest.raises(ProbingInputError, match="ragged rows: row 1 has 2 entries but row 2 has 3"):
        L.parse_matrix("1 2; 3 4 5")
    with pytest.raises(ProbingInputError, match="`x` in row 2, column 1 is not a number"):
        L.parse_matrix("1 2; x 4")
    with pytest.raises(ProbingInputError, match="empty"):
        L.parse_matrix("  ;\n ")
    with pytest.raises(ProbingInputError, match="limited to 50 x 50"):
        L.parse_matrix("\n".join(["1"] * 51))
    with pytest.raises(ProbingInputError, match="limited to 50 x 50"):
        L.parse_matrix(" ".join(["1"] * 51))
    with pytest.raises(ProbingInputError, match="not finite"):
        L.parse_matrix("1/0")
    with pytest.raises(ProbingInputError, match=r"`\$x\$'\*\*` in row 1, column 2"):  # shown in a code span
        L.parse_matrix("1 $x$`**")
    with pytest.raises(ProbingInputError, match="needs 3"):
        L.parse_vector("1 2", length=3)
    with pytest.raises(ProbingInputError, match="`nan` at position 2 is not a number"):
        L.parse_vector("1 nan")
