"""Streamlit helpers shared by the pages: the active dataset, pickers, progress, downloads.

Pages stay thin: read widgets (helpers here), call one ``probing`` function, draw the
result. This is the only module besides ``app.py`` and ``views/`` that imports streamlit.
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import auth
from probing import ActivationSet, ProbingInputError

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"


DATA_ROOTS_ENV = "PROBING_DATA_ROOTS"


def data_roots() -> list[Path] | None:
    """Folders under which server paths may be opened (``PROBING_DATA_ROOTS``, ``os.pathsep``-separated).

    ``None`` when unset: then any path may be opened in open mode (a laptop) and none when
    a login is configured (a hosted server must list its data folders explicitly).
    """
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    roots = [Path(part).expanduser().resolve() for part in raw.split(os.pathsep) if part.strip()]
    return roots or None


def server_paths_disabled() -> str | None:
    """Why opening server paths is off (login configured, no ``PROBING_DATA_ROOTS``), or ``None`` when allowed."""
    if data_roots() is None and auth.mode() != auth.OPEN:
        return (f"Opening paths on the server is off: a login is configured and `{DATA_ROOTS_ENV}` is not set, so "
                "nobody can browse the server's files from here. Whoever hosts the dashboard can list the folders "
                f"that hold activation dumps in `{DATA_ROOTS_ENV}` (separated by `{os.pathsep}`) and restart it.")
    return None


def resolve_server_path(text: str) -> Path:
    """The real location of a path typed by the user (file, folder or glob), checked against :func:`data_roots`.

    Symlinks and ``..`` are resolved first, so nothing outside the allowed folders can be
    reached through them; every file a glob or folder lists must be inside too.

    Raises
    ------
    ProbingInputError
        When paths are disabled, the path is empty, missing or outside the allowed folders.
    """
    disabled = server_paths_disabled()
    if disabled:
        raise ProbingInputError(disabled)
    text = text.strip()
    if not text:
        raise ProbingInputError("Type a path on the server: a file, a folder of shards, a glob such as "
                                "`/data/acts/shard_*.npy`, a Zarr store or a SAELens cache.")
    try:
        path = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ProbingInputError(f"{text!r} is not a usable path ({exc}). Type an absolute path on the server.") from exc
    _require_inside_roots(path)  # before looking at the file, so nothing outside the roots is even probed
    is_glob = not path.exists() and any(c in str(path) for c in "*?[")
    if not is_glob and not path.exists():
        raise ProbingInputError(f"Nothing exists at `{path}` on the server. Check the spelling; relative paths start "
                                f"at `{Path.cwd()}`.")
    listed = [Path(p) for p in glob.glob(str(path))] if is_glob else (list(path.iterdir()) if path.is_dir() else [])
    for file in listed:  # a shard may be a symlink leading elsewhere
        _require_inside_roots(file.resolve())
    return path


def _require_inside_roots(path: Path) -> None:
    roots = data_roots()
    if roots is not None and not any(path.is_relative_to(root) for root in roots):
        raise ProbingInputError(
            f"`{path}` is outside the folders this server may open ({', '.join(f'`{r}`' for r in roots)}, from "
            f"`{DATA_ROOTS_ENV}`; symlinks and `..` count where they lead). Move or link the data into one of them, "
            "or ask whoever hosts the dashboard to add its folder.")


def workspace_dir() -> Path:
    """The workspace directory (``PROBING_WORKSPACE``, default ``./workspace``)."""
    return Path(os.environ.get("PROBING_WORKSPACE", ROOT / "workspace"))


def active_dataset() -> ActivationSet:
    """The dataset every page works on (set by the sidebar picker in ``app.py``)."""
    return st.session_state["dataset"]


def set_active_dataset(aset: ActivationSet) -> None:
    """Make ``aset`` the active dataset for all pages of this session."""
    st.session_state["dataset"] = aset


def dataset_caption(aset: ActivationSet) -> None:
    """One line naming the active dataset, its shape and fingerprint."""
    n, n_layers, d = aset.shape
    st.caption(f"Dataset **{aset.name}**: {n:,} samples x {n_layers} layers x {d} dims "
               f"({aset.acts.dtype}), fingerprint `{aset.fingerprint}`. Change it in the sidebar or on the Data page.")


def pick_layer(aset: ActivationSet, key: str, label: str = "Layer", default: int = -1) -> int:
    """A layer selectbox; returns the layer index."""
    options = list(range(aset.n_layers))
    return st.selectbox(label, options, index=default % aset.n_layers, key=key,
                        format_func=lambda i: f"{i}: {aset.layers[i]}")


def pick_label(aset: ActivationSet, key: str, label: str = "Label", categorical: bool = True) -> str | None:
    """A label selectbox (categorical labels only by default); ``None`` with a note when there are none."""
    names = aset.categorical_labels() if categorical else list(aset.labels)
    if not names:
        st.info("This dataset has no categorical labels. Add labels on the Data page (a CSV side file) to probe it.")
        return None
    default = names.index("label") if "label" in names else 0
    return st.selectbox(label, names, index=default, key=key)


def progress_callback(text: str):
    """A ``progress(fraction, message)`` callable that drives an ``st.progress`` bar."""
    bar = st.progress(0.0, text=text)

    def report(fraction: float, message: str = "") -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{text} {message}".strip())

    return report


def download_csv(df: pd.DataFrame, filename: str, label: str = "Download data (CSV)", key: str | None = None) -> None:
    """A download button with ``df`` as CSV: every chart's data can be downloaded."""
    st.download_button(label, df.to_csv(index=False).encode(), file_name=filename, mime="text/csv",
                       key=key or f"dl-{filename}")


