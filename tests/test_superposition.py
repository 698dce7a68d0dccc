"""Toy models of superposition: the paper's 5 -> 2 geometry, dimensionality, sweeps, interference."""

import numpy as np
import pytest

from probing import ProbingInputError
from probing.superposition.interference import probe_interference
from probing.superposition import (dimensions_per_feature, feature_dimensionality, interference_matrix,
                                   n_represented, train_toy_model)
from probing.superposition.sweeps import PHASES, PhaseDiagram, classify_phase, phase_diagram, sparsity_sweep
from dashboard.datasets import DATA_DIR


def _angles_between_neighbours(W):
    angles = np.sort(np.degrees(np.arctan2(W[1], W[0])))
    return np.diff(np.r_[angles, angles[0] + 360.0])


def _brute_dimensionality(W):
    out = np.zeros(W.shape[1])
    for i in range(W.shape[1]):
        norm = np.linalg.norm(W[:, i])
        if norm > 0:
            out[i] = norm ** 2 / sum((W[:, i] / norm @ W[:, j]) ** 2 for j in range(W.shape[1]))
    return out


@pytest.mark.parametrize("seed", [0, 7])
def test_dense_features_keep_the_two_most_important_orthogonally(seed):
    W = train_toy_model(5, 2, sparsity=0.0, importance=0.9, seed=seed).W
    norms = np.linalg.norm(W, axis=0)
    np.testing.assert_allclose(norms[:2], 1.0, atol=0.05)
    assert norms[2:].max() < 0.2
    assert abs(W[:, 0] @ W[:, 1]) < 0.05
    np.testing.assert_allclose(feature_dimensionality(W)[:2], 1.0, atol=0.03)
    assert n_represented(W) == 2


@pytest.mark.parametrize("seed", [0, 7])
def test_sparse_features_form_a_regular_pentagon(seed):
    W = train_toy_model(5, 2, sparsity=0.9, importance=0.9, seed=seed).W
    norms = np.linalg.norm(W, axis=0)
    assert norms.min() > 0.9 and norms.max() < 1.3
    np.testing.assert_allclose(_angles_between_neighbours(W), 72.0, atol=5.0)
    np.testing.assert_allclose(feature_dimensionality(W), 0.4, atol=0.03)
    assert dimensions_per_feature(W) < 0.5


def test_dimensionality_of_orthonormal_set_pentagon_pairs_and_zero_columns():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 4)))
    np.testing.assert_allclose(feature_dimensionality(Q), 1.0)
    angles = 2 * np.pi * np.arange(5) / 5
    pentagon = np.stack([np.cos(angles), np.sin(angles)])
    np.testing.assert_allclose(feature_dimensionality(pentagon), 0.4)
    W = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0]])  # antipodal pair (unequal lengths) and a zero column
    D = feature_dimensionality(W)
    assert np.all(np.isfinite(D)) and D[2] == 0.0
    W_random = np.random.default_rng(1).standard_normal((3, 7)) * np.r_[1, 0.5, 2, 1, 0, 1, 3]
    np.testing.assert_allclose(feature_dimensionality(W_random), _brute_dimensionality(W_random))
    np.testing.assert_allclose(feature_dimensionality(np.stack([Q, Q])), 1.0)


def test_interference_matrix_counts_and_dimensions_per_feature():
    W = np.random.default_rng(2).standard_normal((3, 5))
    np.testing.assert_allclose(interference_matrix(W), W.T @ W)
    np.testing.assert_allclose(dimensions_per_feature(W), 3 / np.sum(W ** 2))
    assert n_represented(np.array([[1.0, 0.3, 0.0], [0.0, 0.3, 0.8]])) == 2
    assert dimensions_per_feature(np.zeros((2, 3))) == np.inf


def test_vectorised_instances_equal_separate_runs():
    sparsities = np.array([0.0, 0.5, 0.9])
    weights = np.array([[1.0, 0.9, 0.8, 0.7], [1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 0.2, 0.9]])
    stacked = train_toy_model(4, 2, sparsities, weights, steps=300, seed=5, n_instances=3, n_restarts=2)
    assert stacked.W.shape == (3, 2, 4) and stacked.b.shape == (3, 4) and stacked.loss.shape == (3,)
    for i in range(3):
        alone = train_toy_model(4, 2, sparsities[i], weights[i], steps=300, seed=5 + i, n_restarts=2)
        np.testing.assert_allclose(stacked.W[i], alone.W, atol=1e-5)
        np.testing.assert_allclose(stacked.b[i], alone.b, atol=1e-5)
        assert stacked.loss[i] == pytest.approx(alone.loss, rel=1e-4)
        np.testing.assert_allclose(stacked.instance(i).W, alone.W, atol=1e-5)
    frame = stacked.to_frame()
    assert len(frame) == 12 and {"norm", "dimensionality", "bias", "x", "y"} <= set(frame.columns)


def test_restarts_never_do_worse_and_training_lowers_the_loss():
    one = train_toy_model(5, 2, sparsity=0.9, importance=0.9, steps=400, seed=3, n_restarts=1)
    best = train_toy_model(5, 2, sparsity=0.9, importance=0.9, steps=400, seed=3, n_restarts=4)
    assert best.loss <= one.loss + 1e-12
    assert one.loss_curve[-5:].mean() < 0.5 * one.loss_curve[0]


def test_more_dimensions_than_features_is_allowed_and_needs_no_superposition():
    W = train_toy_model(3, 5, sparsity=0.5, importance=1.0, steps=800).W
    assert W.shape == (5, 3)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=0.05)
    np.testing.assert_allclose(feature_dimensionality(W), 1.0, atol=0.02)


