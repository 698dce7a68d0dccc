"""Cross-validation folds that do not leak: stratified, grouped, duplicates kept together.

A held-out accuracy is honest only if no test row has a near-copy in the training rows.
Two kinds of copies are common in probing data:

- *declared groups*: minimal pairs share a ``pair_id``; several tokens of one sentence
  share a sentence id. Splitting a group across folds lets the probe recognise the
  group instead of reading the concept.
- *exact duplicates*: the same input twice (a repeated sentence, a padded batch). A copy
  in the training rows makes its twin in the test rows trivially right.

:func:`fold_groups` turns both into one group per row, and :func:`assign_folds` makes
stratified folds that keep every group in one fold (scikit-learn's
``StratifiedGroupKFold``), or plain stratified folds when no row shares a group
(:func:`stratified_folds`: scikit-learn's ``StratifiedKFold``, without importing it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from probing.budget import chunk_rows
from probing.data import MAX_CLASSES, is_categorical
from probing.errors import ProbingInputError

KEY_VALUES = 32
"""Values per row (at seeded random positions) that key the search for exact duplicates."""
AUTO_GROUP_COLUMNS = ("pair_id",)
"""Columns (labels or meta) that ``groups="auto"`` groups by when a dataset has one."""


def duplicate_rows(acts, seed: int = 0) -> np.ndarray:
    """Group index of each row; rows with identical values at every layer share one.

    Each row is keyed by :data:`KEY_VALUES` of its values at seeded random positions (a
    cheap gather, not a pass over every value); only rows whose keys collide are then read
    in full and grouped by a 128-bit hash of all their values. The hashes are exact
    integer arithmetic on the values' bits, so identical rows always share a group;
    distinct rows share one with probability about ``2**-128``; ``-0.0`` counts as ``0.0``.

    Parameters
    ----------
    acts : array_like of shape (n_samples, n_layers, d)
        Read in chunks of rows (memory maps and lazy stores stay lazy).
    seed : int
        Seeds the key positions and the hashes.

    Returns
    -------
    ndarray of int, shape (n_samples,)
        ``0 .. n_distinct - 1``, in order of first appearance.
    """
    n, n_layers, d = acts.shape
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(n_layers * d, size=min(n_layers * d, KEY_VALUES), replace=False))
    at_layer, at_column = np.divmod(picks, d)
    key_weights = _hash_weights(rng, len(picks), 1)
    row_weights = _hash_weights(rng, n_layers * d, 2)
    rows = chunk_rows(n_layers * d * (acts.dtype.itemsize + 8), minimum=64)
    keys = np.empty((n, 1), dtype=np.uint64)
    for start in range(0, n, rows):
        keys[start:start + rows] = _value_hash(np.asarray(acts[start:start + rows])[:, at_layer, at_column], key_weights)
    _, ids, counts = np.unique(keys[:, 0], return_inverse=True, return_counts=True)
    ids = ids.ravel()
    shared = counts[ids] > 1
    if shared.any():
        full = np.zeros((n, 2), dtype=np.uint64)
        for start in range(0, n, rows):
            local = np.flatnonzero(shared[start:start + rows])
            if local.size:
                block = np.asarray(acts[start:start + rows])[local]
                full[start + local] = _value_hash(block.reshape(len(local), -1), row_weights)
        ids[shared] = len(counts) + np.unique(full[shared], axis=0, return_inverse=True)[1].ravel()
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))  # renumber groups by first appearance
    return rank[inverse.ravel()]


def _hash_weights(rng: np.random.Generator, n_values: int, n_hashes: int) -> np.ndarray:
    """Random odd 64-bit multipliers, shape (n_values, n_hashes)."""
    return rng.integers(1, 2**63, size=(n_values, n_hashes), dtype=np.uint64) | np.uint64(1)


def _value_hash(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(rows, n_hashes)`` hashes of the rows of ``values`` (rows, n_values): their bits times ``weights`` mod 2**64."""
    values = np.ascontiguousarray(values + 0)  # + 0: -0.0 becomes 0.0
    bits = values.view(np.dtype(f"u{values.dtype.itemsize}")).reshape(len(values), -1).astype(np.uint64)
    return bits @ weights  # integer products and sums wrap modulo 2**64: exact, in any order


def resolve_groups(groups, labels: dict, meta: pd.DataFrame | None, n: int) -> tuple[np.ndarray | None, str | None]:
    """The group of each row from ``groups``: ``"auto"``, a label/meta column name, an array, or ``None``.

    Returns
    -------
    codes : ndarray of int (n,) or None
    name : str or None
        The column grouped by (``"array"`` for an array), ``None`` when not grouped.
    """
    columns = {**({c: meta[c].to_numpy() for c in meta.columns} if meta is not None else {}), **labels}
    if isinstance(groups, str) and groups == "auto":
        groups = next((c for c in AUTO_GROUP_COLUMNS if c in columns), None)
    if groups is None:
        return None, None
    if isinstance(groups, str):
        if groups not in columns:
            raise ProbingInputError(f"Unknown group column {groups!r}; available labels and meta columns: "
                                    f"{sorted(map(str, columns)) or 'none'}. Pass groups=None to split rows freely.")
        name, values = groups, columns[groups]
    else:
        name, values = "array", np.asarray(groups)
    if values.shape != (n,):
        raise ProbingInputError(f"groups must have one value per row ({n}); got shape {values.shape}.")
    return np.unique(pd.Series(values).astype(str).to_numpy(), return_inverse=True)[1].ravel(), name