def download_npy(array: np.ndarray, filename: str, label: str = "Download (.npy)", key: str | None = None) -> None:
    """A download button with ``array`` saved as ``.npy`` (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    st.download_button(label, buffer.getvalue(), file_name=filename, mime="application/octet-stream",
                       key=key or f"dl-{filename}")


def download_safetensors(tensors: dict[str, np.ndarray], filename: str, label: str = "Download (.safetensors)",
                         key: str | None = None) -> None:
    """A download button with named arrays saved as ``.safetensors``."""
    from safetensors.numpy import save

    data = save({name: np.ascontiguousarray(array) for name, array in tensors.items()})
    st.download_button(label, data, file_name=filename, mime="application/octet-stream", key=key or f"dl-{filename}")


def show_input_error(exc: ProbingInputError) -> None:
    """Show a :class:`ProbingInputError` as an error box with its fix, never a traceback."""
    st.error(str(exc))


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


DEFAULT_BUNDLED = "sentiment"


def bundled_datasets() -> dict[str, Path]:
    """Bundled activation files under ``data/`` by name (``data/<name>_minilm.safetensors``)."""
    return {p.name.removesuffix("_minilm.safetensors"): p for p in sorted(DATA_DIR.glob("*_minilm.safetensors"))}


@st.cache_resource(show_spinner="Opening bundled dataset ...")
def open_bundled(name: str) -> ActivationSet:
    """Load a bundled dataset once per process; every session shares the read-only copy."""
    from probing import load_activations

    aset = load_activations(bundled_datasets()[name], name=name)
    aset.acts.flags.writeable = False
    return aset


@st.cache_resource
def default_synthetic() -> ActivationSet:
    """The synthetic default (planted concept, 4 layers) when no bundled file is present."""
    from probing.synthetic import make_concept_embeddings

    aset, _ = make_concept_embeddings(n_samples=1000, d=64, n_concepts=2, n_layers=4, seed=0,
                                      name="synthetic (default)")
    aset.acts.flags.writeable = False
    return aset


def init_session() -> None:
    """Set up session state once: the datasets opened in this session and the active one."""
    if "datasets" in st.session_state:
        return
    bundled = bundled_datasets()
    default = open_bundled(DEFAULT_BUNDLED) if DEFAULT_BUNDLED in bundled else default_synthetic()
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
        aset = open_bundled(choice.removeprefix("bundled: "))
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
    options = list(opened) + [f"bundled: {name}" for name in bundled_datasets() if name not in opened]
    st.session_state["dataset_picker"] = aset.name
    st.sidebar.selectbox("Active dataset", options, key="dataset_picker", on_change=_on_pick,
                         help="Every page works on this dataset. Open, generate or upload more on the Data page.")
    st.sidebar.caption(f"{aset.n_samples:,} samples · {aset.n_layers} layers · d = {aset.d} · `{aset.fingerprint}`")


# -- saved results: save to the shared workspace, export as JSON ---------------------------------


@st.cache_resource(show_spinner=False)
def _open_workspace(root: str):
    """One workspace object per directory, shared by all sessions (it is thread-safe)."""
    from probing.store import Workspace

    return Workspace(root)


def workspace():
    """The shared :class:`probing.store.Workspace` under :func:`workspace_dir`."""
    return _open_workspace(str(workspace_dir()))


def package_versions() -> dict[str, str]:
    """Versions that produced a result: probing, python, numpy, pandas, scikit-learn, streamlit (torch if loaded)."""
    import platform
    import sys

    import sklearn

    from probing import __version__

    versions = {"probing": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "pandas": pd.__version__, "sklearn": sklearn.__version__, "streamlit": st.__version__}
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return versions


def dataset_info(aset: ActivationSet) -> dict:
    """The dataset a result was computed on: ``{"name", "fingerprint", "shape"}``."""
    return {"name": aset.name, "fingerprint": aset.fingerprint, "shape": list(aset.shape)}


def table_records(table: pd.DataFrame | list) -> list[dict]:
    """A table as JSON records (NaN becomes ``null``, numpy scalars plain numbers); records pass through."""
    if isinstance(table, pd.DataFrame):
        return json.loads(table.to_json(orient="records", double_precision=15, default_handler=str))
    return list(table)


def result_payload(tables: dict[str, pd.DataFrame], aset: ActivationSet) -> dict:
    """What :func:`save_result_control` stores: the tables as records, the dataset and the versions."""
    return {"tables": {name: table_records(t) for name, t in tables.items()}, "dataset": dataset_info(aset),
            "versions": package_versions()}


def payload_tables(payload: dict | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of a stored payload (as saved by :func:`save_result_control`, or one DataFrame)."""
    if isinstance(payload, pd.DataFrame):
        return {"result": payload}
    tables = payload.get("tables") if isinstance(payload.get("tables"), dict) else {}
    return {name: pd.DataFrame.from_records(records) for name, records in tables.items()}


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
    return json.dumps(document, indent=1, default=_json_scalar)


def _json_scalar(value):
    """numpy scalars and arrays as plain JSON; anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


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
                result_id = workspace().save_result(kind, name, params, result_payload(tables, aset),
                                                    owner=auth.current_user(), fingerprint=aset.fingerprint)
            except ProbingInputError as exc:
                show_input_error(exc)
            else:
                st.success(f"Saved **{auth.escape_markdown(name.strip())}** as `{result_id}`. The team finds it on "
                           "the Data page, Workspace tab, under *Saved results*.")
        download_result_json(result_json(kind, name, params, tables, dataset_info(aset), package_versions(),
                                         saved_by=auth.current_user()),
                             f"{_file_stem(name)}.json", key=f"{key}_json")
