"""Streamlit helpers shared by the pages: the active dataset, pickers, progress, downloads.

Pages stay thin: read widgets (helpers here), call one ``probing`` function, draw the
result. This is the only module besides ``app.py`` and ``views/`` that imports streamlit.
"""

from __future__ import annotations

import glob
import io
import os
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
