"""Results as documents: the tables, the dataset, the parameters and the versions that made them.

The dashboard's "Save this result" and the command line's ``probing sweep --workspace`` store
the same payload (:func:`result_payload`) in the workspace, so a sweep run as a batch job is
listed and opened on the Data page like one run from the Probes page.
"""

from __future__ import annotations

import json

import pandas as pd

from probing.data import ActivationSet
from probing.provenance import package_versions, to_json


def json_ready(obj):
    """``obj`` with numpy values turned into plain JSON values (NaN becomes ``None``)."""
    return json.loads(to_json(obj, allow_nan=True).replace("NaN", "null"))


def dataset_info(aset: ActivationSet) -> dict:
    """The dataset a result was computed on: ``{"name", "fingerprint", "shape"}``."""
    return {"name": aset.name, "fingerprint": aset.fingerprint, "shape": list(aset.shape)}


def table_records(table: pd.DataFrame | list) -> list[dict]:
    """A table as JSON records (NaN becomes ``null``, numpy scalars plain numbers); records pass through."""
    if isinstance(table, pd.DataFrame):
        return json.loads(table.to_json(orient="records", double_precision=15, default_handler=str))
    return list(table)


def result_payload(tables: dict[str, pd.DataFrame], aset: ActivationSet) -> dict:
    """What the workspace stores for a result: the tables as records, the dataset and the versions."""
    return {"tables": {name: table_records(t) for name, t in tables.items()}, "dataset": dataset_info(aset),
            "versions": package_versions()}


def payload_tables(payload: dict | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of a stored payload (as :func:`result_payload` made it, or one DataFrame)."""
    if isinstance(payload, pd.DataFrame):
        return {"result": payload}
    tables = payload.get("tables") if isinstance(payload.get("tables"), dict) else {}
    return {name: pd.DataFrame.from_records(records) for name, records in tables.items()}
