"""The workspace: datasets and results that persist across restarts and are shared by a team.

Layout under the workspace root (``PROBING_WORKSPACE``, default ``./workspace``)::

    catalogue.sqlite                 one row per dataset / result (SQLite, WAL mode)
    datasets/<fingerprint>.safetensors   content-addressed activation files
    results/<id>.json                    saved results: kind, name, params, payload, versions
    directions/                          saved direction sets (:mod:`probing.io.direction_store`)

Every file is written atomically (temporary file, fsync, ``os.replace``) and its
catalogue row is inserted only after the file is complete, so a process killed at any
moment leaves either the whole entry or none. Rows are deleted before their files for
the same reason. Temporary and unreferenced files left by a crash are removed when a
workspace is opened. Each call opens its own SQLite connection, so one ``Workspace``
can be shared by the threads of a Streamlit server.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
import threading
import time
import uuid
import zlib
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.directions import DirectionSet
from probing.io.direction_store import DirectionEntry, DirectionStore
from probing.io.dispatch import load_activations, save_activations
from probing.io.writers import atomic_write

_HEX = re.compile(r"[0-9a-f]{8,64}")
_STORED_NAME = re.compile(r"[0-9a-f]{8,64}\.(safetensors|json)")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, n_samples INTEGER NOT NULL, n_layers INTEGER NOT NULL,
    d INTEGER NOT NULL, dtype TEXT NOT NULL, nbytes INTEGER NOT NULL, file_bytes INTEGER NOT NULL,
    checksum TEXT NOT NULL, labels TEXT NOT NULL, owner TEXT, created_at TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, fingerprint TEXT,
    owner TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_kind ON results (kind);
"""
_write_locks: dict[tuple[str, str], threading.Lock] = {}
_write_locks_guard = threading.Lock()


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset in the workspace catalogue.

    ``problem`` is ``None`` when the file looks intact, else what is wrong with it
    (missing, truncated); such entries are listed so they can be deleted, but not opened.
    """

    fingerprint: str
    name: str
    n_samples: int
    n_layers: int
    d: int
    dtype: str
    nbytes: int
    file_bytes: int
    labels: tuple[str, ...]
    owner: str | None
    created_at: str
    source: str
    problem: str | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_samples, self.n_layers, self.d)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class ResultEntry:
    """One saved result: what kind (e.g. ``"probe_sweep"``), its name, parameters and provenance."""

    id: str
    kind: str
    name: str
    params: dict
    fingerprint: str | None
    owner: str | None
    created_at: str


@dataclass(frozen=True)
class StoredResult:
    """A loaded result: its catalogue entry, payload (dict or DataFrame) and package versions."""

    entry: ResultEntry
    payload: dict | pd.DataFrame
    versions: dict


class Workspace:
    """Persisted datasets and results under one directory.

    Parameters
    ----------
    root : str or Path, optional
        Workspace directory; defaults to ``$PROBING_WORKSPACE`` or ``./workspace``.
        Created if missing.
    orphan_age_s : float
        Temporary or unreferenced files older than this many seconds are deleted on
        open (younger ones may belong to a write in progress in another process).
    """

    def __init__(self, root=None, orphan_age_s: float = 600.0):
        self.root = Path(root if root is not None else os.environ.get("PROBING_WORKSPACE", "workspace"))
        self.datasets_dir = self.root / "datasets"
        self.results_dir = self.root / "results"
        self.catalogue_path = self.root / "catalogue.sqlite"
        try:
            self.datasets_dir.mkdir(parents=True, exist_ok=True)
            self.results_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProbingInputError(f"Cannot create the workspace at {self.root}: {exc}. "
                                    "Set PROBING_WORKSPACE to a writable directory.") from exc
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._remove_orphans(orphan_age_s)

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.root)!r})"

    # -- datasets ---------------------------------------------------------------------------

    def add_dataset(self, aset: ActivationSet, owner: str | None = None, source: str = "upload") -> DatasetEntry:
        """Save ``aset`` under its fingerprint and catalogue it; a no-op if it is already there.

        Parameters
        ----------
        aset : ActivationSet
            The dataset; its ``name`` becomes the entry's name.
        owner : str, optional
            Who saved it (the logged-in user on a hosted dashboard).
        source : str
            Where it came from: ``"upload"``, ``"synthetic"``, ``"extract"``, ...

        Returns
        -------
        DatasetEntry
            The new entry, or the existing one (with its name and owner) for a known fingerprint.
        """
        fingerprint = aset.fingerprint
        with _write_lock(self.root, fingerprint):
            existing = self._dataset_row(fingerprint)
            if existing is not None and existing.ok:
                return existing
            path = self._dataset_path(fingerprint)
            save_activations(aset, path)
            row = (fingerprint, aset.name, aset.n_samples, aset.n_layers, aset.d, str(aset.acts.dtype), aset.nbytes,
                   path.stat().st_size, _checksum(path), json.dumps(list(aset.labels)), owner, _now(), source)
            with self._db() as db:
                db.execute("INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(fingerprint) DO UPDATE "
                           "SET file_bytes=excluded.file_bytes, checksum=excluded.checksum", row)
        return self.get_dataset(fingerprint)

    def list_datasets(self) -> list[DatasetEntry]:
        """All catalogued datasets, newest first; broken files are flagged in ``problem``, never raised."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC").fetchall()
        return [self._entry(row) for row in rows]

    def datasets_frame(self) -> pd.DataFrame:
        """:meth:`list_datasets` as a table for display (one row per dataset)."""
        columns = ["name", "fingerprint", "shape", "dtype", "size_mb", "labels", "owner", "created_at", "source",
                   "problem"]
        rows = [{"name": e.name, "fingerprint": e.fingerprint, "shape": " × ".join(map(str, e.shape)),
                 "dtype": e.dtype, "size_mb": round(e.nbytes / 2**20, 3), "labels": ", ".join(e.labels),
                 "owner": e.owner or "", "created_at": e.created_at, "source": e.source, "problem": e.problem or ""}
                for e in self.list_datasets()]
        return pd.DataFrame(rows, columns=columns)

    def get_dataset(self, fingerprint: str) -> DatasetEntry:
        """The catalogue entry of one dataset; :class:`ProbingInputError` if it is unknown."""
        entry = self._dataset_row(_check_hex(fingerprint, "dataset fingerprint"))
        if entry is None:
            raise ProbingInputError(
                f"No dataset with fingerprint {fingerprint!r} in the workspace at {self.root}; it may have been "
                "deleted. Pick one from the workspace list or upload the file again.")
        return entry

    def load_dataset(self, fingerprint: str) -> ActivationSet:
        """Open a saved dataset, checking its file against the checksum recorded when it was saved.

        Raises
        ------
        ProbingInputError
            Unknown fingerprint, or a missing, truncated or corrupted file.
        """
        entry = self.get_dataset(fingerprint)
        path = self._dataset_path(entry.fingerprint)
        fix = "Delete this entry from the workspace and add the dataset again."
        if entry.problem is not None:
            raise ProbingInputError(f"Dataset {entry.name!r} ({entry.fingerprint}) cannot be opened: {entry.problem}. {fix}")
        with self._db() as db:
            checksum = db.execute("SELECT checksum FROM datasets WHERE fingerprint=?", (entry.fingerprint,)).fetchone()[0]
        if _checksum(path) != checksum:
            raise ProbingInputError(f"Dataset {entry.name!r} ({entry.fingerprint}) is corrupted: its file {path} no "
                                    f"longer matches the checksum recorded when it was saved. {fix}")
        try:
            return load_activations(path, name=entry.name)
        except ProbingInputError as exc:
            raise ProbingInputError(f"Dataset {entry.name!r} ({entry.fingerprint}) could not be read: {exc} {fix}") from exc

    def rename_dataset(self, fingerprint: str, new_name: str) -> DatasetEntry:
        """Give a saved dataset a new display name (the file and fingerprint stay)."""
        new_name = _check_name(new_name)
        entry = self.get_dataset(fingerprint)
        with self._db() as db:
            db.execute("UPDATE datasets SET name=? WHERE fingerprint=?", (new_name, entry.fingerprint))
        return self.get_dataset(fingerprint)

    def delete_dataset(self, fingerprint: str, user: str | None = None) -> None:
        """Remove a dataset's row, then its file. Only its owner may delete an owned dataset."""
        entry = self.get_dataset(fingerprint)
        _check_owner(entry.owner, user, f"dataset {entry.name!r}")
        with self._db() as db:
            db.execute("DELETE FROM datasets WHERE fingerprint=?", (entry.fingerprint,))
        self._dataset_path(entry.fingerprint).unlink(missing_ok=True)

    # -- results ----------------------------------------------------------------------------

    def save_result(self, kind: str, name: str, params: dict, payload: dict | pd.DataFrame,
                    owner: str | None = None, fingerprint: str | None = None) -> str:
        """Save a result (a probe sweep, a PCA view, ...) as a JSON file and catalogue it.

        Parameters
        ----------
        kind : str
            What it is, e.g. ``"probe_sweep"``; :meth:`list_results` filters on it.
        name : str
            Display name.
        params : dict
            The parameters that reproduce it (JSON-serialisable; numpy scalars/arrays are converted).
        payload : dict or pandas.DataFrame
            The result itself.
        owner : str, optional
            Who saved it; only they may delete it.
        fingerprint : str, optional
            The dataset it was computed on.

        Returns
        -------
        str
            The result's id (32 hex characters).
        """
        kind, name = _check_name(kind, "kind"), _check_name(name)
        if fingerprint is not None:
            _check_hex(fingerprint, "dataset fingerprint")
        if not isinstance(params, dict) or not isinstance(payload, (dict, pd.DataFrame)):
            raise ProbingInputError(f"params must be a dict and payload a dict or DataFrame; got "
                                    f"{type(params).__name__} and {type(payload).__name__}.")
        result_id = uuid.uuid4().hex
        created_at = _now()
        is_frame = isinstance(payload, pd.DataFrame)
        body = {"id": result_id, "kind": kind, "name": name, "params": params, "fingerprint": fingerprint,
                "owner": owner, "created_at": created_at, "versions": _versions(),
                "payload_type": "frame" if is_frame else "dict",
                "payload": {"columns": list(payload.columns), "data": payload.to_numpy(object).tolist()}
                if is_frame else payload}
        text = _dumps(body)
        atomic_write(self._result_path(result_id), lambda f: f.write(text.encode()))
        with self._db() as db:
            db.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?)",
                       (result_id, kind, name, _dumps(params), fingerprint, owner, created_at))
        return result_id

    def list_results(self, kind: str | None = None) -> list[ResultEntry]:
        """Saved results, newest first, optionally of one ``kind``."""
        query, args = "SELECT * FROM results", ()
        if kind is not None:
            query, args = query + " WHERE kind=?", (kind,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY created_at DESC, rowid DESC", args).fetchall()
        return [_result_entry(row) for row in rows]

    def load_result(self, result_id: str) -> StoredResult:
        """Open a saved result; :class:`ProbingInputError` if unknown or its file is unreadable."""
        entry = self._result_row(result_id)
        try:
            body = json.loads(self._result_path(entry.id).read_text())
            payload = body["payload"]
            if body["payload_type"] == "frame":
                payload = pd.DataFrame(payload["data"], columns=payload["columns"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProbingInputError(f"Saved result {entry.name!r} ({entry.id}) cannot be read ({exc}). "
                                    "Delete it and save it again.") from exc
        return StoredResult(entry, payload, body.get("versions", {}))

    def delete_result(self, result_id: str, user: str | None = None) -> None:
        """Remove a result's row, then its file. Only its owner may delete an owned result."""
        entry = self._result_row(result_id)
        _check_owner(entry.owner, user, f"result {entry.name!r}")
        with self._db() as db:
            db.execute("DELETE FROM results WHERE id=?", (entry.id,))
        self._result_path(entry.id).unlink(missing_ok=True)

    # -- direction sets (stored by probing.io.direction_store under <root>/directions) ------------

    @cached_property
    def direction_store(self) -> DirectionStore:
        """The workspace's :class:`~probing.io.direction_store.DirectionStore` (opened, and recovered, on first use)."""
        return DirectionStore(self.root / "directions")

    def add_directions(self, dirset: DirectionSet, owner: str | None = None) -> DirectionEntry:
        """Save a :class:`~probing.directions.DirectionSet` for everyone; a no-op if the same set is saved already."""
        return self.direction_store.add(dirset, owner)

    def list_directions(self, dataset: str | None = None, layer=None) -> list[DirectionEntry]:
        """Saved direction sets, newest first, optionally of one dataset fingerprint and one layer (index or name)."""
        return self.direction_store.list(dataset, layer)

    def load_directions(self, direction_id: str, max_rows: int | None = None) -> DirectionSet:
        """Open a saved direction set (its first ``max_rows`` rows if given)."""
        return self.direction_store.load(direction_id, max_rows)

    def delete_directions(self, direction_id: str, user: str | None = None) -> None:
        """Delete a saved direction set; only its owner may delete an owned set."""
        self.direction_store.delete(direction_id, user)

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _db(self):
        """A fresh connection for one transaction (committed on success, rolled back on error)."""
        try:
            with closing(sqlite3.connect(self.catalogue_path, timeout=30)) as db:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA synchronous=FULL")
                with db:
                    yield db
        except sqlite3.DatabaseError as exc:
            raise ProbingInputError(f"The workspace catalogue {self.catalogue_path} cannot be used ({exc}). "
                                    "Move it aside to start a fresh catalogue.") from exc

    def _dataset_path(self, fingerprint: str) -> Path:
        return self.datasets_dir / f"{_check_hex(fingerprint, 'dataset fingerprint')}.safetensors"

    def _result_path(self, result_id: str) -> Path:
        return self.results_dir / f"{_check_hex(result_id, 'result id')}.json"

    def _dataset_row(self, fingerprint: str) -> DatasetEntry | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM datasets WHERE fingerprint=?", (fingerprint,)).fetchone()
        return None if row is None else self._entry(row)

    def _result_row(self, result_id: str) -> ResultEntry:
        with self._db() as db:
            row = db.execute("SELECT * FROM results WHERE id=?", (_check_hex(result_id, "result id"),)).fetchone()
        if row is None:
            raise ProbingInputError(f"No saved result with id {result_id!r} in the workspace at {self.root}; "
                                    "it may have been deleted.")
        return _result_entry(row)

    def _entry(self, row: sqlite3.Row) -> DatasetEntry:
        path = self._dataset_path(row["fingerprint"])
        try:
            size = path.stat().st_size
            problem = None if size == row["file_bytes"] else (
                f"its file is {size} bytes but was {row['file_bytes']} bytes when saved (truncated or overwritten)")
        except FileNotFoundError:
            problem = f"its file {path.name} is missing"
        fields = {k: row[k] for k in row.keys() if k != "checksum"}
        return DatasetEntry(**{**fields, "labels": tuple(json.loads(row["labels"])), "problem": problem})

    def _remove_orphans(self, min_age_s: float) -> None:
        """Delete temporary files and files with no catalogue row, older than ``min_age_s``."""
        with self._db() as db:
            known = {f"{fp}.safetensors" for (fp,) in db.execute("SELECT fingerprint FROM datasets")}
            known |= {f"{rid}.json" for (rid,) in db.execute("SELECT id FROM results")}
        cutoff = time.time() - min_age_s
        for folder in (self.datasets_dir, self.results_dir):
            for path in folder.iterdir():
                try:
                    if path.is_file() and path.name not in known and path.stat().st_mtime <= cutoff:
                        path.unlink()
                except OSError:
                    continue


def _check_hex(value, what: str) -> str:
    """Accept only lowercase hex ids, so an id can never name a path outside the workspace."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ProbingInputError(f"Invalid {what} {value!r}: expected 8-64 lowercase hex characters "
                                "(as shown in the workspace list).")
    return value


def _check_name(value, what: str = "name") -> str:
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > 200:
        raise ProbingInputError(f"The {what} must be 1-200 characters; got {value!r}.")
    return text


def _check_owner(owner: str | None, user: str | None, what: str) -> None:
    if owner is not None and user != owner:
        raise ProbingInputError(f"Only {owner!r} can delete {what}; you are {user or 'not logged in'}.")


@contextmanager
def _write_lock(root: Path, fingerprint: str):
    """Serialise writers of the same file within this process (Streamlit sessions are threads)."""
    with _write_locks_guard:
        lock = _write_locks.setdefault((str(root.resolve()), fingerprint), threading.Lock())
    with lock:
        yield


def _checksum(path: Path) -> str:
    """CRC-32 of a file: catches accidental damage (bit flips, partial overwrites), not tampering."""
    crc = 0
    buffer = bytearray(8 * 2**20)
    view = memoryview(buffer)
    with open(path, "rb") as f:
        while size := f.readinto(buffer):
            crc = zlib.crc32(view[:size], crc)
    return f"crc32:{crc:08x}"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _dumps(obj) -> str:
    try:
        return json.dumps(obj, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ProbingInputError(f"A result's params and payload must be JSON-serialisable ({exc}). "
                                "Convert objects to numbers, strings, lists or dicts first.") from exc


def _result_entry(row: sqlite3.Row) -> ResultEntry:
    return ResultEntry(**{**{k: row[k] for k in row.keys()}, "params": json.loads(row["params"])})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _versions() -> dict:
    from probing import __version__

    return {"probing": __version__, "numpy": np.__version__, "pandas": pd.__version__,
            "python": platform.python_version()}


__all__ = ["DatasetEntry", "ResultEntry", "StoredResult", "Workspace"]
