"""Rebuilding the workspace catalogue from the files, and ``lost+found/`` for files nobody can explain.

The catalogue is an index, never the only copy of anything: each dataset file
``datasets/<fingerprint>.safetensors`` has a sidecar ``datasets/<fingerprint>.json`` holding
its catalogue row, and each result file ``results/<id>.json`` holds its own row.
:func:`reconcile` re-catalogues any file the catalogue does not know from those, so a
damaged or lost catalogue is rebuilt from the files alone. Nothing finished is unlinked:
the store's own temporary files (hidden files named after an entry, ``.<id>.…``) are
removed once older than a grace period; any other file the workspace cannot explain is
moved to ``lost+found/`` with a note saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from probing.errors import ProbingInputError
from probing.io.catalogue import (
    DATASET_COLUMNS,
    RESULT_COLUMNS,
    SIDECAR_FORMAT,
    checksum,
    now,
    stamp,
    write_sidecar,
)
from probing.io.dispatch import load_activations

LOST_FOUND = "lost+found"
TEMP_NAME = re.compile(r"\.+[0-9a-f]{8,64}\..+")
"""The store's temporary files: hidden, named after an entry (``atomic_write``'s ``.<name>.<random>.tmp``)."""
_CONTENT = re.compile(r"([0-9a-f]{8,64})\.safetensors")
_ENTRY_JSON = re.compile(r"([0-9a-f]{8,64})\.json")
_OPTIONAL_TEXT = (str, type(None))
_DATASET_TYPES = {"fingerprint": str, "name": str, "n_samples": int, "n_layers": int, "d": int, "dtype": str,
                  "nbytes": int, "file_bytes": int, "checksum": str, "labels": list, "owner": _OPTIONAL_TEXT,
                  "created_at": str, "source": str}
_RESULT_TYPES = {"id": str, "kind": str, "name": str, "params": dict, "fingerprint": _OPTIONAL_TEXT,
                 "owner": _OPTIONAL_TEXT, "created_at": str}


@dataclass(frozen=True)
class LostFile:
    """A file the workspace could not explain, kept in ``lost+found/``: where it was and why it was moved."""

    name: str
    original: str
    moved_at: str
    reason: str
    size: int


@dataclass
class Recovery:
    """What :func:`reconcile` did: entries re-catalogued from their files, files moved to ``lost+found/``."""

    datasets: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    lost: list[LostFile] = field(default_factory=list)
    temporaries_removed: int = 0

    def describe(self, damage: str | None, aside: Path | None, rebuild: bool) -> str | None:
        """One paragraph for the Data page saying what was repaired (``None`` when nothing was).

        ``damage`` is why the catalogue was set aside (or ``None``), ``aside`` where it was
        kept, ``rebuild`` whether the rebuild was asked for.
        """
        found = (f"{len(self.datasets)} dataset(s) and {len(self.results)} result(s) were re-catalogued from "
                 "their files")
        parts = []
        if damage is not None:
            parts.append(f"The workspace catalogue was damaged ({damage}). It was kept as {aside.name} for "
                         f"inspection and rebuilt from the files: {found}.")
        elif rebuild:
            parts.append(f"The catalogue was rebuilt from the files on request (the old one is kept as "
                         f"{aside.name}): {found}.")
        elif self.datasets or self.results:
            parts.append(f"{found}: the catalogue did not list them (it was missing, emptied or lost recent changes).")
        if self.lost:
            names = "; ".join(f"{lost.original} ({lost.reason})" for lost in self.lost)
            parts.append(f"{len(self.lost)} file(s) the workspace could not explain were moved to {LOST_FOUND}/, "
                         f"not deleted: {names}.")
        return f"{now()[:19].replace('T', ' ')} UTC: " + " ".join(parts) if parts else None


def reconcile(root: Path, db: sqlite3.Connection, temp_age_s: float) -> Recovery:
    """Bring the catalogue in ``db`` in line with the files under ``root`` (call it under :func:`workspace_lock`).

    Temporary files older than ``temp_age_s`` are removed; catalogued datasets without a
    sidecar get one (workspaces saved before sidecars existed); datasets and results the
    catalogue does not know are re-catalogued from their sidecar or file; anything else goes
    to ``lost+found/``.
    """
    recovery = Recovery()
    cutoff = time.time() - temp_age_s
    known = {"datasets": {r[0] for r in db.execute("SELECT fingerprint FROM datasets")},
             "results": {r[0] for r in db.execute("SELECT id FROM results")}}
    files = {}
    for folder in ("datasets", "results"):
        files[folder] = {}
        for path in sorted((root / folder).iterdir()):
            if path.is_dir() and not path.is_symlink():
                continue
            if TEMP_NAME.fullmatch(path.name):
                recovery.temporaries_removed += _remove_if_older(path, cutoff)
            else:
                files[folder][path.name] = path
    datasets = files["datasets"]
    contents = {m[1]: p for name, p in datasets.items() if (m := _CONTENT.fullmatch(name))}
    sidecars = {m[1]: p for name, p in datasets.items() if (m := _ENTRY_JSON.fullmatch(name))}
    for fingerprint in sorted(known["datasets"] - set(sidecars)):
        row = db.execute("SELECT * FROM datasets WHERE fingerprint=?", (fingerprint,)).fetchone()
        write_sidecar(root / "datasets" / f"{fingerprint}.json", dict(row))
    for fingerprint in sorted((set(contents) | set(sidecars)) - known["datasets"]):
        _adopt_dataset(root, db, fingerprint, contents.get(fingerprint), sidecars.get(fingerprint), recovery)
    explained = {p.name for p in (*contents.values(), *sidecars.values())}
    for name, path in datasets.items():
        if name not in explained:
            recovery.lost.append(move_to_lost_found(root, path, "not a file the workspace writes"))
    for name, path in files["results"].items():
        match = _ENTRY_JSON.fullmatch(name)
        if match and match[1] in known["results"]:
            continue
        reason = _adopt_result(db, match[1], path) if match else "not a file the workspace writes"
        if reason is None:
            recovery.results.append(match[1])
        else:
            recovery.lost.append(move_to_lost_found(root, path, reason))
    return recovery


def move_to_lost_found(root: Path, path: Path, reason: str) -> LostFile:
    """Move ``path`` into ``<root>/lost+found/`` (never delete it) and record why in ``index.jsonl`` there."""
    folder = root / LOST_FOUND
    folder.mkdir(exist_ok=True)
    original = str(path.relative_to(root))
    moved = folder / f"{stamp()}-{original.replace(os.sep, '-')}"
    size = path.lstat().st_size
    shutil.move(path, moved)
    lost = LostFile(moved.name, original, now(), reason, size)
    with open(folder / "index.jsonl", "a") as index:
        index.write(json.dumps({k: getattr(lost, k) for k in ("name", "original", "moved_at", "reason")}) + "\n")
    return lost


def lost_and_found(root: Path) -> list[LostFile]:
    """The files now in ``lost+found/`` (an operator may have removed some), newest first, with their notes."""
    folder = root / LOST_FOUND
    if not folder.is_dir():
        return []
    notes = {}
    index = folder / "index.jsonl"
    for line in index.read_text(errors="replace").splitlines() if index.exists() else []:
        try:
            note = json.loads(line)
            notes[note["name"]] = note
        except (ValueError, KeyError, TypeError):
            continue
    found = []
    for path in folder.iterdir():
        if path.name == "index.jsonl":
            continue
        note = notes.get(path.name, {})
        found.append(LostFile(path.name, note.get("original", "?"), note.get("moved_at", ""),
                              note.get("reason", "no note (put here by hand?)"), path.lstat().st_size))
    return sorted(found, key=lambda f: (f.moved_at, f.name), reverse=True)


def _adopt_dataset(root: Path, db, fingerprint: str, content: Path | None, sidecar: Path | None,
                   recovery: Recovery) -> None:
    """Re-catalogue one dataset from its sidecar, else from its file's own header; else move it aside."""
    row, problem = (None, "no sidecar") if sidecar is None else _read_sidecar(sidecar, fingerprint)
    if content is None:
        if sidecar is not None:
            reason = f"describes a dataset whose file is missing ({problem or 'sidecar readable'})"
            recovery.lost.append(move_to_lost_found(root, sidecar, reason))
        return
    if row is None:
        row, unreadable = _row_from_file(content, fingerprint)
        if row is None:
            for path in (content, sidecar):
                if path is not None:
                    recovery.lost.append(move_to_lost_found(root, path, f"not a readable dataset ({unreadable})"))
            return
        if sidecar is not None:
            reason = f"unreadable sidecar ({problem}); a new one was made from the data file"
            recovery.lost.append(move_to_lost_found(root, sidecar, reason))
        write_sidecar(root / "datasets" / f"{fingerprint}.json", row)
    values = [json.dumps(row["labels"]) if k == "labels" else row[k] for k in DATASET_COLUMNS]
    db.execute(f"INSERT INTO datasets VALUES ({','.join('?' * len(DATASET_COLUMNS))})", values)
    recovery.datasets.append(fingerprint)


