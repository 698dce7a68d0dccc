"""Linear probes: is a concept linearly decodable from a layer, and how much of that is the probe?

The public entry points live here; the pieces are split by concern:

- :mod:`probing.probes.closed_form` -- shrinkage LDA and the mean difference solved from
  class moments (numpy and scipy only).
- :mod:`probing.probes.estimator` -- :class:`LinearProbe` (a scikit-learn estimator) and
  :func:`fit_probe`, solved in closed form from moments (LDA, mean difference) or by
  logistic regression.
- :mod:`probing.probes.sweep` -- :func:`probe_layers`: cross-validated probes at every
  layer from one pass of moments, with a control task (selectivity), fold spread,
  confidence intervals and permutation p-values; returns a :class:`ProbeSweep`.
- :mod:`probing.probes.scoring` -- the sweep's held-out pass.
- :mod:`probing.probes.folds` -- folds that keep groups (``pair_id``) and exact duplicates together.
- :mod:`probing.probes.controls` -- control tasks (which columns can serve as types) and sweep notes.
- :mod:`probing.probes.mdl` -- :func:`mdl_probe`: online-code minimum description length.
"""

import importlib

from probing.probes.closed_form import METHODS
from probing.probes.controls import control_labels, type_columns
from probing.probes.sweep import ProbeSweep, probe_layers

_LAZY = {"LinearProbe": "probing.probes.estimator", "fit_probe": "probing.probes.estimator",
         "MDLResult": "probing.probes.mdl", "mdl_probe": "probing.probes.mdl"}
"""Names whose modules import scikit-learn: loaded on first use, so a sweep page opens without it."""

__all__ = ["METHODS", "LinearProbe", "MDLResult", "ProbeSweep", "control_labels", "fit_probe", "mdl_probe",
           "probe_layers", "type_columns"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'probing.probes' has no attribute {name!r}")
