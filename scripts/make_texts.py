"""Write the bundled labelled text datasets under ``data/`` (deterministic; seeded).

Run ``python scripts/make_texts.py``; it rewrites ``data/<name>.csv``. Every sentence is
created here, by the team: hand-written sentences, or sentences composed from
hand-written frames and vocabularies. Nothing is scraped or downloaded. See
``data/README.md`` for the schema and provenance of each file.

* ``sentiment``: 1,200 sentences, 600 positive and 600 negative, 15 topics; hand-written
  sentences plus sentences from 58 frames (statements, exclamations, questions,
  comparisons, negated opposites, imperatives, fragments) in :mod:`sentiment_lexicon`.
* ``sentiment_tense``: quadruples of one frame and fill rendered positive/negative x
  present/past, so both concepts are balanced and vary independently.
* ``tense``, ``plurality``, ``negation``, ``question``: minimal pairs from a small clause
  grammar (:mod:`clause_grammar`): the two sentences of a pair differ only in the concept;
  the other grammatical features are drawn at random and recorded as columns.
* ``topic``: five topics (food, sport, music, technology, travel) from the same grammar.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import clause_grammar as grammar  # noqa: E402
import sentiment_lexicon as lex  # noqa: E402
from sentiment_handwritten import HANDWRITTEN  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SEED = 20240604


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _topic_for(frame: lex.Frame, rng: np.random.Generator) -> str:
    topics = [t for t in lex.TOPIC_NAMES if t not in frame.avoid]
    return topics[int(rng.integers(len(topics)))]


def make_sentiment(n_per_class: int = 600, seed: int = SEED) -> pd.DataFrame:
    """Hand-written sentences first, then frame sentences until each class has ``n_per_class``."""
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    for topic, by_label in HANDWRITTEN.items():
        for label, texts in by_label.items():
            for text in texts:
                if _key(text) not in seen:
                    seen.add(_key(text))
                    rows.append({"text": text, "label": label, "topic": topic, "source": "handwritten", "frame": ""})
    counts = {label: sum(r["label"] == label for r in rows) for label in lex.LABELS}
    frames = list(lex.FRAMES)
    order = rng.permutation(len(frames))
    step = 0
    while min(counts.values()) < n_per_class:
        frame = frames[order[step % len(frames)]]
        step += 1
        if step % len(frames) == 0:
            order = rng.permutation(len(frames))
        topic = _topic_for(frame, rng)
        tense = ("present", "past")[int(rng.integers(2))]
        u = lex.draw(rng)
        for label in lex.LABELS:
            if counts[label] >= n_per_class:
                continue
            text = lex.render(frame, label, topic, tense, u)
            if _key(text) in seen:
                continue
            seen.add(_key(text))
            counts[label] += 1
            rows.append({"text": text, "label": label, "topic": topic, "source": "template", "frame": frame.name})
    df = pd.DataFrame(rows)
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def make_sentiment_tense(n_quads: int = 200, seed: int = SEED + 1) -> pd.DataFrame:
    """``n_quads`` fills of tensed frames, each rendered positive/negative x present/past."""
    rng = np.random.default_rng(seed)
    frames = [f for f in lex.FRAMES if f.tensed]
    rows, seen, quad = [], set(), 0
    while quad < n_quads:
        frame = frames[quad % len(frames)] if quad < len(frames) else frames[int(rng.integers(len(frames)))]
        topic = _topic_for(frame, rng)
        u = lex.draw(rng)
        texts = {(s, t): lex.render(frame, s, topic, t, u) for s in lex.LABELS for t in ("present", "past")}
        keys = {_key(x) for x in texts.values()}
        if len(keys) < 4 or keys & seen:
            continue
        seen |= keys
        rows += [{"text": text, "sentiment": s, "tense": t, "topic": topic, "quad_id": quad, "frame": frame.name}
                 for (s, t), text in texts.items()]
        quad += 1
    return pd.DataFrame(rows)


def make_pairs(concept: str, n_pairs: int, seed: int) -> pd.DataFrame:
    """Minimal pairs that differ only in ``concept`` (tense, number, negation or sentence_type)."""
    rng = np.random.default_rng(seed)
    values = grammar.CONCEPT_VALUES[concept]
    rows, seen, pair = [], set(), 0
    while pair < n_pairs:
        features = grammar.random_features(rng)
        clause = grammar.random_clause(rng)
        texts = [grammar.render(clause, {**features, concept: v}) for v in values]
        keys = {_key(t) for t in texts}
        if len(keys) < 2 or keys & seen:
            continue
        seen |= keys
        for value, text in zip(values, texts):
            rows.append({"text": text, concept: value, "pair_id": pair,
                         **{k: features[k] for k in grammar.RECORDED if k != concept}, "topic": clause.topic})
        pair += 1
    return pd.DataFrame(rows)


def make_topic(n_per_class: int = 120, seed: int = SEED + 6) -> pd.DataFrame:
    """``n_per_class`` grammar sentences per topic with random tense, number, negation and type."""
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    for topic in grammar.TOPICS:
        count = 0
        while count < n_per_class:
            features = grammar.random_features(rng)
            text = grammar.render(grammar.random_clause(rng, topic), features)
            if _key(text) in seen:
                continue
            seen.add(_key(text))
            rows.append({"text": text, "topic": topic, **{k: features[k] for k in grammar.RECORDED}})
            count += 1
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def build_all() -> dict[str, pd.DataFrame]:
    """Every bundled dataset by name."""
    return {
        "sentiment": make_sentiment(),
        "sentiment_tense": make_sentiment_tense(),
        "tense": make_pairs("tense", 300, SEED + 2),
        "plurality": make_pairs("number", 250, SEED + 3),
        "negation": make_pairs("negation", 250, SEED + 4),
        "question": make_pairs("sentence_type", 250, SEED + 5),
        "topic": make_topic(),
    }


def main() -> None:
    DATA_DIR.mkdir(exist_ok=True)
    for name, df in build_all().items():
        df.to_csv(DATA_DIR / f"{name}.csv", index=False)
        print(f"{name:16s} {len(df):5d} rows  columns: {', '.join(df.columns)}")


if __name__ == "__main__":
    main()
