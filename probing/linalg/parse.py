"""Read a matrix or vector a person typed: ``1 2; 3 4``, one row per line, commas or ``[[1, 2], [3, 4]]``.

Entries are numbers (``-1.5``, ``2e-3``) or simple fractions (``13/14``). Every mistake
raises :class:`probing.ProbingInputError` naming the row and column and saying what to type;
the offending text is quoted in a code span (backticks removed), so a message shown as
markdown renders it literally.
"""

from __future__ import annotations

import re

import numpy as np

from probing.errors import ProbingInputError

MAX_SHAPE = (50, 50)  # a typed matrix larger than this is a file: upload it instead
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(token: str, where: str, what: str) -> float:
    parts = token.split("/")
    if len(parts) <= 2 and all(_NUMBER.match(p) for p in parts):
        denominator = float(parts[1]) if len(parts) == 2 else 1.0
        value = float(parts[0]) / denominator if denominator else float("inf")
        if np.isfinite(value):
            return value
        raise ProbingInputError(f"{what}: `{token}` {where} is not finite (a division by zero?).")
    shown = token.replace("`", "'") if len(token) <= 20 else token[:20].replace("`", "'") + "..."
    raise ProbingInputError(f"{what}: `{shown}` {where} is not a number. Type numbers like 2, -1.5, 3e-2 or 13/14, "
                            "separated by spaces or commas.")


def _rows(text: str) -> list[str]:
    text = re.sub(r"\]\s*,?\s*\[", ";", str(text)).replace("[", " ").replace("]", " ")
    return [row for row in re.split(r"[;\n]", text) if row.strip(" ,\t\r")]


def parse_matrix(text: str, what: str = "A", max_shape: tuple[int, int] = MAX_SHAPE) -> np.ndarray:
    """A typed matrix as a float array of shape ``(m, n)``.

    Parameters
    ----------
    text : str
        Rows separated by ``;`` or new lines, entries by spaces and/or commas;
        ``[[1, 2], [3, 4]]`` works too.
    what : str
        Name used in error messages.
    max_shape : (int, int)
        Largest ``(m, n)`` accepted.

    Returns
    -------
    ndarray of shape (m, n)

    Examples
    --------
    >>> parse_matrix("1 2; 2 4; 3 6")
    array([[1., 2.],
           [2., 4.],
           [3., 6.]])
    """
    rows = _rows(text)
    if not rows:
        raise ProbingInputError(f"{what} is empty. Type its rows, e.g. `1 2; 3 4` or one row per line.")
    if len(rows) > max_shape[0]:
        raise ProbingInputError(f"{what} has {len(rows)} rows; typed matrices are limited to "
                                f"{max_shape[0]} x {max_shape[1]}. Upload a larger one as a file instead.")
    values = []
    for i, row in enumerate(rows, start=1):
        tokens = [t for t in re.split(r"[,\s]+", row.strip()) if t]
        if len(tokens) > max_shape[1]:
            raise ProbingInputError(f"{what} row {i} has {len(tokens)} entries; typed matrices are limited to "
                                    f"{max_shape[0]} x {max_shape[1]}. Upload a larger one as a file instead.")
        values.append([_number(t, f"in row {i}, column {j}", what) for j, t in enumerate(tokens, start=1)])
        if len(values[-1]) != len(values[0]):
            raise ProbingInputError(f"{what} has ragged rows: row 1 has {len(values[0])} entries but row {i} has "
                                    f"{len(values[-1])}. Every row needs the same number of entries.")
    return np.array(values, dtype=np.float64)


def parse_vector(text: str, what: str = "b", length: int | None = None,
                 max_length: int = MAX_SHAPE[0]) -> np.ndarray:
    """A typed vector (entries separated by spaces, commas, ``;`` or new lines) as a 1-D float array.

    Parameters
    ----------
    text : str
    what : str
        Name used in error messages.
    length : int, optional
        Required number of entries (e.g. the number of rows of ``A``).
    max_length : int

    Returns
    -------
    ndarray of shape (length,)
    """
    tokens = [t for t in re.split(r"[,;\s\[\]()]+", str(text)) if t]
    if not tokens:
        raise ProbingInputError(f"{what} is empty. Type its entries, e.g. `1 3 2`.")
    if len(tokens) > max_length:
        raise ProbingInputError(f"{what} has {len(tokens)} entries; typed vectors are limited to {max_length}.")
    vector = np.array([_number(t, f"at position {k}", what) for k, t in enumerate(tokens, start=1)])
    if length is not None and len(vector) != length:
        raise ProbingInputError(f"{what} has {len(vector)} entries but needs {length} (one per row of the matrix).")
    return vector


def format_matrix(M) -> str:
    """A matrix as text :func:`parse_matrix` reads back: one row per line, entries to 10 significant digits."""
    return "\n".join(" ".join(f"{v:.10g}" for v in row) for row in np.atleast_2d(np.asarray(M, dtype=np.float64)))


def format_vector(v) -> str:
    """A vector as text :func:`parse_vector` reads back."""
    return " ".join(f"{x:.10g}" for x in np.asarray(v, dtype=np.float64).ravel())
