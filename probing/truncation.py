"""Tables fit to show: long texts cut to a readable length (the full text stays in the data)."""

from __future__ import annotations

import pandas as pd

from probing.errors import ProbingInputError

MAX_CHARS = 300
ELLIPSIS = "…"


def truncate_text(value, max_chars: int = MAX_CHARS):
    """``value`` cut to ``max_chars`` characters with an ellipsis when it is a longer string; other values unchanged."""
    if isinstance(value, str) and len(value) > max_chars:
        return value[:max(max_chars - 1, 0)] + ELLIPSIS
    return value


def truncate_texts(frame: pd.DataFrame, max_chars: int = MAX_CHARS) -> pd.DataFrame:
    """A copy of ``frame`` whose string cells are at most ``max_chars`` characters (longer ones end in ``…``).

    A table of 1 MB texts would otherwise send every character to the browser; show this
    copy and offer one row's full text on demand. Non-text columns are shared, not copied.

    Parameters
    ----------
    frame : pandas.DataFrame
    max_chars : int
        At least 1.

    Returns
    -------
    pandas.DataFrame
        Same index, columns and non-text values.
    """
    if max_chars < 1:
        raise ProbingInputError(f"max_chars must be at least 1; got {max_chars}.")
    out = frame.copy(deep=False)
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda value: truncate_text(value, max_chars))
    return out