@pytest.mark.parametrize("kwargs", [
    dict(sparsity=1.0), dict(sparsity=-0.1), dict(importance=-0.5), dict(importance=[1.0, np.nan, 1, 1, 1]),
    dict(n_features=0), dict(n_hidden=0), dict(steps=0), dict(batch_size=0), dict(lr=0.0), dict(n_restarts=0),
    dict(importance=[1.0, 2.0]), dict(sparsity=[0.1, 0.2]), dict(seed=-1),
])
def test_bad_arguments_raise_input_error(kwargs):
    with pytest.raises(ProbingInputError):
        train_toy_model(**{"steps": 10, **kwargs})


def test_bad_matrices_raise_input_error():
    for W in (np.zeros(3), np.zeros((2, 0)), np.array([[np.nan, 1.0]])):
        with pytest.raises(ProbingInputError):
            feature_dimensionality(W)


def test_sparsity_sweep_packs_more_features_as_sparsity_grows():
    sweep = sparsity_sweep((0.0, 0.95), n_features=10, n_hidden=3, importance=0.8, steps=1000)
    summary = sweep.summary()
    assert summary["n_represented"].iloc[0] == 3
    assert summary["n_represented"].iloc[1] > 4
    assert summary["dimensions_per_feature"].iloc[1] < summary["dimensions_per_feature"].iloc[0]
    assert len(sweep.to_frame()) == 20


def test_phase_diagram_corners_and_round_trip(tmp_path):
    diagram = phase_diagram(n_points=3, steps=1000, n_restarts=2)  # densities 1, 0.1, 0.01; importance 0.1, 1, 10
    phase = np.asarray(PHASES)[diagram.phase]
    assert phase[0, 0] == "not represented" and phase[0, 2] == "dedicated"
    assert phase[2, 1] == "superposed"
    diagram.save(tmp_path / "phase.npz")
    loaded = PhaseDiagram.load(tmp_path / "phase.npz")
    np.testing.assert_array_equal(loaded.phase, diagram.phase)
    assert list(loaded.to_frame().columns) == list(diagram.to_frame().columns)


def test_classify_phase_thresholds_each_norm_strictly():
    names = {name: i for i, name in enumerate(PHASES)}
    norms = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.1, 0.1], [0.5, 0.5], [0.5001, 0.5001], [0.5, 0.5001]])
    expected = ["not represented", "dedicated", "superposed", "not represented", "not represented", "superposed",
                "dedicated"]
    np.testing.assert_array_equal(classify_phase(norms), [names[e] for e in expected])
    np.testing.assert_array_equal(classify_phase(norms, threshold=0.05), [names["superposed"]] * 7)
    np.testing.assert_array_equal(classify_phase(norms, threshold=0.95), [names["not represented"]] * 7)
    grid = classify_phase(norms[:6].reshape(2, 3, 2))
    assert grid.shape == (2, 3)
    np.testing.assert_array_equal(grid.ravel(), [names[e] for e in expected[:6]])


def test_shipped_phase_diagram_is_what_the_script_computes():
    """Recompute data/superposition_phase.npz with scripts/make_phase_diagram.py's parameters (~15-70 s)."""
    shipped = PhaseDiagram.load(DATA_DIR / "superposition_phase.npz")
    fresh = phase_diagram(n_points=20)
    np.testing.assert_array_equal(shipped.sparsities, fresh.sparsities)
    np.testing.assert_array_equal(shipped.relative_importance, fresh.relative_importance)
    np.testing.assert_array_equal(shipped.phase, fresh.phase)
    np.testing.assert_allclose(shipped.norms, fresh.norms, atol=1e-3)  # float32 training; thread count varies


def test_shipped_phase_diagram_has_all_three_phases():
    diagram = PhaseDiagram.load(DATA_DIR / "superposition_phase.npz")
    assert diagram.phase.shape == (20, 20)
    assert set(np.unique(diagram.phase)) == {0, 1, 2}
    dense = diagram.phase[0]  # densest row: one feature only, the more important one
    assert np.all(dense[diagram.relative_importance < 0.8] == 0) and np.all(dense[diagram.relative_importance > 1.25] == 1)


@pytest.mark.parametrize("noise", [0.5, 1.0])
def test_isolated_accuracy_is_what_a_lone_concept_reaches(noise):
    """Phi(signal / noise) against the held-out accuracy measured on one concept alone (6,000 test samples)."""
    alone = probe_interference(n_concepts=1, d=8, n_samples=20_000, noise=noise, seed=1)
    assert alone.isolated_accuracy == pytest.approx({0.5: 0.97725, 1.0: 0.84134}[noise], abs=1e-5)
    standard_error = np.sqrt(alone.isolated_accuracy * (1 - alone.isolated_accuracy) / 6000)
    assert abs(alone.accuracy[0] - alone.isolated_accuracy) < 4 * standard_error + 0.005, alone.accuracy


def test_interference_costs_probe_accuracy():
    packed = probe_interference(n_concepts=20, d=8, n_samples=2000, noise=0.3, seed=0)
    assert packed.rank_correlation < -0.5
    assert packed.accuracy.max() < packed.isolated_accuracy
    orthogonal = probe_interference(n_concepts=6, d=8, n_samples=2000, noise=0.3, seed=0)
    assert orthogonal.total_interference.max() < 1e-12
    assert orthogonal.accuracy.min() > 0.98 and orthogonal.probe_alignment.min() > 0.95
    pair = probe_interference(n_concepts=2, d=3, concept_cosine=0.6, noise=0.7, seed=0)
    np.testing.assert_allclose(pair.max_interference, 0.6, atol=1e-9)
    assert len(pair.to_frame()) == 2
    with pytest.raises(ProbingInputError):
        probe_interference(test_fraction=1.0)
