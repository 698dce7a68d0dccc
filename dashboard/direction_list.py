"""The Data page's list of the direction sets saved in the workspace (who made what, where; owner-only delete)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, datasets, widgets
from probing import ProbingInputError

CSV_ROWS = 1000  # rows of a set offered as CSV (an SAE decoder has tens of thousands)
NOTE = "dir_note"  # what the last delete did, shown under the list on the next run


def _when(created: str) -> str:
    return created[:16].replace("T", " ") + " UTC"


def _show_note() -> None:
    kind, text = st.session_state.pop(NOTE, (None, None))
    if kind is not None:
        getattr(st, kind)(text)


def _on_delete_directions(direction_id: str) -> None:
    st.session_state["dir_confirm"] = False
    try:
        datasets.workspace().delete_directions(direction_id, user=auth.current_user())
    except ProbingInputError as exc:
        st.session_state[NOTE] = ("error", widgets.escape(str(exc)))
        return
    st.session_state.pop("dir_pick", None)
    st.session_state[NOTE] = ("success", f"Deleted the direction set `{direction_id}`.")


def directions_section() -> None:
    """The direction sets saved in the workspace: who made what, on which dataset and layer; owner-only delete."""
    ws = datasets.workspace()
    st.subheader("Directions")
    st.caption("Probe directions, principal components, steering vectors, LEACE subspaces, planted concepts and "
               "uploaded dictionaries saved by the pages. Every page (and every colleague opening a share link) reads "
               "them from here; only whoever saved a set can delete it (anyone, if it was saved without a login).")
    entries = {entry.id: entry for entry in ws.list_directions()}
    if not entries:
        st.info("No directions saved yet. The Probes page saves its probe directions; PCA, Steering and the Atlas "
                "save theirs.")
        _show_note()
        return
    names = {e.fingerprint: e.name for e in ws.list_datasets()}
    names.update({aset.fingerprint: aset.name for aset in st.session_state["datasets"].values()})
    table = pd.DataFrame([{"name": e.label, "method": e.method, "rows": e.k, "d": e.d,
                           "dataset": names.get(e.dataset, e.dataset or ""), "layer": e.layer or "",
                           "owner": e.owner or "(no login)", "created": _when(e.created), "id": e.id}
                          for e in entries.values()])
    st.dataframe(table, hide_index=True, width="stretch")
    direction_id = st.selectbox("Direction set", list(entries), key="dir_pick",
                                format_func=lambda i: f"{entries[i].label} · k = {entries[i].k} · {i}")
    entry = entries[direction_id]
    who = f"saved by **{widgets.escape(entry.owner)}**" if entry.owner else "saved without a login"
    made = ", ".join(f"{k} = {v}" for k, v in entry.params.items()) or "no parameters"
    st.markdown(f"**{widgets.escape(entry.label)}**: {entry.k} direction{'s' if entry.k > 1 else ''} in d = {entry.d}, "
                f"{who} on {_when(entry.created)}; made with {widgets.escape(made)}.")
    user = auth.current_user()
    may_delete = entry.owner is None or entry.owner == user
    c1, c2, c3 = st.columns(3)
    try:
        with c1:
            widgets.download_csv(ws.load_directions(direction_id, max_rows=CSV_ROWS).to_frame(),
                                 f"directions_{direction_id}.csv", label="Download (CSV)", key="dir_csv")
        if entry.k > CSV_ROWS:
            c1.caption(f"The first {CSV_ROWS:,} of {entry.k:,} rows.")
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
    confirmed = c2.checkbox("Yes, delete this direction set", key="dir_confirm", disabled=not may_delete)
    c3.button("Delete", key="dir_delete", on_click=_on_delete_directions, args=(direction_id,),
              disabled=not (confirmed and may_delete))
    if not may_delete:
        you = f"**{widgets.escape(user)}**" if user else "not logged in"
        c3.caption(f"Only **{widgets.escape(entry.owner)}** can delete it; you are {you}.")
    _show_note()
