"""Where datasets come from: the bundled files, paths on the server and the shared workspace.

Large shared objects (bundled datasets, the workspace) are cached with
``st.cache_resource`` so every session of a hosted dashboard shares one read-only copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import auth
from probing import ActivationSet, ProbingInputError, load_activations
from probing.io import paths
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
DEFAULT_BUNDLED = "sentiment"
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

    With roots set, :func:`probing.io.paths.check_path` resolves ``..`` and links in the path
    first (nothing outside the allowed folders is even probed), then walks everything under it
    (a folder of shards, a Zarr store, each glob match) without following links and refuses any
    symbolic link or special file. Open the result with
    ``load_activations(path, roots=data_roots())`` so files are opened without following links.

    Raises
    ------
    ProbingInputError
        When paths are disabled, the path is empty, missing, outside the allowed folders, or
        holds a symbolic link.
    """
    disabled = server_paths_disabled()
    if disabled:
        raise ProbingInputError(disabled)
    text = text.strip()
    if not text:
        raise ProbingInputError("Type a path on the server: a file, a folder of shards, a glob such as "
                                "`/data/acts/shard_*.npy`, a Zarr store or a SAELens cache.")
    roots = data_roots()
    if roots is not None:
        return paths.check_path(text, roots)
    try:
        path = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ProbingInputError(f"{text!r} is not a usable path ({exc}). Type an absolute path on the server.") from exc
    if not path.exists() and not paths.is_glob(path):
        raise ProbingInputError(f"Nothing exists at `{path}` on the server. Check the spelling; relative paths start "
                                f"at `{Path.cwd()}`.")
    return path


def bundled_datasets() -> dict[str, Path]:
    """Bundled activation files under ``data/`` by name (``data/<name>_minilm.safetensors``)."""
    return {p.name.removesuffix("_minilm.safetensors"): p for p in sorted(DATA_DIR.glob("*_minilm.safetensors"))}


@st.cache_resource(show_spinner="Opening bundled dataset ...")
def open_bundled(name: str) -> ActivationSet:
    """Load a bundled dataset once per process; every session shares the read-only copy."""
    aset = load_activations(bundled_datasets()[name], name=name)
    aset.acts.flags.writeable = False
    return aset


@st.cache_resource
def default_synthetic() -> ActivationSet:
    """The synthetic default (planted concept, 4 layers) when no bundled file is present."""
    aset, _ = make_concept_embeddings(n_samples=1000, d=64, n_concepts=2, n_layers=4, seed=0,
                                      name="synthetic (default)")
    aset.acts.flags.writeable = False
    return aset


def workspace_dir() -> Path:
    """The workspace directory (``PROBING_WORKSPACE``, default ``./workspace``)."""
    return Path(os.environ.get("PROBING_WORKSPACE", ROOT / "workspace"))


@st.cache_resource(show_spinner=False)
def _open_workspace(root: str) -> Workspace:
    """One workspace object per directory, shared by all sessions (it is thread-safe)."""
    return Workspace(root)


def workspace() -> Workspace:
    """The shared :class:`probing.store.Workspace` under :func:`workspace_dir`."""
    return _open_workspace(str(workspace_dir()))
