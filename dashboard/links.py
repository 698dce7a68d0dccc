"""Share links: every page writes its state into the URL so a copied link opens the same view.

The URL holds the page (its path), ``dataset=<fingerprint>`` and the values of the widgets a
page declares with :func:`share`, JSON-encoded. Opening a link restores the dataset (from
this session, the bundled files or the workspace) and those widget values, once per session.
Only declared widget keys are ever set from a URL.

The same declared keys are remembered per dataset for the session: Streamlit forgets a
widget's value when its page is left, so coming back restores the page's last settings
(for the same dataset) instead of its defaults.
"""

from __future__ import annotations

import json
import re

import streamlit as st

from dashboard import datasets, state, widgets
from probing import ActivationSet, ProbingInputError

_FINGERPRINT = re.compile(r"^[0-9a-f]{8,64}$")
_RESTORED = "_link_restored_keys"  # widget keys set from the URL in this run (dropped if they do not fit)
_UNREADABLE = "_link_unreadable"  # link values that are not JSON, by widget key
_KEPT = "_kept_settings"  # (dataset fingerprint, widget key) -> last value, so a page keeps its place
_KEPT_RESTORED = "_kept_restored_keys"  # widget keys set from _KEPT in this run


def find_dataset(fingerprint: str) -> ActivationSet | None:
    """The dataset with this fingerprint: opened in this session, bundled, or saved in the workspace."""
    for aset in st.session_state["datasets"].values():
        if aset.fingerprint == fingerprint:
            return aset
    for name in datasets.bundled_datasets():
        aset = datasets.open_bundled(name)
        if aset.fingerprint == fingerprint:
            return aset
    workspace = datasets.workspace()
    if any(entry.fingerprint == fingerprint for entry in workspace.list_datasets()):
        return workspace.load_dataset(fingerprint)
    return None


def open_linked_dataset() -> None:
    """Once per session: make the link's ``dataset`` active, or say clearly why it cannot be."""
    if "_link_params" in st.session_state:
        return
    st.session_state["_link_params"] = st.query_params.to_dict()  # the link this session was opened with
    fingerprint = st.session_state["_link_params"].get("dataset")
    if not fingerprint or fingerprint == state.active_dataset().fingerprint:
        return
    problem = None
    if not _FINGERPRINT.match(fingerprint):
        problem = f"The link's dataset id {widgets.escape(repr(fingerprint[:70]))} is not a dataset fingerprint (8-64 hex characters)."
    else:
        try:
            aset = find_dataset(fingerprint)
        except ProbingInputError as exc:
            aset, problem = None, f"The linked dataset `{fingerprint}` could not be opened: {widgets.escape(str(exc))}"
        if aset is None and problem is None:
            problem = (f"The link refers to dataset `{fingerprint}`, which is not in this workspace (it may have been "
                       "deleted, or saved on another server). Showing the default dataset instead; ask for the file "
                       "and upload it on the Data page.")
        if aset is not None:
            state.add_dataset(aset)
    if problem:
        st.session_state["_link_problem"] = problem


def share(*keys: str) -> None:
    """Declare the widget keys that make up this page's view; restores them once from the link the session opened.

    Call at the top of a page, before its widgets are drawn.
    """
    st.session_state["_shared_keys"] = list(keys)
    link = st.session_state.get("_link_params", {})
    applied = st.session_state.setdefault("_link_applied", set())
    restored, unreadable = [], []
    for key in keys:
        if key in applied or key not in link:
            continue
        applied.add(key)
        try:
            st.session_state[key] = json.loads(link[key])
            restored.append(key)
        except (json.JSONDecodeError, TypeError):
            unreadable.append(key)
    st.session_state[_RESTORED] = restored
    st.session_state[_UNREADABLE] = {key: link[key] for key in unreadable}
    kept = st.session_state.setdefault(_KEPT, {})
    fingerprint = state.active_dataset().fingerprint
    remembered = [key for key in keys if key not in st.session_state and (fingerprint, key) in kept]
    for key in remembered:
        st.session_state[key] = kept[(fingerprint, key)]
    st.session_state[_KEPT_RESTORED] = remembered


def not_restored_message(values: dict) -> str:
    """The warning naming each link setting (key and value as the link spelled it) that could not be restored."""
    named = ", ".join(f"{key} = {widgets.escape(str(value)[:40])}" for key, value in values.items())
    return f"Some settings in this link do not fit this dataset or page ({named}); they were reset to defaults."


def rejected_values() -> dict:
    """Link values that are not JSON, or that a widget silently replaced by its default in this run."""
    link = st.session_state.get("_link_params", {})
    rejected = st.session_state.pop(_UNREADABLE, {})
    for key in st.session_state.get(_RESTORED, []):
        value = st.session_state.get(key)
        if (list(value) if isinstance(value, tuple) else value) != json.loads(link[key]):
            rejected[key] = link[key]
    return rejected


def write_link() -> None:
    """Write the active dataset and the shared widget values of this run into the URL (and remember them)."""
    fingerprint = state.active_dataset().fingerprint
    params = {"dataset": fingerprint}
    kept = st.session_state.setdefault(_KEPT, {})
    for key in st.session_state.get("_shared_keys", []):
        if key in st.session_state:
            kept[(fingerprint, key)] = st.session_state[key]
        value = st.session_state.get(key)
        try:
            params[key] = json.dumps(list(value) if isinstance(value, tuple) else value)
        except TypeError:
            continue
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def drop_restored_values() -> bool:
    """Forget widget values a link set in this run (they did not fit the page); True if there were any."""
    restored = st.session_state.pop(_RESTORED, [])
    for key in restored:
        st.session_state.pop(key, None)
    if restored:
        link = st.session_state.get("_link_params", {})
        st.session_state["_link_problem"] = not_restored_message({key: link.get(key) for key in restored})
    return bool(restored)


def forget_remembered_values() -> bool:
    """Forget remembered settings set in this run (they no longer fit the page); True if there were any."""
    remembered = st.session_state.pop(_KEPT_RESTORED, [])
    kept = st.session_state.get(_KEPT, {})
    for key in remembered:
        st.session_state.pop(key, None)
        for entry in [entry for entry in kept if entry[1] == key]:
            kept.pop(entry)
    return bool(remembered)


def run_page(page) -> None:
    """Run ``page``; keep the URL in step with it; recover from link values that do not fit.

    A value from a link that a widget rejects (out of range, wrong type) makes the page
    fail; then those values are dropped, the user is told, and the page runs again with
    its defaults. A value a widget replaced silently (a select box given an option it does
    not have) is named the same way. Errors with no link value involved propagate as usual.
    """
    st.session_state["_shared_keys"] = []
    problem = st.session_state.pop("_link_problem", None)
    if problem:
        st.warning(problem)
    try:
        page.run()
    except Exception:
        if not (drop_restored_values() | forget_remembered_values()):  # | : run both
            raise
        st.rerun()
    finally:
        rejected = rejected_values()
        st.session_state.pop(_RESTORED, None)
        st.session_state.pop(_KEPT_RESTORED, None)
        write_link()
        if rejected:
            st.session_state["_link_problem"] = not_restored_message(rejected)
            st.rerun()
