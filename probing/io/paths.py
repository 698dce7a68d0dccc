"""Paths on a server: everything a load reads stays inside the allowed folders, symbolic links included.

A hosted dashboard opens paths typed by its users, but only under the folders its operator
listed (``PROBING_DATA_ROOTS``, passed here as ``roots``). :func:`check_path` resolves the
path typed (``..`` and links in it count where they lead), then walks the whole file, folder,
Zarr store or glob match without following links and refuses any symbolic link or special
file under it: a chunk file of a Zarr store that links to ``/app/.streamlit/secrets.toml``
is never opened. Files are then opened with ``O_NOFOLLOW`` (:class:`probing.io.readers.Source`).
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

from probing.errors import ProbingInputError

GLOB_CHARS = "*?["


def is_glob(path) -> bool:
    """True for a pattern (``*``, ``?``, ``[``) that is not an existing file or folder."""
    text = str(path)
    return not Path(text).exists() and any(c in text for c in GLOB_CHARS)


def inside(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def check_path(path, roots) -> Path:
    """The resolved ``path`` (a file, folder or glob), after checking it and all it holds stays inside ``roots``.

    Parameters
    ----------
    path : str or Path
        What the user typed. ``..`` and symbolic links in it are resolved first, and the
        result must lie inside one of ``roots``.
    roots : sequence of str or Path
        The folders that may be read.

    Returns
    -------
    Path
        The resolved path (a glob keeps its pattern, under its resolved folder).

    Raises
    ------
    ProbingInputError
        When the path lies outside ``roots``, does not exist, or anything under it (a glob
        match, a file of a folder or Zarr store, at any depth) is a symbolic link or a special file.
    """
    roots = [Path(root).expanduser().resolve() for root in roots]
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ProbingInputError(f"{str(path)!r} is not a usable path ({exc}). Type an absolute path.") from exc
    if not inside(resolved, roots):  # before looking at it, so nothing outside the roots is even probed
        raise _outside(resolved, roots)
    if is_glob(resolved):
        for match in sorted(glob.glob(str(resolved))):
            check_tree(Path(match), roots)
    elif not resolved.exists():
        raise ProbingInputError(f"Nothing exists at {resolved}. Check the spelling; relative paths start at {Path.cwd()}.")
    else:
        check_tree(resolved, roots)
    return resolved


def check_tree(path: Path, roots: list[Path]) -> None:
    """Walk ``path`` and everything under it without following links; refuse links, special files, or leaving ``roots``."""
    if not inside(Path(os.path.abspath(path)), roots):
        raise _outside(Path(os.path.abspath(path)), roots)
    pending = [Path(path)]
    while pending:
        entry = pending.pop()
        mode = os.lstat(entry).st_mode
        if stat.S_ISLNK(mode) and not inside(entry.resolve(), roots):
            raise ProbingInputError(f"{entry} is a symbolic link leading outside the folders this server may open "
                                    f"({', '.join(str(r) for r in roots)}), so it is refused. Copy the file itself in.")
        if stat.S_ISLNK(mode):
            raise ProbingInputError(
                f"{entry} is a symbolic link. Links inside a data folder could lead outside "
                "the folders this server may open, so none are followed. Replace the link by the file itself (copy it in).")
        if stat.S_ISDIR(mode):
            with os.scandir(entry) as listing:
                pending.extend(Path(item.path) for item in listing)
        elif not stat.S_ISREG(mode):
            raise ProbingInputError(f"{entry} is not a regular file or folder (a device, pipe or socket); only files are "
                                    "opened. Remove it from the data folder.")


def _outside(path: Path, roots: list[Path]) -> ProbingInputError:
    return ProbingInputError(
        f"{path} is outside the folders this server may open ({', '.join(str(r) for r in roots)}; symlinks and '..' "
        "count where they lead). Move or copy the data into one of them, or ask whoever hosts the dashboard to add "
        "its folder.")
