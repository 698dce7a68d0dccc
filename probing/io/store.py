"""The workspace: datasets and results that persist across restarts and are shared by a team.

Layout under the workspace root (``PROBING_WORKSPACE``, default ``./workspace``)::

    catalogue.sqlite                      index: one row per dataset / result (SQLite, WAL mode)
    catalogue.lock                        the cross-process write lock (``fcntl.flock``)
    datasets/<fingerprint>.safetensors    content-addressed data: equal data gives equal bytes
    datasets/<fingerprint>.json           its catalogue row: name, owner, source, created, labels, checksum
    results/<id>.json                     a saved result: kind, name, params, owner, payload, versions
    directions/                           saved direction sets (:mod:`probing.io.direction_store`)
    lost+found/                           files the workspace could not explain, with a note each

Every file is written atomically (temporary file, fsync, ``os.replace``) and catalogued
only once complete, under a lock shared by all processes, so a process killed at any moment
leaves either the whole entry or none, and two servers saving at once cannot interleave.
The catalogue is only an index: at open, a damaged one is set aside and rebuilt from the
files, and files it does not know are re-catalogued (:mod:`probing.io.recovery`). Nothing
finished is deleted automatically. Each call opens its own SQLite connection, so one
``Workspace`` can be shared by the threads of a Streamlit server.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from probing.budget import format_bytes, parse_size
from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.directions import DirectionSet
from probing.io import catalogue, recovery
from probing.io.catalogue import DatasetEntry, ResultEntry, checksum, now
from probing.io.direction_store import DirectionEntry, DirectionStore
from probing.io.dispatch import load_activations, save_activations
from probing.io.recovery import LostFile
from probing.io.writers import atomic_write
from probing.provenance import package_versions, to_json

QUOTA_ENV = "PROBING_WORKSPACE_QUOTA"
_HEX = re.compile(r"[0-9a-f]{8,64}")

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
        The store's own temporary files (partial writes) older than this many seconds are
        removed on open; younger ones may belong to a write in progress in another process.
        Finished files are never removed automatically.
    quota : int or str, optional
        Most bytes the workspace may hold (``"10GB"``, ``"500MiB"`` or a number of bytes);
        defaults to ``$PROBING_WORKSPACE_QUOTA``, else no limit.

    Attributes
    ----------
    recovery_note : str or None
        What opening (or :meth:`rebuild_catalogue`) had to repair: a damaged catalogue set
        aside and rebuilt, entries re-catalogued from their files, files moved to
        ``lost+found/``. ``None`` when everything was in order.
    """

    def __init__(self, root=None, orphan_age_s: float = 600.0, quota=None):
        self.root = Path(root if root is not None else os.environ.get("PROBING_WORKSPACE", "workspace"))
        self.datasets_dir = self.root / "datasets"
        self.results_dir = self.root / "results"
        self.catalogue_path = self.root / "catalogue.sqlite"
        self.orphan_age_s = orphan_age_s
        self.quota_bytes = quota_from(quota if quota is not None else os.environ.get(QUOTA_ENV))
        try:
            self.datasets_dir.mkdir(parents=True, exist_ok=True)
            self.results_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProbingInputError(f"Cannot create the workspace at {self.root}: {exc}. "
                                    "Set PROBING_WORKSPACE to a writable directory.") from exc
        self.recovery_note = self._recover(rebuild=False)

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.root)!r})"

    # -- recovery ---------------------------------------------------------------------------

    def rebuild_catalogue(self) -> str:
        """Set the catalogue aside (as ``catalogue.sqlite.rebuilt-<time>``) and rebuild it from the files.

        Every dataset is re-catalogued from its sidecar (or, without one, its file's own
        header) and every result from its file; files that cannot be read go to ``lost+found/``.
        Checksums come from the sidecars, so a file damaged since it was saved stays flagged.

        Returns
        -------
        str
            What was done (also kept in :attr:`recovery_note`).
        """
        self.recovery_note = self._recover(rebuild=True)
        return self.recovery_note

    def lost_and_found(self) -> list[LostFile]:
        """Files moved to ``lost+found/`` because the workspace could not explain them, newest first."""
        return recovery.lost_and_found(self.root)

    def usage(self) -> dict[str | None, int]:
        """Bytes on disk per owner (``None``: saved without a login), datasets and results together."""
        used: dict[str | None, int] = {}
        with self._db() as db:
            for owner, size in db.execute("SELECT owner, SUM(file_bytes) FROM datasets GROUP BY owner"):
                used[owner] = used.get(owner, 0) + size
            results = db.execute("SELECT id, owner FROM results").fetchall()
        for result_id, owner in results:
            try:
                used[owner] = used.get(owner, 0) + self._result_path(result_id).stat().st_size
            except OSError:
                continue
        return used

    # -- datasets ---------------------------------------------------------------------------

    def add_dataset(self, aset: ActivationSet, owner: str | None = None, source: str = "upload") -> DatasetEntry:
        """Save ``aset`` under its fingerprint and catalogue it; a no-op if it is already there.

        The data file holds the data only (its stored name is the fingerprint), so equal data
        gives equal bytes; the name, owner and source live in the catalogue and in the
        dataset's sidecar. The file is written outside the lock and committed under it, so a
        concurrent save of the same data finds the first one's entry.

        Parameters
        ----------
        aset : ActivationSet
            The dataset; its ``name`` becomes the entry's name.
        owner : str, optional
            Who saved it: an identity key from the app (the logged-in user).
        source : str
            Where it came from: ``"upload"``, ``"synthetic"``, ``"extract"``, ...

        Returns
        -------
        DatasetEntry
            The new entry, or the existing one (with its name and owner) for a known fingerprint.

        Raises
        ------
        ProbingInputError
            When the save would take the workspace over its quota.
        """
        fingerprint = aset.fingerprint
        existing = self._dataset_row(fingerprint)
        if existing is not None and existing.ok:
            return existing
        if existing is None:
            self._check_quota(aset.nbytes + sum(np.asarray(v).nbytes for v in aset.labels.values()), owner)
        staged = save_activations(aset.renamed(fingerprint), self.datasets_dir / f".{fingerprint}.{uuid.uuid4().hex[:12]}.safetensors")
        try:
            with self._lock():
                existing = self._dataset_row(fingerprint)
                if existing is not None and existing.ok:
                    return existing
                size = staged.stat().st_size
                if existing is None:
                    self._check_quota(size, owner)
                    name, created_at = aset.name, now()
                else:  # a damaged entry saved again keeps its name, owner and history
                    name, owner, created_at, source = existing.name, existing.owner, existing.created_at, existing.source
                row = {"fingerprint": fingerprint, "name": name, "n_samples": aset.n_samples,
                       "n_layers": aset.n_layers, "d": aset.d, "dtype": str(aset.acts.dtype), "nbytes": aset.nbytes,
                       "file_bytes": size, "checksum": checksum(staged), "labels": list(aset.labels),
                       "owner": owner, "created_at": created_at, "source": source}
                with self._db() as db:
                    catalogue.write_sidecar(self._sidecar_path(fingerprint), row)
                    os.replace(staged, self._dataset_path(fingerprint))
                    db.execute(f"INSERT OR REPLACE INTO datasets VALUES ({','.join('?' * len(row))})",
                               [json.dumps(v) if k == "labels" else v for k, v in row.items()])
        finally:
            staged.unlink(missing_ok=True)
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
            recorded = db.execute("SELECT checksum FROM datasets WHERE fingerprint=?", (entry.fingerprint,)).fetchone()[0]
        if checksum(path) != recorded:
            raise ProbingInputError(f"Dataset {entry.name!r} ({entry.fingerprint}) is corrupted: its file {path} no "
                                    f"longer matches the checksum recorded when it was saved. {fix}")
        try:
            return load_activations(path, name=entry.name)
        except ProbingInputError as exc:
            raise ProbingInputError(f"Dataset {entry.name!r} ({entry.fingerprint}) could not be read: {exc} {fix}") from exc

    def rename_dataset(self, fingerprint: str, new_name: str, user: str | None = None) -> DatasetEntry:
        """Give a saved dataset a new display name (the file and fingerprint stay).

        Only its owner may rename an owned dataset (``user`` is the caller's identity key).
        """
        new_name = _check_name(new_name)
        with self._lock():
            entry = self.get_dataset(fingerprint)
            _check_owner(entry.owner, user, "rename", f"dataset {entry.name!r}")
            with self._db() as db:
                db.execute("UPDATE datasets SET name=? WHERE fingerprint=?", (new_name, entry.fingerprint))
                row = db.execute("SELECT * FROM datasets WHERE fingerprint=?", (entry.fingerprint,)).fetchone()
                catalogue.write_sidecar(self._sidecar_path(entry.fingerprint), dict(row))
        return self.get_dataset(fingerprint)

    def delete_dataset(self, fingerprint: str, user: str | None = None) -> None:
        """Remove a dataset's row, then its file and sidecar. Only its owner may delete an owned dataset."""
        with self._lock():
            entry = self.get_dataset(fingerprint)
            _check_owner(entry.owner, user, "delete", f"dataset {entry.name!r}")
            with self._db() as db:
                db.execute("DELETE FROM datasets WHERE fingerprint=?", (entry.fingerprint,))
            self._dataset_path(entry.fingerprint).unlink(missing_ok=True)
            self._sidecar_path(entry.fingerprint).unlink(missing_ok=True)

    # -- results ----------------------------------------------------------------------------

    def save_result(self, kind: str, name: str, params: dict, payload: dict | pd.DataFrame,
                    owner: str | None = None, fingerprint: str | None = None) -> str:
        """Save a result (a probe sweep, a PCA view, ...) as a JSON file and catalogue it.

        The file holds everything its catalogue row holds, so the catalogue can be rebuilt from it.

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

        Raises
        ------
        ProbingInputError
            Bad arguments, or the save would take the workspace over its quota.
        """
        kind, name = _check_name(kind, "kind"), _check_name(name)
        if fingerprint is not None:
            _check_hex(fingerprint, "dataset fingerprint")
        if not isinstance(params, dict) or not isinstance(payload, (dict, pd.DataFrame)):
            raise ProbingInputError(f"params must be a dict and payload a dict or DataFrame; got "
                                    f"{type(params).__name__} and {type(payload).__name__}.")
        result_id = uuid.uuid4().hex
        created_at = now()
        is_frame = isinstance(payload, pd.DataFrame)
        body = {"id": result_id, "kind": kind, "name": name, "params": params, "fingerprint": fingerprint,
                "owner": owner, "created_at": created_at, "versions": package_versions(),
                "payload_type": "frame" if is_frame else "dict",
                "payload": {"columns": list(payload.columns), "data": payload.to_numpy(object).tolist()}
                if is_frame else payload}
        data = to_json(body, "A result's params and payload", allow_nan=True).encode()
        with self._lock():
            self._check_quota(len(data), owner)
            atomic_write(self._result_path(result_id), lambda f: f.write(data))
            with self._db() as db:
                db.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?)",
                           (result_id, kind, name, to_json(params, allow_nan=True), fingerprint, owner, created_at))
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
        with self._lock():
            entry = self._result_row(result_id)
            _check_owner(entry.owner, user, "delete", f"result {entry.name!r}")
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
        """A fresh connection for one transaction (committed on success, rolled back on error).

        A catalogue found damaged here (a disk fault while the server runs) is set aside and
        rebuilt from the files at once; the call that found it fails, saying to try again.
        """
        try:
            with catalogue.connect(self.catalogue_path) as db:
                yield db
        except sqlite3.DatabaseError as exc:
            if not catalogue.is_damage(exc):
                raise ProbingInputError(f"The workspace catalogue {self.catalogue_path} cannot be used ({exc}). "
                                        "Check that the workspace folder is writable and its disk not full.") from exc
            self.recovery_note = self._recover(rebuild=False, damage=str(exc))
            raise ProbingInputError(f"The workspace catalogue was damaged ({exc}) and has just been rebuilt from the "
                                    "files; nothing was deleted. Try again.") from exc

    def _lock(self):
        return catalogue.workspace_lock(self.root)

    def _recover(self, rebuild: bool, damage: str | None = None) -> str | None:
        """Under the lock: set a damaged (or, for ``rebuild``, any) catalogue aside, then match it to the files.

        ``damage`` is what a failed query reported; otherwise the catalogue is checked here.
        """
        try:
            with self._lock():
                damage = catalogue.open_catalogue(self.catalogue_path) or damage
                aside = None
                if damage is not None or rebuild:
                    aside = catalogue.set_aside(self.catalogue_path, "damaged" if damage else "rebuilt")
                    catalogue.open_catalogue(self.catalogue_path)
                with catalogue.connect(self.catalogue_path) as db:
                    repaired = recovery.reconcile(self.root, db, self.orphan_age_s)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise ProbingInputError(f"The workspace at {self.root} cannot be opened ({exc}). Check that its folder "
                                    "is writable and its disk not full; no saved file was deleted.") from exc
        return repaired.describe(damage, aside, rebuild)

    def _check_quota(self, new_bytes: int, owner: str | None) -> None:
        if self.quota_bytes is None:
            return
        used = self.usage()
        total = sum(used.values())
        if total + new_bytes <= self.quota_bytes:
            return
        by_owner = ", ".join(f"{format_bytes(size)} by {who if who is not None else 'no login'}"
                             for who, size in sorted(used.items(), key=lambda kv: -kv[1]))
        raise ProbingInputError(
            f"Not saved: the workspace quota is {format_bytes(self.quota_bytes)} ({QUOTA_ENV}) and "
            f"{format_bytes(total)} is used ({by_owner or 'nothing yet'}); this save needs "
            f"{format_bytes(new_bytes)} more. Delete datasets or results "
            f"you no longer need on the Data page, or ask whoever hosts the dashboard to raise {QUOTA_ENV}.")

    def _dataset_path(self, fingerprint: str) -> Path:
        return self.datasets_dir / f"{_check_hex(fingerprint, 'dataset fingerprint')}.safetensors"

    def _sidecar_path(self, fingerprint: str) -> Path:
        return self.datasets_dir / f"{_check_hex(fingerprint, 'dataset fingerprint')}.json"

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


def quota_from(value) -> int | None:
    """A quota in bytes from ``"10GB"``, ``"500MiB"`` or a number; ``None`` or ``""`` means no limit."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_size(value)
    except ProbingInputError:
        raise ProbingInputError(f"{QUOTA_ENV} must be a size such as '10GB', '500MiB' or a number of bytes; "
                                f"got {value!r}.") from None


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


def _check_owner(owner: str | None, user: str | None, action: str, what: str) -> None:
    """Only the owner may change an owned entry; anyone may change one saved without a login."""
    if owner is not None and user != owner:
        raise ProbingInputError(f"Only {owner!r} can {action} {what}; you are {user or 'not logged in'}.")


def _result_entry(row: sqlite3.Row) -> ResultEntry:
    return ResultEntry(**{**{k: row[k] for k in row.keys()}, "params": json.loads(row["params"])})


__all__ = ["DatasetEntry", "LostFile", "ResultEntry", "StoredResult", "Workspace", "quota_from"]
