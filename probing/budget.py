"""The memory budget that decides how many rows every chunked pass reads at once.

``PROBING_MEMORY_BUDGET`` (environment) sets it: a number of bytes or a size with a
unit (``"1GB"``, ``"512MiB"``, ``"2e9"``). The default is an eighth of the machine's
RAM (at least 256 MiB), so a hosted dashboard serving a few users at once stays well
inside memory. Every streaming loop in :mod:`probing` asks :func:`chunk_rows` how many
rows of a given per-row cost fit in its share of the budget; the fixed costs of an
analysis (e.g. the ``d x d`` scatter matrices of a probe sweep) come on top and are
reported by the benchmark (``benchmarks/bench_scale.py``).
"""

from __future__ import annotations

import os
import re

from probing.errors import ProbingInputError

ENV = "PROBING_MEMORY_BUDGET"
CHUNK_SHARE = 8
"""A chunk's working set may use ``budget / CHUNK_SHARE``: room for the fixed costs and a read-ahead."""
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as ``"1GB"``, ``"512 MiB"``, ``"2e9"`` or ``"1048576"``."""
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ProbingInputError(f"{ENV} must be a size like '1GB', '512MiB' or a number of bytes; got {text!r}.")
    return int(float(match.group(1)) * _UNITS[unit])


def total_ram() -> int:
    """Physical memory of this machine in bytes (8 GiB when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_budget() -> int:
    """The memory budget in bytes: ``PROBING_MEMORY_BUDGET``, else max(RAM / 8, 256 MiB)."""
    raw = os.environ.get(ENV, "").strip()
    budget = parse_size(raw) if raw else max(total_ram() // 8, 256 * 2**20)
    if budget < 2**20:
        raise ProbingInputError(f"{ENV} of {budget} bytes is too small to hold even one chunk; use at least '16MB'.")
    return budget


def chunk_rows(row_bytes: int, share: int = CHUNK_SHARE, minimum: int = 16) -> int:
    """Rows per chunk so that ``rows * row_bytes`` fits in ``memory_budget() / share``.

    Parameters
    ----------
    row_bytes : int
        Working-set bytes one row costs in the loop (its float64 copies and temporaries).
    share : int
        The loop may use this fraction ``1/share`` of the budget.
    minimum : int
        Fewest rows per chunk, whatever the budget.
    """
    return max(minimum, memory_budget() // (share * max(int(row_bytes), 1)))

