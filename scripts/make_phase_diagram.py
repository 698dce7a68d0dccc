"""Precompute the n=2, m=1 superposition phase diagram shipped as data/superposition_phase.npz.

Run from the repository root: ``.venv/bin/python scripts/make_phase_diagram.py``. The
Superposition page loads this file instantly and can recompute it live.
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probing.superposition.sweeps import phase_diagram  # noqa: E402

if __name__ == "__main__":
    start = time.perf_counter()
    diagram = phase_diagram(n_points=20)
    diagram.save(ROOT / "data" / "superposition_phase.npz")
    print(f"20 x 20 phase diagram in {time.perf_counter() - start:.1f} s -> data/superposition_phase.npz")
    print(diagram.to_frame().phase.value_counts().to_string())
