"""The bundled datasets: documented schema, balance, no duplicates, and activations that match the texts."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probing import load_activations

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SCRIPTS = ROOT / "scripts"

# name -> (minimum rows, concept label columns, group column, other documented columns); see data/README.md
SCHEMA = {
    "sentiment": (1000, ["label"], None, ["topic", "source", "frame"]),
    "sentiment_tense": (400, ["sentiment", "tense"], "quad_id", ["topic", "frame"]),
    "tense": (400, ["tense"], "pair_id", ["number", "negation", "sentence_type", "aspect", "topic"]),
    "plurality": (400, ["number"], "pair_id", ["tense", "negation", "sentence_type", "aspect", "topic"]),
    "negation": (400, ["negation"], "pair_id", ["tense", "number", "sentence_type", "aspect", "topic"]),
    "question": (400, ["sentence_type"], "pair_id", ["tense", "number", "negation", "aspect", "topic"]),
    "topic": (400, ["topic"], None, ["tense", "number", "negation", "sentence_type", "aspect"]),
}
META_COLUMNS = {"text", "pair_id", "quad_id", "source", "frame"}


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", keep_default_na=False)


def test_every_csv_is_documented():
    assert sorted(p.stem for p in DATA.glob("*.csv")) == sorted(SCHEMA)
    readme = (DATA / "README.md").read_text()
    for name in SCHEMA:
        assert f"`{name}.csv`" in readme


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_csv_schema_balance_and_no_duplicates(name):
    min_rows, concepts, group, others = SCHEMA[name]
    df = _csv(name)
    assert set(df.columns) == {"text", *concepts, *([group] if group else []), *others}
    assert len(df) >= min_rows
    assert (df["text"].str.strip().str.len() > 0).all()
    normalised = df["text"].str.lower().str.split().str.join(" ")
    assert not normalised.duplicated().any(), normalised[normalised.duplicated()].tolist()[:5]
    counts = df.groupby(concepts).size()
    assert counts.min() == counts.max(), counts.to_dict()  # every class (combination) equally often
    assert len(counts) == np.prod([df[c].nunique() for c in concepts]) >= 2


@pytest.mark.parametrize("name", [n for n, s in SCHEMA.items() if s[2]])
def test_groups_differ_only_in_the_concept(name):
    _, concepts, group, others = SCHEMA[name]
    df = _csv(name)
    for _, rows in df.groupby(group):
        assert len(rows) == 2 ** len(concepts)
        assert (rows[others].nunique() == 1).all(), rows
        assert len(rows.drop_duplicates(concepts)) == len(rows)


def test_sentiment_is_varied():
    df = _csv("sentiment")
    assert df["topic"].nunique() >= 10
    assert df.loc[df["source"] == "template", "frame"].nunique() >= 40
    assert (df["source"] == "handwritten").sum() >= 200
    lengths = df["text"].str.split().str.len()
    assert lengths.min() <= 5 and lengths.max() >= 15
    assert df["text"].str.endswith("?").sum() >= 30 and df["text"].str.endswith("!").sum() >= 30
    # negated opposites exist on both sides, so "not" alone does not give the label away
    has_not = df["text"].str.contains(r"\bnot\b|n't\b|\bnever\b", regex=True)
    assert has_not[df["label"] == "positive"].sum() >= 50 and has_not[df["label"] == "negative"].sum() >= 50


def test_csvs_are_what_the_generator_writes():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import make_texts
    finally:
        sys.path.remove(str(SCRIPTS))
    for name, df in make_texts.build_all().items():
        pd.testing.assert_frame_equal(df.astype(str), _csv(name).astype(str), check_dtype=False)


def test_shipped_activations_are_small():
    files = list(DATA.glob("*_minilm.safetensors"))
    assert sorted(p.name.removesuffix("_minilm.safetensors") for p in files) == sorted(SCHEMA)
    assert sum(p.stat().st_size for p in files) < 40 * 2**20


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_shipped_activations_match_csv(name):
    df = _csv(name)
    aset = load_activations(DATA / f"{name}_minilm.safetensors")
    assert aset.shape == (len(df), 7, 384)
    assert aset.acts.dtype == np.float16
    assert aset.layers == ["embeddings"] + [f"block_{k}" for k in range(1, 7)]
    assert aset.meta["text"].tolist() == df["text"].tolist()
    label_columns = [c for c in df.columns if c not in META_COLUMNS]
    assert set(label_columns) <= set(aset.labels)
    for col in label_columns:
        assert aset.labels[col].astype(str).tolist() == df[col].astype(str).tolist(), col
    assert set(SCHEMA[name][1]) <= set(aset.categorical_labels())


def test_default_dataset_has_the_default_label():
    aset = load_activations(DATA / "sentiment_minilm.safetensors")
    assert aset.name == "sentiment"
    assert "label" in aset.categorical_labels()
    assert sorted(set(aset.labels["label"])) == ["negative", "positive"]


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_shipped_activations_match_fresh_extraction(name):
    from probing.extract import extract_activations

    aset = load_activations(DATA / f"{name}_minilm.safetensors")
    inner = np.random.default_rng(sorted(SCHEMA).index(name)).choice(np.arange(1, aset.n_samples - 1), 3, replace=False)
    rows = np.sort([0, *inner, aset.n_samples - 1])  # first, last and three seeded rows of every dataset
    fresh = extract_activations(aset.meta["text"].iloc[rows].tolist(), pooling="mean")
    shipped = np.asarray(aset.acts[rows], dtype=np.float32)
    np.testing.assert_allclose(shipped, fresh.acts, rtol=2e-3, atol=1e-3 * np.abs(fresh.acts).mean())
