"""Superposition: toy models that pack n features into m < n dimensions (Elhage et al. 2022).

- :mod:`probing.superposition.toy_model` -- :func:`train_toy_model`, feature dimensionality,
  interference.
- :mod:`probing.superposition.sweeps` -- sparsity sweeps and the phase diagram.
- :mod:`probing.superposition.interference` -- what superposition costs a linear probe on
  embeddings with more planted concepts than dimensions. It needs scikit-learn and
  scipy.stats (about a second to import), so it is imported on first use of its names.
"""

from probing.superposition.sweeps import (PAPER_SPARSITIES, PHASES, PhaseDiagram, SparsitySweep, classify_phase,
                                          phase_diagram, sparsity_sweep)
from probing.superposition.toy_model import (ToyModel, dimensions_per_feature, feature_dimensionality,
                                             importance_weights, interference_matrix, n_represented,
                                             train_toy_model)

__all__ = ["PAPER_SPARSITIES", "PHASES", "InterferenceResult", "PhaseDiagram", "SparsitySweep", "ToyModel",
           "classify_phase", "dimensions_per_feature", "feature_dimensionality", "importance_weights",
           "interference_matrix", "n_represented", "phase_diagram", "probe_interference", "sparsity_sweep",
           "train_toy_model"]


def __getattr__(name: str):
    """``InterferenceResult`` and ``probe_interference``, imported from their module on first use."""
    if name in ("InterferenceResult", "probe_interference"):
        from probing.superposition import interference

        return getattr(interference, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
