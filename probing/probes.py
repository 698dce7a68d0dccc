"""Linear probes: is a concept linearly decodable from a layer, and how much of that is the probe?

The public entry points live here; the pieces are split by concern:

- :mod:`probing.linear_probe` -- :class:`LinearProbe` (a scikit-learn estimator) and
  :func:`fit_probe`, solved in closed form from moments (LDA, mean difference) or by
  logistic regression.
"""

from probing.linear_probe import METHODS, LinearProbe, fit_probe

__all__ = ["METHODS", "LinearProbe", "fit_probe"]
