"""The workspace catalogue: its SQLite schema and entries, the cross-process lock, damage detection.

The catalogue (``catalogue.sqlite``) has one row per dataset and per result. Each row is
also kept beside its data: a dataset's in its sidecar ``datasets/<fingerprint>.json``
(:func:`write_sidecar`), a result's in its own file, so :mod:`probing.io.recovery` can
rebuild the catalogue from the files alone. Writers hold :func:`workspace_lock`, shared by
every process using the folder; :func:`open_catalogue` tells real damage (a corrupt file,
not a database) from a busy or unwritable one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from probing.io.writers import atomic_write

try:
    import fcntl
except ImportError:  # Windows: the in-process lock still serialises the threads of one server
    fcntl = None

DATASET_COLUMNS = ("fingerprint", "name", "n_samples", "n_layers", "d", "dtype", "nbytes", "file_bytes", "checksum",
                   "labels", "owner", "created_at", "source")
RESULT_COLUMNS = ("id", "kind", "name", "params", "fingerprint", "owner", "created_at")
SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, n_samples INTEGER NOT NULL, n_layers INTEGER NOT NULL,
    d INTEGER NOT NULL, dtype TEXT NOT NULL, nbytes INTEGER NOT NULL, file_bytes INTEGER NOT NULL,
    checksum TEXT NOT NULL, labels TEXT NOT NULL, owner TEXT, created_at TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, fingerprint TEXT,
    owner TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_kind ON results (kind);
PRAGMA user_version=1;
"""
SIDECAR_FORMAT = "probing.workspace.dataset"
_DAMAGE_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_LOCK_NAME = "catalogue.lock"
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()
_held = threading.local()


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


@contextmanager
def workspace_lock(root: Path):
    """Hold the workspace's write lock: other threads of this process and other processes wait.

    ``fcntl.flock`` on ``<root>/catalogue.lock`` (released by the kernel if the holder dies),
    inside a per-directory thread lock (``flock`` over NFS excludes processes, not threads).
    A thread that already holds it may take it again (a repair started inside a save).
    """
    key = str(root.resolve())
    held = _held.__dict__.setdefault("roots", set())
    if key in held:
        yield
        return
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(key, threading.Lock())
    with lock:
        fd = os.open(root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        held.add(key)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            held.discard(key)
            os.close(fd)


@contextmanager
def connect(path: Path):
    """A fresh connection for one transaction (committed on success, rolled back on error)."""
    with closing(sqlite3.connect(path, timeout=30)) as db:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=FULL")
        with db:
            yield db


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """True when SQLite says the file is corrupt or not a database (not for a lock timeout or a full disk)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGE_CODES


def open_catalogue(path: Path) -> str | None:
    """Create or check the catalogue at ``path``; ``None`` when usable, else what is wrong with it.

    Raises ``sqlite3.DatabaseError`` for problems that are not damage (locked, unwritable).
    """
    try:
        with connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return f"integrity check failed: {verdict}"
            db.executescript(SCHEMA)
            for table, columns in (("datasets", DATASET_COLUMNS), ("results", RESULT_COLUMNS)):
                found = tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
                if found != columns:
                    return f"table {table} has columns {list(found)}, expected {list(columns)}"
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    return None


def set_aside(path: Path, why: str = "damaged") -> Path:
    """Rename the catalogue (and its ``-wal``/``-shm`` files) to ``<name>.<why>-<UTC time>``; returns the new path."""
    aside = path.with_name(f"{path.name}.{why}-{stamp()}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    return aside


def write_sidecar(path: Path, row: dict) -> None:
    """Write a dataset's catalogue row next to its file, atomically (``labels`` as a list)."""
    body = {"format": SIDECAR_FORMAT, "version": 1, **{k: row[k] for k in DATASET_COLUMNS}}
    if isinstance(body["labels"], str):
        body["labels"] = json.loads(body["labels"])
    text = json.dumps(body, indent=1)
    atomic_write(path, lambda f: f.write(text.encode()))


def checksum(path: Path) -> str:
    """CRC-32 of a file: catches accidental damage (bit flips, partial overwrites), not tampering."""
    crc = 0
    buffer = bytearray(min(8 * 2**20, max(1, path.stat().st_size)))
    view = memoryview(buffer)
    with open(path, "rb") as f:
        while size := f.readinto(buffer):
            crc = zlib.crc32(view[:size], crc)
    return f"crc32:{crc:08x}"


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


__all__ = ["DATASET_COLUMNS", "RESULT_COLUMNS", "DatasetEntry", "ResultEntry", "checksum", "connect", "is_damage",
           "now", "open_catalogue", "set_aside", "stamp", "workspace_lock", "write_sidecar"]
