"""Extract MiniLM activations for every bundled CSV: ``data/<name>.csv`` -> ``data/<name>_minilm.safetensors``.

Run ``python scripts/make_bundled.py [name ...]`` (default: every CSV in ``data/``).
Each file holds the mean-pooled hidden states of all-MiniLM-L6-v2 at all 7 layers as
float16, every label column of the CSV as a string label, ``text`` (plus group ids and
provenance columns) in ``meta``, and in ``attrs`` the extraction record (model, pooling,
max_length, hidden states) plus the source CSV. See ``data/README.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probing import ActivationSet, save_activations  # noqa: E402
from probing.extract import extract_activations  # noqa: E402

DATA_DIR = ROOT / "data"
SUFFIX = "_minilm.safetensors"
META_COLUMNS = ("text", "pair_id", "quad_id", "source", "frame")


def bundled_csvs() -> dict[str, Path]:
    """The bundled text datasets by name (``data/<name>.csv``)."""
    return {p.stem: p for p in sorted(DATA_DIR.glob("*.csv"))}


def labels_and_meta(df: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Split a bundled CSV into string labels (every other column) and ``meta`` (:data:`META_COLUMNS`)."""
    labels = {col: df[col].astype(str).to_numpy(dtype=str) for col in df.columns if col not in META_COLUMNS}
    if "label" in labels and "sentiment" not in labels:
        labels["sentiment"] = labels["label"]
    meta = df[[c for c in META_COLUMNS if c in df.columns]].copy()
    if "frame" in meta:
        meta["frame"] = meta["frame"].fillna("")
    return labels, meta


def bundled_attrs(extraction: dict, name: str) -> dict:
    """The ``attrs`` of a bundled file: how it was extracted, from which CSV, stored as float16."""
    return {**extraction, "source": {"file": f"data/{name}.csv", "format": "csv"}, "stored_dtype": "float16"}


def make_bundled(name: str, batch_size: int = 64) -> ActivationSet:
    """Extract and save ``data/<name>_minilm.safetensors`` from ``data/<name>.csv``; return what was saved."""
    df = pd.read_csv(DATA_DIR / f"{name}.csv")
    labels, meta = labels_and_meta(df)
    fresh = extract_activations(df["text"].tolist(), pooling="mean", batch_size=batch_size)
    aset = ActivationSet(fresh.acts.astype(np.float16), fresh.layers, labels, meta, name=name,
                         attrs=bundled_attrs(fresh.attrs, name))
    save_activations(aset, DATA_DIR / f"{name}{SUFFIX}")
    return aset


def main(names: list[str]) -> None:
    for name in names or bundled_csvs():
        start = time.perf_counter()
        aset = make_bundled(name)
        size = (DATA_DIR / f"{name}{SUFFIX}").stat().st_size / 2**20
        print(f"{name:16s} {aset.shape} {size:5.1f} MiB  labels: {', '.join(aset.labels)}  "
              f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
