"""Saved results: save a page's result to the shared workspace, describe it as JSON, reopen its view.

A result is a page's tables plus its parameters, the dataset it came from, the package
versions and the share link of the view (see ``links.py``), so a teammate can read it,
download it, and open the same view again.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import auth, datasets, widgets
from probing import ActivationSet, ProbingInputError
from probing.provenance import package_versions, to_json
from probing.results import dataset_info, payload_tables, result_payload, table_records

__all__ = ["current_view", "dataset_info", "download_result_json", "payload_tables", "result_json", "result_payload",
           "save_result_control", "view_url"]


def result_json(kind: str, name: str, params: dict, tables: dict, dataset: dict | None, versions: dict,
                saved_by: str | None = None, created_at: str | None = None) -> str:
    """A whole result as one JSON document: what it is, the parameters, the dataset, the tables and the versions.

    Parameters
    ----------
    tables : dict of str to DataFrame or list of records
        Written as ``payload``: one list of row records per table.
    dataset : dict, optional
        ``{"name", "fingerprint", "shape"}`` (see :func:`dataset_info`).
    created_at : str, optional
        ISO time it was saved; now (UTC) for a result not saved yet.
    """
    from datetime import datetime, timezone

    document = {"kind": kind, "name": name, "params": params, "dataset": dataset,
                "payload": {table: table_records(rows) for table, rows in tables.items()}, "versions": versions,
                "saved_by": saved_by,
                "created_at": created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return to_json(document, "A result", indent=1, allow_nan=True)


def download_result_json(document: str, filename: str, key: str, label: str = "Download result (JSON)") -> None:
    """A download button with a :func:`result_json` document."""
    st.download_button(label, document.encode(), file_name=filename, mime="application/json", key=key)


def _file_stem(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")[:80] or "result"


_PAGE_PATH = re.compile(r"[\w-]*")


def current_view() -> dict:
    """This page's share link: ``{"page": url path, "query": {key: value}}`` (see ``links.py``)."""
    return {"page": st.session_state.get("_page_path", ""), "query": st.query_params.to_dict()}


def view_url(view) -> str | None:
    """The relative URL ``/<page>?<query>`` that reopens a saved view; ``None`` if ``view`` is not one."""
    from urllib.parse import urlencode

    if not isinstance(view, dict) or not isinstance(view.get("page"), str) or not isinstance(view.get("query"), dict):
        return None
    if not _PAGE_PATH.fullmatch(view["page"]):
        return None
    base = st.get_option("server.baseUrlPath").strip("/")
    prefix = f"/{base}/" if base else "/"
    query = urlencode({str(k): str(v) for k, v in view["query"].items()})
    return prefix + view["page"] + (f"?{query}" if query else "")


def save_result_control(kind: str, default_name: str, params: dict, tables: dict[str, pd.DataFrame],
                        aset: ActivationSet, key: str) -> None:
    """"Save this result": a name and a button that saves it to the shared workspace, plus its JSON download.

    The result is saved with the logged-in user as owner and ``aset``'s fingerprint, so the
    Data page (Workspace tab) lists it for the team with who saved it and when. ``params``
    gains ``"view"`` (:func:`current_view`): the share link that reopens the page as it was.
    """
    params = {**params, "view": current_view()}
    with st.container(border=True):
        st.markdown("**Save this result**")
        st.caption("Saved results are shared with everyone using this workspace: the Data page (Workspace tab) "
                   "lists them with their parameters, who saved them and when. The JSON holds the same: "
                   "parameters, dataset, tables and package versions.")
        with st.form(f"{key}_form", border=False):
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            name = left.text_input("Name", value=default_name, max_chars=200)
            submitted = right.form_submit_button("Save to workspace", key=f"{key}_save", type="primary")
        if submitted:
            try:
                result_id = datasets.workspace().save_result(kind, name, params, result_payload(tables, aset),
                                                    owner=auth.current_user(), fingerprint=aset.fingerprint)
            except ProbingInputError as exc:
                widgets.show_input_error(exc)
            else:
                st.success(f"Saved **{widgets.escape(name.strip())}** as `{result_id}`. The team finds it on "
                           "the Data page, Workspace tab, under *Saved results*.")
        download_result_json(result_json(kind, name, params, tables, dataset_info(aset), package_versions(),
                                         saved_by=auth.current_user()),
                             f"{_file_stem(name)}.json", key=f"{key}_json")
