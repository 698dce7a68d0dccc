"""probing: what is linear in a model's activations.

The numerical package behind the dashboard. It never imports streamlit or torch at
import time; torch is imported only by :mod:`probing.extract` and the ``.pt`` loader.
"""

from probing.errors import ProbingInputError
from probing.data import ActivationSet
from probing.io.dispatch import load_activations, save_activations
from probing.version import __version__

__all__ = ["ActivationSet", "ProbingInputError", "__version__", "load_activations", "save_activations"]
