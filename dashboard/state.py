"""Session state, initialised in one place: the datasets opened in this session and the active one.

``app.py`` calls :func:`init_session` once per run and draws :func:`sidebar_dataset_picker`;
pages read :func:`active_dataset`. Directions are not session state: pages save them in the
shared workspace (:func:`save_directions`) and read them back from it (:func:`direction_sets`,
:func:`load_directions`), so a share link shows a colleague the same directions.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import auth, datasets
from dashboard.text import escape
from probing import ActivationSet, ProbingInputError
from probing.directions import DirectionSet, unique_labels
from probing.io.direction_store import DirectionEntry
from probing.synthetic import planted


def active_dataset() -> ActivationSet:
    """The dataset every page works on (set by the sidebar picker in ``app.py``)."""
    return st.session_state["dataset"]


def set_active_dataset(aset: ActivationSet) -> None:
    """Make ``aset`` the active dataset for all pages of this session."""
    st.session_state["dataset"] = aset


def init_session() -> None:
    """Set up session state once: the datasets opened in this session and the active one."""
    if "datasets" in st.session_state:
        return
    bundled = datasets.bundled_datasets()
    default = (datasets.open_bundled(datasets.DEFAULT_BUNDLED) if datasets.DEFAULT_BUNDLED in bundled
               else datasets.default_synthetic())
    st.session_state["datasets"] = {default.name: default}
    st.session_state["dataset"] = default


def add_dataset(aset: ActivationSet, activate: bool = True) -> ActivationSet:
    """Add ``aset`` to this session's datasets and optionally make it active; return the set added.

    Datasets are listed by name; a different dataset with a name already taken is added
    as a renamed copy ``"<name> (<fingerprint>)"`` so neither replaces the other. ``aset``
    itself is never changed: it may be shared by every session (a bundled set is cached
    with ``st.cache_resource``).
    """
    opened = st.session_state["datasets"]
    if aset.name in opened and opened[aset.name].fingerprint != aset.fingerprint:
        aset = aset.renamed(f"{aset.name} ({aset.fingerprint[:8]})")
    opened[aset.name] = aset
    if activate:
        set_active_dataset(aset)
        st.session_state["dataset_picker"] = aset.name
    return aset


def _on_pick() -> None:
    """The user picked a dataset in the sidebar: make it active (opening a bundled one first)."""
    choice = st.session_state["dataset_picker"]
    opened = st.session_state["datasets"]
    if choice.startswith("bundled: "):
        aset = datasets.open_bundled(choice.removeprefix("bundled: "))
        opened[aset.name] = aset
    else:
        aset = opened[choice]
    set_active_dataset(aset)
    st.session_state["dataset_picker"] = aset.name


def sidebar_dataset_picker() -> None:
    """The sidebar dataset picker shared by all pages; it always shows the active dataset."""
    opened = st.session_state["datasets"]
    aset = active_dataset()
    opened.setdefault(aset.name, aset)
    options = list(opened) + [f"bundled: {name}" for name in datasets.bundled_datasets() if name not in opened]
    st.session_state["dataset_picker"] = aset.name
    st.sidebar.selectbox("Active dataset", options, key="dataset_picker", on_change=_on_pick,
                         help="Every page works on this dataset. Open, generate or upload more on the Data page.")
    st.sidebar.caption(f"{aset.n_samples:,} samples · {aset.n_layers} layers · d = {aset.d} · `{aset.fingerprint}`")
    layer = current_layer(aset)
    if layer is not None:
        st.sidebar.caption(f"Current layer: **{escape(aset.layers[layer])}** (every page opens on it)")


def current_layer(aset: ActivationSet) -> int | None:
    """The layer last chosen on any page for this dataset in this session (``None`` before any choice)."""
    layer = st.session_state.get("current_layer", {}).get(aset.fingerprint)
    return layer if layer is not None and layer < aset.n_layers else None


def set_current_layer(aset: ActivationSet, layer: int) -> None:
    """Make ``layer`` the dataset's current layer: the default of every page's layer picker."""
    st.session_state.setdefault("current_layer", {})[aset.fingerprint] = int(layer) % aset.n_layers


def save_directions(aset: ActivationSet, layer, name: str, vectors, method: str, params: dict | None = None,
                    row_names=()) -> str | None:
    """Save directions computed on ``layer`` of ``aset`` in the shared workspace, for every page and colleague.

    Returns ``None`` when saved (or saved before), else why not (e.g. an all-zero direction),
    for the page to show.
    """
    try:
        dirset = DirectionSet.for_layer(aset, layer, name, vectors, method, params, row_names)
        datasets.workspace().add_directions(dirset, owner=auth.current_user())
    except (ProbingInputError, OSError) as exc:
        return str(exc)
    return None


def direction_sets(aset: ActivationSet, layer=None) -> list[DirectionEntry]:
    """The direction sets saved in the workspace for ``aset`` (one layer, or all), newest first.

    For one layer, the directions planted in a synthetic ``aset`` are saved first, so they are listed too.
    """
    if layer is not None:
        layer = aset.layer_index(layer)
        done = st.session_state.setdefault("_planted_saved", set())
        if (aset.fingerprint, layer) not in done:
            concepts = planted(aset)  # the generator's record in attrs; {} for other sets
            if concepts:
                save_directions(aset, layer, "concepts", np.stack(list(concepts.values())), "planted",
                                {"concepts": list(concepts)}, list(concepts))
            done.add((aset.fingerprint, layer))
    return datasets.workspace().list_directions(dataset=aset.fingerprint, layer=layer)


def load_directions(entries, max_rows: int | None = None) -> dict[str, np.ndarray]:
    """``{label: (d,) vector}`` for every row of the saved sets ``entries`` (their first ``max_rows`` rows)."""
    root = str(datasets.workspace_dir())
    return unique_labels(_load(root, entry.id, max_rows) for entry in entries)


@st.cache_resource(show_spinner=False, max_entries=512)
def _load(root: str, direction_id: str, max_rows: int | None) -> DirectionSet:
    """A saved set by id, read once per process (a set never changes: its id is a hash of its content)."""
    return datasets.workspace().load_directions(direction_id, max_rows)
