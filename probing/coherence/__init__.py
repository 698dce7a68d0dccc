"""Mutual coherence of a set of directions against the Welch bound, and what it costs a probe.

- :mod:`probing.coherence.bounds` -- :func:`mutual_coherence`, :func:`welch_bound`, the
  report (histogram, most coherent pairs, random baseline), Gram matrix and babel function,
  computed in blocks so millions of directions fit in memory.
- :mod:`probing.coherence.experiment` -- :func:`coherence_vs_accuracy`: how probe accuracy
  falls as two planted concepts' directions overlap.
"""

from probing.coherence.bounds import (DEFAULT_BLOCK_ROWS, CoherenceReport, Progress, babel, block_pairs,
                                      coherence_report, gram, mutual_coherence, random_coherence, welch_bound)
from probing.coherence.experiment import coherence_vs_accuracy

__all__ = ["DEFAULT_BLOCK_ROWS", "CoherenceReport", "Progress", "babel", "block_pairs", "coherence_report",
           "coherence_vs_accuracy", "gram", "mutual_coherence", "random_coherence", "welch_bound"]
