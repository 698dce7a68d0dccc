"""CSV and TSV that are safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is read by
Excel, LibreOffice and Google Sheets as a formula: a label such as ``=HYPERLINK("https://evil",
"click")`` typed by one teammate would run on the machine of whoever opens the download. Every
CSV/TSV the app writes goes through :func:`to_csv`, which prefixes such text cells with ``'``
(the spreadsheet convention for "this is text"), as OWASP recommends. Numbers stay numbers: a
numeric column is never touched, and a text cell that is just a number (``-0.5``, ``+3e-2``) is
left as it is, since a spreadsheet reads it as that number and nothing else.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula; anything else as is.

    Examples
    --------
    >>> neutralise('=HYPERLINK("https://evil.example")')
    '\\'=HYPERLINK("https://evil.example")'
    >>> neutralise("-0.5"), neutralise(-0.5), neutralise("plain")
    ('-0.5', -0.5, 'plain')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are :func:`neutralise`-d (numeric columns untouched)."""
    out = df.copy()
    out.columns = [neutralise(name) for name in df.columns]
    for i, dtype in enumerate(df.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            out.isetitem(i, df.iloc[:, i].astype(object).map(neutralise))
    return out


def to_csv(df: pd.DataFrame, sep: str = ",", **kwargs) -> str:
    """``df.to_csv(sep=sep, index=False, **kwargs)`` with formula-like text cells neutralised (:func:`safe_frame`).

    Lines end in ``\r\n`` (RFC 4180) unless ``lineterminator`` says otherwise, so a cell holding a
    carriage return is quoted and cannot start a new row whose first cell is a formula.
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\r\n")
    return safe_frame(df).to_csv(sep=sep, **kwargs)