def _read_sidecar(path: Path, fingerprint: str) -> tuple[dict | None, str | None]:
    try:
        body = json.loads(path.read_text())
        if body.get("format") != SIDECAR_FORMAT or body.get("fingerprint") != fingerprint:
            return None, "not a sidecar for this fingerprint"
        return _fields(body, _DATASET_TYPES), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _fields(body: dict, types: dict) -> dict:
    """The fields ``types`` names, each of its type (``KeyError``/``TypeError`` otherwise)."""
    row = {key: body[key] for key in types}
    wrong = [key for key, kind in types.items() if not isinstance(row[key], kind) or isinstance(row[key], bool)]
    if wrong:
        raise TypeError(f"fields {wrong} have the wrong type")
    return row


def _row_from_file(path: Path, fingerprint: str) -> tuple[dict | None, str | None]:
    """A catalogue row read from a dataset file's own header (name as stored, no owner)."""
    try:
        aset = load_activations(path, max_bytes=path.stat().st_size + 1)
    except Exception as exc:  # noqa: BLE001 -- whatever a damaged file raises, it goes to lost+found, not up
        text = str(exc).split(". ")[0] if isinstance(exc, ProbingInputError) else f"{type(exc).__name__}: {exc}"
        return None, text[:300]
    stat = path.stat()
    created = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="microseconds")
    return {"fingerprint": fingerprint, "name": aset.name, "n_samples": aset.n_samples, "n_layers": aset.n_layers,
            "d": aset.d, "dtype": str(aset.acts.dtype), "nbytes": aset.nbytes, "file_bytes": stat.st_size,
            "checksum": checksum(path), "labels": list(aset.labels), "owner": None, "created_at": created,
            "source": "recovered"}, None


def _adopt_result(db, result_id: str, path: Path) -> str | None:
    """Re-catalogue one result from its own file; the reason it cannot be, or ``None`` when done."""
    try:
        body = json.loads(path.read_text())
        row = _fields(body, _RESULT_TYPES)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"not a readable result ({type(exc).__name__}: {exc})"
    if row["id"] != result_id or "payload" not in body:
        return "not a result saved by this workspace (id or fields do not match)"
    values = [json.dumps(row["params"]) if k == "params" else row[k] for k in RESULT_COLUMNS]
    db.execute(f"INSERT INTO results VALUES ({','.join('?' * len(RESULT_COLUMNS))})", values)
    return None


def _remove_if_older(path: Path, cutoff: float) -> int:
    try:
        if path.lstat().st_mtime <= cutoff:
            path.unlink()
            return 1
    except OSError:
        pass
    return 0


__all__ = ["LOST_FOUND", "TEMP_NAME", "LostFile", "Recovery", "lost_and_found", "move_to_lost_found", "reconcile"]
