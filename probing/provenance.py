"""Where things came from, written as JSON: package versions and the one JSON encoder.

:func:`package_versions` is what every saved result and probe sweep records, with one
spelling per package (``scikit-learn``, not ``sklearn``). :func:`to_json` is the JSON
encoder used for results, share documents and ``ActivationSet.attrs``: numpy scalars and
arrays become plain numbers and lists, timestamps ISO text, paths text; anything else
raises :class:`probing.ProbingInputError` saying what to convert.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import date, datetime
from importlib import metadata
from pathlib import PurePath

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.version import __version__

OPTIONAL_PACKAGES = ("torch", "transformers", "streamlit")
"""Recorded only when already imported by the running process (never imported just to read a version)."""


def package_versions() -> dict[str, str]:
    """Versions of the packages that produced a result.

    Returns
    -------
    dict of str to str
        ``probing``, ``python``, ``numpy``, ``pandas``, ``scikit-learn``, plus ``torch``,
        ``transformers`` and ``streamlit`` when the process has imported them.
    """
    versions = {"probing": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "pandas": pd.__version__, "scikit-learn": metadata.version("scikit-learn")}  # read, not imported
    for package in OPTIONAL_PACKAGES:
        module = sys.modules.get(package)
        if module is not None and hasattr(module, "__version__"):
            versions[package] = str(module.__version__)
    return versions


def json_default(obj):
    """``default=`` hook for :func:`json.dumps`: numpy values, timestamps and paths as plain JSON."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (pd.Timestamp, datetime, date)):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def to_json(obj, what: str = "The value", indent: int | None = None, allow_nan: bool = False) -> str:
    """``obj`` as JSON text, converting numpy values, timestamps and paths.

    Parameters
    ----------
    obj : object
        Dicts, lists, strings, numbers, booleans, ``None``, numpy values, timestamps, paths.
    what : str
        Names ``obj`` in the error message (e.g. ``"A result's params"``).
    indent : int, optional
        Passed to :func:`json.dumps`.
    allow_nan : bool
        Write NaN/Inf as Python's ``json`` does (readable by Python, not strict JSON);
        by default they are refused, so other tools can read the text.

    Raises
    ------
    ProbingInputError
        When ``obj`` holds something else (an object, a set, NaN), saying what to convert.
    """
    try:
        return json.dumps(obj, default=json_default, allow_nan=allow_nan, indent=indent)
    except (TypeError, ValueError) as exc:
        raise ProbingInputError(f"{what} must be JSON-serialisable ({exc}). Convert it to numbers, strings, lists "
                                "or dicts first (arrays with .tolist()"
                                + ("" if allow_nan else "; replace NaN/Inf with None") + ").") from exc
