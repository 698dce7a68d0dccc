"""Where datasets come from: the bundled files, paths on the server and the shared workspace.

Large shared objects (bundled datasets, the workspace) are cached with
``st.cache_resource`` so every session of a hosted dashboard shares one read-only copy.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import streamlit as st

from dashboard import auth
from probing import ActivationSet, ProbingInputError, load_activations
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
