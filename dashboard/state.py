"""Session state, initialised in one place: the datasets opened in this session and the active one.

``app.py`` calls :func:`init_session` once per run and draws :func:`sidebar_dataset_picker`;
pages read :func:`active_dataset`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import datasets, widgets
from probing import ActivationSet


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


def add_dataset(aset: ActivationSet, activate: bool = True) -> None:
    """Add ``aset`` to this session's datasets and optionally make it active.

    Datasets are listed by name; a different dataset with a name already taken is
    renamed ``"<name> (<fingerprint>)"`` so neither replaces the other.
    """
    opened = st.session_state["datasets"]
    if aset.name in opened and opened[aset.name].fingerprint != aset.fingerprint:
        aset.name = f"{aset.name} ({aset.fingerprint[:8]})"
    opened[aset.name] = aset
    if activate:
        set_active_dataset(aset)
        st.session_state["dataset_picker"] = aset.name


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
        st.sidebar.caption(f"Current layer: **{widgets.escape(aset.layers[layer])}** (every page opens on it)")


def current_layer(aset: ActivationSet) -> int | None:
    """The layer last chosen on any page for this dataset in this session (``None`` before any choice)."""
    layer = st.session_state.get("current_layer", {}).get(aset.fingerprint)
    return layer if layer is not None and layer < aset.n_layers else None


def set_current_layer(aset: ActivationSet, layer: int) -> None:
    """Make ``layer`` the dataset's current layer: the default of every page's layer picker."""
    st.session_state.setdefault("current_layer", {})[aset.fingerprint] = int(layer) % aset.n_layers


def save_direction(name: str, vector: np.ndarray, aset: ActivationSet, layer: int) -> None:
    """Remember a direction (probe, steering, planted) of one layer for other pages of this session."""
    store = st.session_state.setdefault("directions", {})
    store[(aset.fingerprint, int(layer), name)] = np.asarray(vector, dtype=np.float64)


def saved_directions(aset: ActivationSet, layer: int | None = None) -> dict[str, np.ndarray]:
    """Directions remembered for this dataset, by name: of one layer, or of all as ``"name @ layer"``."""
    store = st.session_state.get("directions", {})
    return {(name if layer is not None else f"{name} @ {aset.layers[i]}"): vector
            for (fingerprint, i, name), vector in store.items()
            if fingerprint == aset.fingerprint and (layer is None or i == layer % aset.n_layers)}


