"""Direction sets saved in the shared workspace, one self-describing file each.

Layout under the workspace root::

    directions/<id>.safetensors   the (k, d) ``vectors`` and a JSON header (``__probing__``) with the
                                  set's provenance: name, method, row names, dataset, layer, params,
                                  owner, created
    directions/index.sqlite       one row per file, for listing without opening files

``<id>`` is :attr:`probing.directions.DirectionSet.content_id`, so saving the same set again
is a no-op and two sessions saving it at once write the same bytes. Files are written
atomically (:func:`probing.io.writers.atomic_write`) before their index row, and deleted
before it; the index is only a cache of the headers: when a workspace is opened, files
with no row are indexed from their header and rows with no file are dropped, so a crash
at any moment leaves either the whole set or none.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.directions import DirectionSet, direction_label
from probing.errors import ProbingInputError
from probing.io import catalogue
from probing.io.readers import HEADER_KEY
from probing.io.writers import atomic_write

FORMAT = "probing.DirectionSet"
_ID = re.compile(r"[0-9a-f]{24}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS directions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, method TEXT NOT NULL, dataset TEXT, layer TEXT, layer_index INTEGER,
    k INTEGER NOT NULL, d INTEGER NOT NULL, row_names TEXT NOT NULL, params TEXT NOT NULL, owner TEXT,
    created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS directions_dataset ON directions (dataset, layer_index);
"""
_COLUMNS = ("id", "name", "method", "dataset", "layer", "layer_index", "k", "d", "row_names", "params", "owner",
            "created")


@dataclass(frozen=True)
class DirectionEntry:
    """One saved direction set as listed (its provenance, without the vectors)."""

    id: str
    name: str
    method: str
    dataset: str | None
    layer: str | None
    layer_index: int | None
    k: int
    d: int
    row_names: tuple
    params: dict
    owner: str | None
    created: str

    @property
    def labels(self) -> list[str]:
        """The display label of every row, as :attr:`DirectionSet.labels` gives it."""
        return [direction_label(self.method, row, self.layer) for row in self.row_names]

    @property
    def label(self) -> str:
        """The set's own label: :func:`direction_label` of method, name and layer."""
        return direction_label(self.method, self.name, self.layer)