def merge_groups(*codes: np.ndarray | None) -> np.ndarray | None:
    """One group per row joining every grouping given: rows linked by any of them share a group."""
    codes = [c for c in codes if c is not None]
    if not codes:
        return None
    n = len(codes[0])
    rows, cols = [], []
    for c in codes:
        first = np.unique(c, return_index=True)[1]  # the first row of each group links to every member
        rows.append(np.arange(n))
        cols.append(first[np.unique(c, return_inverse=True)[1].ravel()])
    graph = scipy.sparse.coo_matrix((np.ones(n * len(codes)), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def stratified_folds(codes: np.ndarray, cv: int, seed: int = 0) -> np.ndarray:
    """The test fold of each row as scikit-learn's ``StratifiedKFold(cv, shuffle=True, random_state=seed)`` deals them.

    The same algorithm (classes numbered by first appearance, each class dealt round-robin
    over the folds, then shuffled with ``RandomState(seed)``), so the folds are identical,
    without importing scikit-learn on the way to a sweep.

    Parameters
    ----------
    codes : ndarray of int, shape (n_samples,)
        Class of each row; every class needs at least ``cv`` rows.
    cv : int
    seed : int

    Returns
    -------
    ndarray of int, shape (n_samples,), values ``0 .. cv - 1``
    """
    rng = np.random.RandomState(seed)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    encoded = np.unique(first, return_inverse=True)[1].ravel()[inverse.ravel()]  # classes by first appearance
    ordered = np.sort(encoded)
    allocation = np.asarray([np.bincount(ordered[i::cv], minlength=len(first)) for i in range(cv)])
    folds = np.empty(len(codes), dtype=np.int64)
    for k in range(len(first)):
        dealt = np.arange(cv).repeat(allocation[:, k])
        rng.shuffle(dealt)
        folds[encoded == k] = dealt
    return folds


def assign_folds(codes: np.ndarray, cv: int, seed: int = 0, groups: np.ndarray | None = None) -> np.ndarray:
    """Fold of each row: stratified by class, every group in one fold.

    Parameters
    ----------
    codes : ndarray of int, shape (n_samples,)
        Class of each row.
    cv : int
    seed : int
        Shuffles the rows (or groups) before they are dealt to folds.
    groups : ndarray of int, shape (n_samples,), optional
        Group of each row; ``None`` or all-distinct groups give plain stratified folds.

    Returns
    -------
    ndarray of int, shape (n_samples,), values ``0 .. cv - 1``
    """
    n = len(codes)
    if groups is None or len(np.unique(groups)) == n:
        return stratified_folds(codes, cv, seed)
    from sklearn.model_selection import StratifiedGroupKFold  # scikit-learn: only for grouped rows

    n_groups = len(np.unique(groups))
    if n_groups < cv:
        raise ProbingInputError(f"Only {n_groups} groups of rows (copies and declared groups are kept together) "
                                f"for {cv} folds, so some folds would be empty. Use cv <= {n_groups}, or add "
                                "distinct inputs.")
    folds = np.empty(n, dtype=np.int64)
    splits = StratifiedGroupKFold(cv, shuffle=True, random_state=seed).split(np.zeros(n), codes, groups)
    for fold, (_, test) in enumerate(splits):
        folds[test] = fold
    sizes = np.bincount(folds, minlength=cv)
    if sizes.min() == 0:
        raise ProbingInputError(f"Grouped folds left fold {int(np.argmin(sizes))} empty (groups too large for {cv} "
                                f"folds; fold sizes {sizes.tolist()}). Use fewer folds.")
    return folds


def check_labels(labels: np.ndarray, cv: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes and class codes of ``labels``, checked for ``cv`` stratified folds (every class in every fold)."""
    if not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ProbingInputError(f"cv must be an integer >= 2 folds; got {cv!r}.")
    if not is_categorical(labels, MAX_CLASSES):
        if labels.dtype.kind in "iuOUSb":
            counts = pd.Series(labels).value_counts()
            raise ProbingInputError(
                f"The label has {len(counts)} classes, more than the {MAX_CLASSES} a probe sweep handles. Probe a "
                f"subset: e.g. keep the {MAX_CLASSES} most frequent classes (keep = np.isin(y, "
                f"pd.Series(y).value_counts().index[:{MAX_CLASSES}])) and probe aset.acts[keep], or merge classes.")
        raise ProbingInputError("The label looks continuous (many distinct non-integer values); a probe needs "
                                "classes. Bin it first, e.g. y = values > np.median(values).")
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ProbingInputError(f"The label has only one class ({classes.tolist()}); a probe needs at least two. "
                                "Pick another label or add samples of the other classes.")
    counts = np.bincount(codes)
    if counts.min() < 2:
        single = [str(c) for c, m in zip(classes, counts) if m < 2]
        raise ProbingInputError(f"Classes {single} have a single sample ({n} samples in all); a held-out accuracy "
                                "needs at least 2 samples of every class, one to train on and one to test. Add "
                                "samples of those classes or drop them.")
    if counts.min() < cv:
        rare = {str(c): int(m) for c, m in zip(classes, counts) if m < cv}
        raise ProbingInputError(f"Classes {rare} have fewer members than the {cv} folds, so some folds would "
                                f"miss them. Use cv <= {counts.min()} (at least 2) or drop/merge the rare classes.")
    return classes, codes
