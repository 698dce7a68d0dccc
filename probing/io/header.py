"""The ``probing`` header every writer stores and every reader decodes.

Beside the arrays, a file saved by :func:`probing.save_activations` holds a JSON header
(``__probing__``): layer names, name, label dtypes and text classes, ``meta`` columns and
``attrs`` (provenance). These helpers encode and decode the parts that need it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def decode_labels(labels: dict, specs: dict) -> dict:
    """Undo :func:`save_activations`' encoding: class codes back to text, original dtypes."""
    out = dict(labels)
    for key, spec in specs.items():
        values = labels[key]
        if "classes" in spec:
            values = np.asarray(spec["classes"], dtype=str)[values]
            if np.dtype(spec["dtype"]).kind == "S":
                values = np.char.encode(values, "latin-1")
        out[key] = values.astype(spec["dtype"])
    return out


def encode_meta(meta: pd.DataFrame) -> list:
    """Meta as JSON-ready columns: name, dtype and values (numbers exact; other types as text)."""
    columns = []
    for col in meta.columns:
        column = meta[col]
        if column.dtype.kind not in "biufO" and not pd.api.types.is_string_dtype(column):
            column = column.astype(str)
        values = [v.item() if isinstance(v, np.generic) else v for v in column.tolist()]
        values = [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in values]
        if column.dtype.kind == "O":
            values = [v if v is None or isinstance(v, (str, int, float, bool)) else str(v) for v in values]
        columns.append({"name": col if isinstance(col, (str, int)) else str(col), "dtype": str(column.dtype),
                        "values": values})
    return columns


def decode_meta(columns: list, n: int) -> pd.DataFrame:
    """Undo :func:`encode_meta`: a DataFrame of ``n`` rows with the stored columns and dtypes."""
    meta = pd.DataFrame(index=pd.RangeIndex(n))
    for column in columns:
        meta[column["name"]] = pd.Series(column["values"], dtype=column["dtype"])
    return meta


def source_attrs(file: str, fmt: str, **extra) -> dict:
    """The ``attrs`` of a set read from a file that stores none: ``{"source": {"file", "format", ...}}``.

    ``file`` is the file's name (never a full server path), ``fmt`` what it was read as.
    """
    return {"source": {"file": str(file), "format": fmt, **extra}}


def stored_attrs(header: dict | None, file: str, fmt: str) -> dict:
    """The ``attrs`` saved in a ``__probing__`` header, exactly; :func:`source_attrs` for files without."""
    if header and isinstance(header.get("attrs"), dict):
        return header["attrs"]
    return source_attrs(file, fmt)
