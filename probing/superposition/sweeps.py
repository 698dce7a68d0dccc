"""Sweeps of toy models of superposition, each trained as one vectorised run.

- :func:`sparsity_sweep` -- the paper's n=20, m=5 model at several sparsities: as
  features get sparser, more of them are packed into the same 5 dimensions.
- :func:`phase_diagram` -- the paper's n=2, m=1 phase diagram over sparsity x the
  relative importance of the second feature: not represented, dedicated, or superposed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.superposition.toy_model import Progress, ToyModel, dimensions_per_feature, n_represented, train_toy_model

PHASES = ("not represented", "dedicated", "superposed")
PAPER_SPARSITIES = (0.0, 0.7, 0.9, 0.97, 0.99, 0.999)


@dataclass(frozen=True)
class SparsitySweep:
    """Toy models trained at several sparsities (one vectorised run).

    Attributes
    ----------
    sparsities : ndarray of shape (n_sparsities,)
    model : ToyModel
        Stacked, one instance per sparsity.
    """

    sparsities: np.ndarray
    model: ToyModel

    def to_frame(self) -> pd.DataFrame:
        """One row per (sparsity, feature): norm, dimensionality, bias, importance, loss."""
        return self.model.to_frame().drop(columns="instance")

    def summary(self) -> pd.DataFrame:
        """One row per sparsity: features represented, the paper's dimensions per feature, loss."""
        W = self.model.W
        return pd.DataFrame({"sparsity": self.sparsities, "density": 1.0 - self.sparsities,
                             "n_represented": n_represented(W), "dimensions_per_feature": dimensions_per_feature(W),
                             "loss": self.model.loss})


def sparsity_sweep(sparsities=PAPER_SPARSITIES, n_features: int = 20, n_hidden: int = 5, importance=0.7,
                   steps: int = 2000, batch_size: int = 1024, lr: float = 2e-2, seed: int = 0, n_restarts: int = 1,
                   progress: Progress = None) -> SparsitySweep:
    """The paper's sweep: the same model trained at several sparsities, all in one vectorised run.

    With the defaults (n=20, m=5, importance 0.7) the dense model keeps the 5 most
    important features, one dimension each; as sparsity grows more features are packed
    into the 5 dimensions and the dimensions per feature fall below 1.

    Parameters
    ----------
    sparsities : sequence of float in [0, 1)
    n_features, n_hidden, importance, steps, batch_size, lr, seed, n_restarts, progress
        As in :func:`train_toy_model`.

    Returns
    -------
    SparsitySweep
    """
    sparsities = np.asarray(sparsities, dtype=np.float64).ravel()
    if len(sparsities) == 0:
        raise ProbingInputError("sparsities is empty; give at least one sparsity in [0, 1), e.g. (0, 0.9, 0.99).")
    model = train_toy_model(n_features, n_hidden, sparsities, importance, steps, batch_size, lr,
                            np.full(len(sparsities), seed), len(sparsities), n_restarts, progress)
    if len(sparsities) == 1:
        model = ToyModel(model.W[None], model.b[None], np.array([model.loss]), model.loss_curve[None],
                         model.curve_steps, sparsities, model.importance[None], np.array([seed]))
    return SparsitySweep(sparsities, model)


@dataclass(frozen=True)
class PhaseDiagram:
    """What a 1-D model does with a second feature, over sparsity x its relative importance.

    Feature 0 has importance 1, feature 1 ("the extra feature") importance ``r``. Each
    cell is *not represented* (only feature 0 kept), *dedicated* (feature 1 gets the
    dimension) or *superposed* (both kept, as an antipodal pair).

    Attributes
    ----------
    sparsities : ndarray of shape (n_sparsities,)
    relative_importance : ndarray of shape (n_importances,)
    norms : ndarray of shape (n_sparsities, n_importances, 2)
        ``|W_0|``, ``|W_1|`` of the trained model in each cell.
    phase : ndarray of shape (n_sparsities, n_importances)
        Index into :data:`PHASES`.
    """

    sparsities: np.ndarray
    relative_importance: np.ndarray
    norms: np.ndarray
    phase: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: sparsity, density, relative importance, both norms, phase name."""
        s, r = np.meshgrid(self.sparsities, self.relative_importance, indexing="ij")
        return pd.DataFrame({"sparsity": s.ravel(), "density": 1.0 - s.ravel(), "relative_importance": r.ravel(),
                             "norm_0": self.norms[..., 0].ravel(), "norm_1": self.norms[..., 1].ravel(),
                             "phase": np.asarray(PHASES)[self.phase.ravel()]})

    def save(self, path) -> None:
        """Write the diagram to an ``.npz`` file (no pickle)."""
        np.savez_compressed(path, sparsities=self.sparsities, relative_importance=self.relative_importance,
                            norms=self.norms, phase=self.phase)

    @classmethod
    def load(cls, path) -> "PhaseDiagram":
        """Read a diagram written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            return cls(f["sparsities"], f["relative_importance"], f["norms"], f["phase"])

    def plot(self, height: int = 380):
        """The Superposition page's phase diagram (see :func:`probing.charts.phase_diagram_chart`)."""
        from probing import charts

        return charts.phase_diagram_chart(self, PHASES, height=height)


def classify_phase(norms, threshold: float = 0.5) -> np.ndarray:
    """Phase index (see :data:`PHASES`) from the two feature norms, array of shape (..., 2)."""
    kept = np.asarray(norms) > threshold
    return np.where(kept.all(axis=-1), 2, np.where(kept[..., 1], 1, 0))


def phase_diagram(n_points: int = 20, min_density: float = 0.01, importance_range=(0.1, 10.0), steps: int = 2000,
                  batch_size: int = 256, lr: float = 2e-2, seed: int = 0, n_restarts: int = 4,
                  progress: Progress = None) -> PhaseDiagram:
    """The paper's n=2, m=1 phase diagram: all ``n_points ** 2`` models trained in one vectorised run.

    Parameters
    ----------
    n_points : int
        Grid size along each axis.
    min_density : float in (0, 1]
        Densities ``1 - sparsity`` are log-spaced from 1 down to this.
    importance_range : (float, float)
        Relative importance of the extra feature, log-spaced over this range.
    steps, batch_size, lr, seed, n_restarts, progress
        As in :func:`train_toy_model`.

    Returns
    -------
    PhaseDiagram
    """
    low, high = importance_range
    if int(n_points) != n_points or n_points < 1 or not 0 < min_density <= 1 or not 0 < low <= high:
        raise ProbingInputError(f"Need n_points >= 1, 0 < min_density <= 1 and 0 < low <= high importance; got "
                                f"n_points={n_points}, min_density={min_density}, importance_range={importance_range}.")
    sparsities = 1.0 - np.geomspace(1.0, min_density, n_points)
    relative = np.geomspace(low, high, n_points)
    s, r = np.meshgrid(sparsities, relative, indexing="ij")
    weights = np.stack([np.ones(r.size), r.ravel()], axis=1)
    model = train_toy_model(2, 1, s.ravel(), weights, steps, batch_size, lr, np.full(s.size, seed), s.size,
                            n_restarts, progress)
    norms = np.abs(model.W.reshape(n_points, n_points, 2))
    return PhaseDiagram(sparsities, relative, norms, classify_phase(norms))
