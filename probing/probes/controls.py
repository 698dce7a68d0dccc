"""Control tasks and the notes a sweep attaches to its numbers.

A control task (Hewitt & Liang 2019) gives every input *type* (a word, a token, a
``pair_id``) one random class. A probe that does well on it has memorised types, so the
gap between the real accuracy and the control accuracy (selectivity) shows what the layer
encodes beyond memorisation. This only works when types *repeat*: a type seen in training
must come back in the held-out rows. When every input is its own type (a sentence
dataset), the fallback control (shuffled labels) is at chance on held-out rows by
construction and selectivity is just accuracy minus chance; MDL (online codelength)
measures probe complexity instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TYPE_COLUMNS = ("type", "word", "token", "text")
"""Columns :func:`control_labels` uses as input types when none is named (the first present that repeats)."""
SHUFFLED = "shuffled labels"
"""``kind`` of the fallback control: it cannot measure memorisation."""


def type_columns(labels: dict, meta: pd.DataFrame | None, min_share: float = 0.05) -> list[str]:
    """Label and meta columns that can serve as control types, most distinct values first.

    A type column names input identities (a word, a ``pair_id``): some values repeat, and
    there are at least ``min_share * n`` distinct values (a missing or empty value counts as
    a type of its own, see :func:`identities`). A column with a handful of values
    (a topic, a source) is a property, not an identity: a probe learns it outright, so a
    control built on it measures that property instead of memorisation.
    """
    columns = {**({str(c): meta[c] for c in meta.columns} if meta is not None else {}), **labels}
    distinct = {name: len(np.unique(identities(values))) for name, values in columns.items()}
    usable = [name for name, values in columns.items()
              if max(2, min_share * len(values)) <= distinct[name] < len(values)]
    return sorted(usable, key=lambda name: -distinct[name])


def control_labels(codes: np.ndarray, n_classes: int, meta: pd.DataFrame | None = None, seed=0,
                   type_column: str | None = None) -> tuple[np.ndarray, str]:
    """Control-task labels (Hewitt & Liang): random labels tied to input identity.

    When ``meta`` has a column naming each input's type (``type_column``, or the first of
    ``type``, ``word``, ``token``, ``text``) in which some types repeat, every type gets
    one class drawn from the empirical class distribution, so a probe can only succeed
    by memorising types. Otherwise the labels are shuffled (same class balance), kind
    :data:`SHUFFLED`: a reference for chance, not a measure of memorisation.

    Parameters
    ----------
    codes : ndarray of int, shape (n_samples,)
    n_classes : int
    meta : DataFrame, optional
        Candidate type columns (:func:`probing.probes.probe_layers` passes the meta columns
        and the labels).
    seed : int or numpy.random.SeedSequence
        :func:`probing.probes.probe_layers` passes a stream of its own, independent of the permutations'.
    type_column : str, optional

    Returns
    -------
    codes : ndarray of int, shape (n_samples,)
    kind : str
        Description of the control used.
    """
    rng = np.random.default_rng(seed)
    column = control_column(meta, type_column)
    if column is not None:
        types, inverse = np.unique(identities(meta[column]), return_inverse=True)
        prior = np.bincount(codes, minlength=n_classes) / len(codes)
        return rng.choice(n_classes, size=len(types), p=prior)[inverse], f"random class per {column!r} type"
    return rng.permutation(codes), SHUFFLED


def identities(values) -> np.ndarray:
    """Input types as text; a missing or empty value is a type of its own (a row that names no type shares none)."""
    text = pd.Series(np.asarray(values, dtype=object)).astype(str).to_numpy(dtype=object)
    missing = np.isin(text, ["", "nan", "None", "<NA>"])
    text[missing] = [f"\0row {i}" for i in np.flatnonzero(missing)]
    return text.astype(str)


def control_column(meta: pd.DataFrame | None, type_column: str | None = None) -> str | None:
    """The column :func:`control_labels` draws types from: ``type_column`` or the first of
    :data:`TYPE_COLUMNS` in ``meta``, provided some of its values repeat; else ``None``."""
    column = type_column or next((c for c in TYPE_COLUMNS if meta is not None and c in meta.columns), None)
    if column is None or meta is None or column not in meta.columns:
        return None
    return column if len(np.unique(identities(meta[column]))) < len(meta) else None


def sweep_notes(n: int, d: int, cv: int, n_copies: int, control_column: str | None = None,
                group_column: str | None = None) -> list[str]:
    """Warnings for a sweep: memorisation capacity, duplicate rows, a control its folds make uninformative."""
    notes = []
    n_train = n * (cv - 1) // cv
    if n_train <= 2 * d:
        notes.append(f"About {n_train} training samples per fold in d={d} dimensions: a linear probe can separate "
                     f"almost any labelling of fewer than 2d = {2 * d} points (Cover 1965), so it can memorise. Trust "
                     "only held-out numbers: the accuracy's interval against the baseline, the control task when "
                     "input types repeat, or MDL compression; reduce d (PCA) or add samples.")
    if n_copies:
        notes.append(f"{n_copies} of {n} rows are exact copies of other rows (identical at every layer); each set of "
                     "copies is kept in one fold, because a copy in the training rows makes its twin in the test "
                     "rows trivially right. Remove duplicates if they are not intended.")
    if control_column is not None and control_column == group_column:
        notes.append(f"The control task's types ({control_column!r}) are also the fold groups, so no type is seen in "
                     "both training and test rows: the control is at chance by construction and cannot measure "
                     "memorisation. Pick another type column for the control, or read MDL instead.")
    return notes
