"""Data: what am I looking at? Summarise, generate, open, upload and manage activation datasets.

Actions (generate, open, upload, rename, delete) run in widget callbacks, before the
sidebar picker is drawn, so a new dataset is active on the very run that created it.
Their messages are kept per section in ``st.session_state["data_notes"]`` and shown next
to the widget that caused them.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import auth, datasets, direction_list, links, results, state, widgets
from probing import ActivationSet, ProbingInputError, load_activations
from probing.distributed import where_work_runs
from probing.synthetic import make_concept_embeddings
from probing.truncation import MAX_CHARS, truncate_texts

UPLOAD_TYPES = ["npy", "npz", "safetensors", "pt", "pth", "h5", "hdf5", "parquet", "csv"]


RESULT_PAGES = {"probe_sweep": ("dashboard/views/probes.py", "Probes"), "pca_view": ("dashboard/views/pca.py", "PCA"),
                "steering_sweep": ("dashboard/views/steering.py", "Steering")}


@st.cache_data(show_spinner=False, max_entries=32)
def layer_summary(fingerprint: str, _aset: ActivationSet) -> pd.DataFrame:
    """:meth:`ActivationSet.layer_summary`, cached by fingerprint (one chunked pass; memory maps stay lazy)."""
    return _aset.layer_summary()


def _note(section: str, kind: str, text: str) -> None:
    st.session_state.setdefault("data_notes", {})[section] = (kind, text)


def _show_note(section: str) -> None:
    kind, text = st.session_state.get("data_notes", {}).get(section, (None, None))
    if kind is not None:
        getattr(st, kind)(text)


def _activate(aset: ActivationSet, source: str, section: str) -> None:
    """Save ``aset`` in the workspace and make it the active dataset; report in ``section``."""
    aset = state.add_dataset(aset)
    try:
        entry = datasets.workspace().add_dataset(aset, owner=auth.current_user(), source=source)
    except (ProbingInputError, OSError) as exc:
        _note(section, "warning", f"**{widgets.escape(aset.name)}** is active for this session but was not saved in the workspace: {exc}")
        return
    _note(section, "success", f"**{widgets.escape(aset.name)}** ({' × '.join(map(str, aset.shape))}) is now active and saved in "
                              f"the workspace as `{entry.fingerprint}`. Its summary is on the Summary tab.")


def _on_generate() -> None:
    s = st.session_state
    try:
        aset, _ = make_concept_embeddings(n_samples=s["gen_n"], d=s["gen_d"], n_concepts=s["gen_k"],
                                          noise=s["gen_noise"], n_layers=s["gen_layers"], seed=int(s["gen_seed"]),
                                          concept_cosine=s["gen_cosine"])
    except ProbingInputError as exc:
        _note("generate", "error", widgets.escape(str(exc)))
        return
    _activate(aset, "synthetic", "generate")


def _on_upload() -> None:
    """Load the uploaded file (with the optional labels CSV); a bad file leaves the active dataset alone."""
    file = st.session_state.get("upload_file")
    if file is None:
        st.session_state.get("data_notes", {}).pop("upload", None)
        return
    labels = st.session_state.get("upload_labels")
    for f in (file, labels):
        if f is not None:
            f.seek(0)
    try:
        aset = load_activations(file, name=Path(file.name).stem, labels_csv=labels,
                                max_bytes=st.get_option("server.maxUploadSize") * 2**20)
    except ProbingInputError as exc:
        _note("upload", "error", f"Could not load **{widgets.escape(file.name)}**: {exc}")
        return
    _activate(aset, "upload", "upload")


def _on_open_bundled() -> None:
    try:
        state.add_dataset(datasets.open_bundled(st.session_state["bundled_pick"]))
    except ProbingInputError as exc:
        _note("bundled", "error", widgets.escape(str(exc)))


def _on_open_saved(fingerprint: str) -> None:
    try:
        aset = datasets.workspace().load_dataset(fingerprint)
    except ProbingInputError as exc:
        _note("workspace", "error", widgets.escape(str(exc)))
        return
    state.add_dataset(aset)
    _note("workspace", "success", f"**{widgets.escape(aset.name)}** is now active.")


def _on_rename(fingerprint: str) -> None:
    try:
        entry = datasets.workspace().rename_dataset(fingerprint, st.session_state[f"ws_new_name_{fingerprint}"],
                                                    user=auth.current_user())
    except ProbingInputError as exc:
        _note("workspace", "error", widgets.escape(str(exc)))
        return
    _note("workspace", "success", f"Renamed `{fingerprint}` to **{widgets.escape(entry.name)}**.")


def _on_delete(fingerprint: str) -> None:
    st.session_state["ws_confirm"] = False
    try:
        datasets.workspace().delete_dataset(fingerprint, user=auth.current_user())
    except ProbingInputError as exc:
        _note("workspace", "error", widgets.escape(str(exc)))
        return
    st.session_state.pop("ws_pick", None)
    _note("workspace", "success", f"Deleted `{fingerprint}` from the workspace (a copy already open in this "
                                  "session stays usable until you switch away).")


def _readme_row(name: str) -> str | None:
    """The row of the files table in ``data/README.md`` that describes ``<name>.csv``, with its header."""
    readme = datasets.DATA_DIR / "README.md"
    lines = readme.read_text().splitlines() if readme.exists() else []
    for i, line in enumerate(lines):
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and cells[1].strip() == f"`{name}.csv`":
            top = i
            while top > 0 and lines[top - 1].startswith("|"):
                top -= 1
            return "\n".join([lines[top], lines[top + 1], line])
    return None


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def summary_section(aset: ActivationSet) -> None:
    n, n_layers, d = aset.shape
    cols = st.columns(5)
    cols[0].metric("Samples (n)", f"{n:,}")
    cols[1].metric("Layers", n_layers)
    cols[2].metric("Dimensions (d)", d)
    cols[3].metric("dtype", str(aset.acts.dtype))
    cols[4].metric("Memory", _human_bytes(aset.nbytes))
    st.caption(f"Shape **{n} × {n_layers} × {d}** (samples × layers × dims). Layers: "
               + ", ".join(widgets.escape(name) for name in aset.layers[:24]) + (" …" if n_layers > 24 else "")
               + f". Fingerprint `{aset.fingerprint}` (a hash of the contents; results are cached and shared by it).")
    lazy = aset.storage != "memory"
    st.caption(f"Storage: **{aset.storage}**" + (" (lazy: rows are read from disk in chunks sized by "
               "`PROBING_MEMORY_BUDGET`, never all at once)" if lazy else " (held in memory)")
               + f". Analyses run on **{where_work_runs()}**.")
    with st.expander("Where it came from (provenance)"):
        st.caption("Saved with the data in every file header and kept through renames and the workspace: the "
                   "generator and its parameters, the model and pooling of an extraction, or the source file.")
        if aset.attrs:
            st.json(aset.attrs, expanded=1)
        else:
            st.caption("Nothing recorded for this dataset.")

    st.subheader("Labels")
    st.caption("A **label** gives one value per sample: a class (sentiment 0/1, a topic) or a number. Probes try to "
               "read a label off the activations; class counts show whether a majority baseline is already high.")
    labels = aset.label_summary()
    if labels.empty:
        st.info("No labels yet. Upload the activations again with a labels CSV (one row per sample, in the same order).")
    else:
        st.dataframe(truncate_texts(labels), hide_index=True, width="stretch")

    st.subheader("Vector length per layer")
    norms = layer_summary(aset.fingerprint, aset)
    norms = norms.assign(low=norms.mean_norm - norms.std_norm, high=norms.mean_norm + norms.std_norm)
    x = alt.X("name:N", sort=None, title="layer")
    tooltip = ["name", alt.Tooltip("mean_norm:Q", format=".3f"), alt.Tooltip("std_norm:Q", format=".3f")]
    band = alt.Chart(norms).mark_errorbar(ticks=True).encode(x=x, y=alt.Y("low:Q", title="‖x‖ (mean ± std)"),
                                                             y2="high:Q", tooltip=tooltip)
    line = alt.Chart(norms).mark_line(point=True).encode(x=x, y="mean_norm:Q", tooltip=tooltip)
    st.altair_chart(band + line, width="stretch")
    st.caption("Average length of the activation vectors at each layer, with one standard deviation. In real "
               "models the length usually grows with depth; a layer far longer than its neighbours dominates "
               "anything that pools layers, so compare probes and PCA within a layer. A large spread means a few "
               "samples have outsized vectors worth a look.")
    widgets.download_csv(norms[["layer", "name", "mean_norm", "std_norm", "mean_cosine"]],
                         f"layer_norms_{aset.fingerprint}.csv")

    st.subheader("Meta (first 20 rows)")
    if len(aset.meta.columns):
        st.caption("Per-sample information that is not an activation: the input text, ids, sources.")
        head = aset.meta.head(20)
        st.dataframe(truncate_texts(head), width="stretch")
        long = [c for c in head.columns if head[c].astype(str).str.len().max() > MAX_CHARS]
        if long:
            st.caption(f"Texts longer than {MAX_CHARS} characters are cut (…); pick a row to read one in full.")
            row = st.selectbox("Full text of row", list(head.index), key="data_full_row")
            for column in long:
                st.text_area(f"{column} (row {row}, {len(str(head.loc[row, column])):,} characters)",
                             str(head.loc[row, column]), height=160, disabled=True, key=f"data_full_{column}_{row}")
    else:
        st.caption("This dataset has no meta columns (text, ids); only activations and labels.")


def generate_section() -> None:
    st.caption("Synthetic embeddings with planted concepts, as in the lesson's Exercise 8(a): each concept k is a "
               "binary label and a unit direction u_k; positives sit near +s·u_k, negatives near −s·u_k, plus "
               "Gaussian noise. The concept grows with depth, so a layer sweep shows where it becomes decodable. "
               "More concepts than dimensions gives superposition; a concept cosine above 0 makes directions overlap.")
    with st.form("generate"):
        c1, c2 = st.columns(2)
        c1.slider("Samples (n)", 100, 10_000, 1000, step=100, key="gen_n")
        c1.slider("Dimensions (d)", 2, 256, 64, key="gen_d")
        c1.slider("Concepts", 1, 64, 2, key="gen_k", help="More concepts than d packs them in superposition.")
        c1.slider("Layers", 1, 8, 4, key="gen_layers")
        c2.slider("Noise (std)", 0.0, 3.0, 1.0, step=0.1, key="gen_noise")
        c2.slider("Concept cosine", 0.0, 0.95, 0.0, step=0.05, key="gen_cosine",
                  help="Pairwise cosine between concept directions (needs concepts + 1 ≤ d).")
        c2.number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed")
        st.form_submit_button("Generate and open", on_click=_on_generate, type="primary")
    _show_note("generate")


def bundled_section() -> None:
    bundled = datasets.bundled_datasets()
    if not bundled:
        st.info("No bundled datasets in `data/` yet. Generate one or upload your own.")
        return
    st.caption("Real sentence embeddings (all-MiniLM-L6-v2, every layer) shipped with the app, so it works offline.")
    name = st.selectbox("Bundled dataset", list(bundled), key="bundled_pick")
    st.markdown(_readme_row(name) or f"`{bundled[name].name}`")
    st.caption(f"File `data/{bundled[name].name}`, {_human_bytes(bundled[name].stat().st_size)}.")
    st.button("Open", key="bundled_open", on_click=_on_open_bundled, type="primary")
    _show_note("bundled")
    readme = datasets.DATA_DIR / "README.md"
    if readme.exists():
        with st.expander("About the bundled data (data/README.md): who wrote the sentences and how"):
            st.markdown(readme.read_text())


def upload_section() -> None:
    st.caption(
        "**.npy**: an (n, d) array (one layer) or (n, layers, d). **.npz / .safetensors / .h5 / .pt**: activations "
        "under the key `acts` or `activations`, or one 2-D array per layer named `layer_0`, `layer_1`, … (stacked in "
        "order); every other 1-D array of length n becomes a label named by its key. **.parquet / .csv**: numeric "
        "columns form one layer, a `label` column or text columns become labels / meta. Files are checked by their "
        "content and never unpickled.")
    st.file_uploader("Activation file", type=UPLOAD_TYPES, key="upload_file", on_change=_on_upload)
    st.file_uploader("Labels CSV (optional)", type=["csv"], key="upload_labels", on_change=_on_upload,
                     help="One row per sample in the same order as the activations; each column becomes a label.")
    _show_note("upload")


def _on_open_path() -> None:
    """Open the typed server path lazily, in place; a bad or forbidden path leaves the active dataset alone."""
    text = st.session_state.get("path_text", "")
    try:
        aset = load_activations(str(datasets.resolve_server_path(text)), roots=datasets.data_roots())
    except (ProbingInputError, OSError) as exc:
        shown = text.strip().replace("`", "'")
        _note("path", "error", f"Could not open `{shown}`: {widgets.escape(exc)}")
        return
    state.add_dataset(aset)
    _note("path", "success", f"**{widgets.escape(aset.name)}** ({' × '.join(map(str, aset.shape))}, "
                             f"{_human_bytes(aset.nbytes)} on disk, storage **{aset.storage}**) is now active. It is read in "
                             "place and **not copied into the workspace** (too big to duplicate): it stays usable "
                             "while this server can read the path, and teammates open it by the same path.")


def path_section() -> None:
    st.caption("Real activation dumps (often 10+ GB) are too big to upload through a browser. Type where they are "
               "**on the server**: a `.npy` / `.safetensors` file (memory-mapped), a folder or glob of shards "
               "(`/data/run1/shard_*.npy`, concatenated along the samples in natural order), a Zarr store, or a "
               "SAELens activation cache (a folder of `data-*.arrow` files, one layer per hook).")
    disabled = datasets.server_paths_disabled()
    if disabled:
        st.info(disabled)
        return
    roots = datasets.data_roots()
    st.caption("Allowed: paths under " + ", ".join(f"`{root}`" for root in roots) + f" (`{datasets.DATA_ROOTS_ENV}`)."
               if roots else f"Allowed: any path this server can read (no login configured; set `{datasets.DATA_ROOTS_ENV}` "
               "to limit opening to your data folders).")
    with st.form("open_path"):
        st.text_input("Path on the server", key="path_text", placeholder="/data/activations/shard_*.npy")
        st.form_submit_button("Open lazily", key="path_open", on_click=_on_open_path, type="primary")
    _show_note("path")
    st.caption("**Lazy** means the values stay on disk: opening reads the headers and labels and checks once, in "
               "chunks, that no value is NaN or Inf. After that each analysis streams only the rows it needs, in "
               "chunks sized by `PROBING_MEMORY_BUDGET` (default: an eighth of the RAM), so a dump larger than memory "
               "works, at the cost of reading from disk on every pass. Files read in place (`.npy`, `.safetensors`, "
               "contiguous HDF5, Zarr, folders of them) open whatever their size; what a file copies into memory "
               "(`.npz`, `.pt`, parquet, CSV, compressed HDF5) is capped at `PROBING_MAX_UPLOAD_MB` (default 2048). "
               "Symbolic links inside the allowed folders are refused.")


def recovery_section(ws) -> None:
    """What the workspace repaired when it was opened, and the files it could not explain (in ``lost+found/``)."""
    if ws.recovery_note:
        st.warning(widgets.escape(ws.recovery_note))
    lost = ws.lost_and_found()
    if lost:
        with st.expander(f"lost+found: {len(lost)} file(s) the workspace could not explain"):
            st.caption(f"Moved aside, never deleted: they are in `{ws.root / 'lost+found'}` on the server. Whoever "
                       "hosts the dashboard can inspect them, put them back or delete them.")
            st.markdown("\n".join(f"- {widgets.escape(f.original)} → {widgets.escape(f.name)} "
                                   f"({_human_bytes(f.size)}): {widgets.escape(f.reason)}" for f in lost))


def workspace_section() -> None:
    ws = datasets.workspace()
    st.subheader("Saved datasets")
    st.caption(f"Datasets you generated or uploaded persist here across restarts (`{ws.root}`), stored by "
               "fingerprint so the same data is kept once. Entries whose file is damaged are flagged under "
               "*problem*; they cannot be opened but can be deleted.")
    recovery_section(ws)
    table = ws.datasets_frame()
    if table.empty:
        st.info("The workspace is empty. Generated and uploaded datasets are saved here automatically.")
        _show_note("workspace")
        return
    st.dataframe(truncate_texts(table), hide_index=True, width="stretch")
    rows = table.set_index("fingerprint")
    fingerprint = st.selectbox("Dataset", list(rows.index), key="ws_pick",
                               format_func=lambda fp: f"{rows.loc[fp, 'name']} · {rows.loc[fp, 'shape']} · {fp}")
    broken = bool(rows.loc[fingerprint, "problem"])
    owner, user = rows.loc[fingerprint, "owner"] or None, auth.current_user()
    others = owner not in (None, user)  # owned by someone else: only they may rename or delete it
    c1, c2, c3 = st.columns(3)
    c1.button("Open", key="ws_open", on_click=_on_open_saved, args=(fingerprint,), disabled=broken, type="primary")
    c2.text_input("New name", value=rows.loc[fingerprint, "name"], key=f"ws_new_name_{fingerprint}", disabled=others)
    c2.button("Rename", key="ws_rename", on_click=_on_rename, args=(fingerprint,), disabled=others)
    confirmed = c3.checkbox("Yes, delete this dataset", key="ws_confirm", disabled=others)
    c3.button("Delete", key="ws_delete", on_click=_on_delete, args=(fingerprint,), disabled=not confirmed or others)
    _owner_note(st, owner, user, "rename or delete")
    _show_note("workspace")


def _on_open_result_dataset(fingerprint: str) -> None:
    try:
        aset = links.find_dataset(fingerprint)
    except ProbingInputError as exc:
        _note("results", "error", widgets.escape(str(exc)))
        return
    if aset is None:
        _note("results", "warning", f"The dataset `{fingerprint}` is not in this workspace or bundled (it may have "
                                    "been deleted); upload it again to recompute this result.")
        return
    state.add_dataset(aset)
    _note("results", "success", f"**{widgets.escape(aset.name)}** is now the active dataset.")


def _on_delete_result(result_id: str) -> None:
    st.session_state["res_confirm"] = False
    try:
        datasets.workspace().delete_result(result_id, user=auth.current_user())
    except ProbingInputError as exc:
        _note("results", "error", widgets.escape(str(exc)))
        return
    st.session_state.pop("res_pick", None)
    st.session_state.pop("res_open", None)
    _note("results", "success", f"Deleted the saved result `{result_id}`.")


def _owner_note(where, owner: str | None, user: str | None, action: str) -> None:
    """Say who alone may ``action`` an entry, when that is not the current user (``owner=None``: anyone may)."""
    if owner not in (None, user):
        you = f"**{widgets.escape(user)}**" if user else "not logged in"
        where.caption(f"Only **{widgets.escape(owner)}** can {action} it; you are {you}.")


def _when(created_at: str) -> str:
    return created_at[:16].replace("T", " ") + " UTC"


def show_result(stored) -> None:
    """A saved result opened: its parameters, its tables and a way back to its dataset and page."""
    entry = stored.entry
    who = f"by **{widgets.escape(entry.owner)}**" if entry.owner else "without a login"
    st.markdown(f"**{widgets.escape(entry.name)}** ({widgets.escape(entry.kind)}), saved {who} on "
                f"{_when(entry.created_at)}.")
    st.caption("The parameters that produced it (the page's settings):")
    st.json(entry.params, expanded=True)
    tables = results.payload_tables(stored.payload)
    for name, table in tables.items():
        st.caption(f"Table **{widgets.escape(name)}** ({len(table)} rows):")
        st.dataframe(truncate_texts(table), hide_index=True, width="stretch")
    if not tables:
        st.json(stored.payload, expanded=False)
    if entry.fingerprint:
        page = RESULT_PAGES.get(entry.kind)
        c1, c2 = st.columns(2)
        c1.button("Open its dataset", key="res_dataset", on_click=_on_open_result_dataset, args=(entry.fingerprint,),
                  help="Make the dataset this result was computed on the active one, to recompute or explore it.")
        if page is not None:
            c2.page_link(page[0], label=f"Go to the {page[1]} page", icon=":material/arrow_forward:")
    url = results.view_url(entry.params.get("view") if isinstance(entry.params, dict) else None)
    if url is not None:
        st.markdown(f"[Open this view]({url})")
        st.caption("The page with the same dataset and settings as when it was saved (its share link), to check or "
                   "vary the result.")


def results_section() -> None:
    ws = datasets.workspace()
    st.subheader("Saved results")
    st.caption("Probe sweeps, PCA views and steering sweeps saved with *Save this result* on their pages, with the "
               "parameters that made them. Everyone using this workspace sees them; only whoever saved one can "
               "delete it (anyone, if it was saved without a login).")
    entries = {entry.id: entry for entry in ws.list_results()}
    if not entries:
        st.info("No saved results yet. Save one from the Probes, PCA or Steering page.")
        _show_note("results")
        return
    st.dataframe(pd.DataFrame([{"kind": e.kind, "name": e.name, "saved by": e.owner or "(no login)", "when": _when(e.created_at),
                                "dataset": e.fingerprint or "", "id": e.id} for e in entries.values()]),
                 hide_index=True, width="stretch")
    result_id = st.selectbox("Result", list(entries), key="res_pick", format_func=lambda i: (
        f"{entries[i].name} · {entries[i].kind} · {_when(entries[i].created_at)}"))
    entry = entries[result_id]
    try:
        stored = ws.load_result(result_id)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
        stored = None
    user = auth.current_user()
    may_delete = entry.owner is None or entry.owner == user
    c1, c2, c3 = st.columns(3)
    opened = c1.toggle("Open", key="res_open", disabled=stored is None, help="Show its parameters and tables.")
    if stored is not None:
        payload = stored.payload if isinstance(stored.payload, dict) else {}
        document = results.result_json(entry.kind, entry.name, entry.params, results.payload_tables(stored.payload),
                                  payload.get("dataset") or {"fingerprint": entry.fingerprint},
                                  {**stored.versions, **payload.get("versions", {})}, entry.owner, entry.created_at)
        with c2:
            results.download_result_json(document, f"{entry.kind}_{entry.id}.json", key="res_json")
    confirmed = c3.checkbox("Yes, delete this result", key="res_confirm", disabled=not may_delete)
    c3.button("Delete", key="res_delete", on_click=_on_delete_result, args=(result_id,),
              disabled=not (confirmed and may_delete))
    _owner_note(c3, entry.owner, user, "delete")
    if opened and stored is not None:
        show_result(stored)
    _show_note("results")


st.title("Data")
st.markdown("An **ActivationSet** holds what a model computed for a set of inputs: `acts` of shape "
            "**(n_samples, n_layers, d)**, one d-dimensional vector per input at every layer, plus **labels** (one "
            "value per input, what a probe tries to read off) and **meta** (text, ids). Every page works on the "
            "active dataset chosen in the sidebar.")
tabs = st.tabs(["Summary", "Generate", "Bundled", "Upload", "Open a path", "Workspace"])
with tabs[0]:
    summary_section(state.active_dataset())
with tabs[1]:
    generate_section()
with tabs[2]:
    bundled_section()
with tabs[3]:
    upload_section()
with tabs[4]:
    path_section()
with tabs[5]:
    workspace_section()
    direction_list.directions_section()
    results_section()