class DirectionStore:
    """The ``directions/`` folder of a workspace.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    orphan_age_s : float
        Temporary files of interrupted writes older than this are deleted on open.
    """

    def __init__(self, folder, orphan_age_s: float = 600.0):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProbingInputError(f"Cannot create the direction folder {self.folder}: {exc}. "
                                    "Set PROBING_WORKSPACE to a writable directory.") from exc
        self.index_path = self.folder / "index.sqlite"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        self._recover(orphan_age_s)

    def add(self, dirset: DirectionSet, owner: str | None = None) -> DirectionEntry:
        """Save ``dirset`` (recorded as ``owner``'s, now) unless the same set is already saved.

        Returns
        -------
        DirectionEntry
            The new entry, or the existing one (with its first owner) for a set saved before.
        """
        if not isinstance(dirset, DirectionSet):
            raise ProbingInputError(f"add_directions takes a probing.directions.DirectionSet; got {type(dirset).__name__}.")
        set_id = dirset.content_id
        existing = self._row(set_id)
        if existing is not None and self._path(set_id).exists():
            return existing
        dirset = (dirset.with_owner(existing.owner, existing.created) if existing is not None  # its file vanished
                  else dirset.with_owner(owner, catalogue.now()))
        header = json.dumps({"format": FORMAT, "version": 1, "id": set_id, **dirset.provenance()})
        atomic_write(self._path(set_id), lambda f: f.write(_safetensors_bytes(dirset.vectors, header)))
        self._insert(set_id, dirset.provenance())
        return self._row(set_id)

    def list(self, dataset: str | None = None, layer=None) -> list[DirectionEntry]:
        """Saved sets, newest first, optionally of one dataset (fingerprint) and one layer (index or name)."""
        query, args = [], []
        if dataset is not None:
            query.append("dataset=?")
            args.append(dataset)
        if layer is not None:
            query.append("layer=?" if isinstance(layer, str) else "layer_index=?")
            args.append(layer if isinstance(layer, str) else int(layer))
        where = f" WHERE {' AND '.join(query)}" if query else ""
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM directions{where} ORDER BY created DESC, rowid DESC", args).fetchall()
        return [_entry(row) for row in rows]

    def load(self, set_id: str, max_rows: int | None = None) -> DirectionSet:
        """Open a saved set (only its first ``max_rows`` rows if given); :class:`ProbingInputError` if unknown or unreadable."""
        entry = self.get(set_id)
        try:
            vectors, header = read_direction_file(self._path(entry.id), max_rows)
            rows = header["row_names"][:len(vectors)]
            return DirectionSet(header["name"], vectors, header["method"], tuple(rows), header["dataset"],
                                header["layer"], header["layer_index"], header["params"], header["owner"],
                                header["created"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ProbingInputError(f"Direction set {entry.name!r} ({entry.id}) cannot be read ({exc}). Delete it and "
                                    "save it again.") from exc

    def get(self, set_id: str) -> DirectionEntry:
        """The listing entry of one set; :class:`ProbingInputError` if there is none."""
        entry = self._row(_check_id(set_id))
        if entry is None:
            raise ProbingInputError(f"No direction set with id {set_id!r} in {self.folder}; it may have been deleted. "
                                    "Pick one from the Directions list on the Data page.")
        return entry

    def delete(self, set_id: str, user: str | None = None) -> None:
        """Remove a set's file, then its row. Only its owner may delete an owned set."""
        entry = self.get(set_id)
        if entry.owner is not None and user != entry.owner:
            raise ProbingInputError(f"Only {entry.owner!r} can delete the direction set {entry.name!r}; you are "
                                    f"{user or 'not logged in'}.")
        self._path(entry.id).unlink(missing_ok=True)
        with self._db() as db:
            db.execute("DELETE FROM directions WHERE id=?", (entry.id,))

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _db(self):
        try:
            with catalogue.connect(self.index_path) as db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise ProbingInputError(f"The direction index {self.index_path} cannot be used ({exc}). Delete it: it is "
                                    "rebuilt from the direction files when the workspace is next opened.") from exc

    def _path(self, set_id: str) -> Path:
        return self.folder / f"{_check_id(set_id)}.safetensors"

    def _row(self, set_id: str) -> DirectionEntry | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM directions WHERE id=?", (set_id,)).fetchone()
        return None if row is None else _entry(row)

    def _insert(self, set_id: str, provenance: dict) -> None:
        values = {**provenance, "id": set_id, "row_names": json.dumps(provenance["row_names"]),
                  "params": json.dumps(provenance["params"])}
        with self._db() as db:
            db.execute(f"INSERT OR IGNORE INTO directions VALUES ({','.join('?' * len(_COLUMNS))})",
                       [values[c] for c in _COLUMNS])

    def _recover(self, orphan_age_s: float) -> None:
        """Index files that have no row (a crash after the write), drop rows with no file, remove old temporaries."""
        with self._db() as db:
            known = {set_id for (set_id,) in db.execute("SELECT id FROM directions")}
        on_disk = set()
        cutoff = time.time() - orphan_age_s
        for path in self.folder.iterdir():
            stem = path.name.removesuffix(".safetensors")
            if path.name.endswith(".tmp"):
                _unlink_if_older(path, cutoff)
            elif path.suffix == ".safetensors" and _ID.fullmatch(stem):
                on_disk.add(stem)
                if stem not in known:
                    self._index_file(path)
        missing = known - on_disk
        if missing:
            with self._db() as db:
                db.executemany("DELETE FROM directions WHERE id=?", [(set_id,) for set_id in missing])

    def _index_file(self, path: Path) -> None:
        try:
            _, header = read_direction_file(path, max_rows=0)
            self._insert(header["id"], header)
        except (OSError, KeyError, TypeError, ValueError, ProbingInputError):
            return


def read_direction_file(path, max_rows: int | None = None) -> tuple[np.ndarray, dict]:
    """The ``vectors`` (first ``max_rows`` rows) and the provenance header of a saved direction file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            header = json.loads((f.metadata() or {}).get(HEADER_KEY, "{}"))
            if header.get("format") != FORMAT:
                raise ValueError(f"{Path(path).name} is not a saved direction set (no {FORMAT} header)")
            if max_rows is None:
                vectors = f.get_tensor("vectors")
            else:
                tensor = f.get_slice("vectors")
                vectors = tensor[:min(int(max_rows), tensor.get_shape()[0])]
    except SafetensorError as exc:
        raise ValueError(f"{Path(path).name} is not a readable safetensors file: {exc}") from exc
    return vectors, header


def _safetensors_bytes(vectors: np.ndarray, header: str) -> bytes:
    from safetensors.numpy import save

    return save({"vectors": np.ascontiguousarray(vectors)}, metadata={HEADER_KEY: header})


def _check_id(value) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ProbingInputError(f"Invalid direction set id {value!r}: expected 24 lowercase hex characters (as shown "
                                "in the Directions list).")
    return value


def _entry(row: sqlite3.Row) -> DirectionEntry:
    fields = {c: row[c] for c in _COLUMNS}
    return DirectionEntry(**{**fields, "row_names": tuple(json.loads(row["row_names"])),
                             "params": json.loads(row["params"])})


def _unlink_if_older(path: Path, cutoff: float) -> None:
    try:
        if path.stat().st_mtime <= cutoff:
            path.unlink()
    except OSError:
        return


__all__ = ["DirectionEntry", "DirectionStore", "read_direction_file"]
