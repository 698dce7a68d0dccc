"""The workspace never deletes what it cannot explain, rebuilds a damaged catalogue from the files,
serialises writers across processes, and enforces owners and the quota (issues #24, #15).

Every damage test ages the files past the grace period first (``os.utime``), since the
old code deleted "unreferenced" files only once they were ten minutes old.
"""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probing import ProbingInputError, save_activations
from probing.budget import format_bytes
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]
HOUR_AGO = time.time() - 3600
OWNERS = ["ada", "bob", None]
RESULTS = [("sweep", "ada", pd.DataFrame({"layer": ["layer_0", "layer_1"], "accuracy": [0.5, 0.9]})),
           ("view", None, {"explained": [0.5, 0.25]})]


def make(seed=0, n=60, d=8, n_layers=2):
    aset = make_concept_embeddings(n_samples=n, d=d, n_concepts=2, n_layers=n_layers, seed=seed)[0]
    aset.labels["word"] = np.array(["cat", "dog"] * (n // 2))
    return aset


def populate(ws: Workspace) -> dict:
    """Three datasets (owners ada, bob, nobody) and two results; what a recovered workspace must show."""
    expected = {"datasets": {}, "results": {}}
    for seed, owner in enumerate(OWNERS):
        aset = make(seed)
        aset.name = f"run {seed} [x](https://evil.example)"
        ws.add_dataset(aset, owner=owner, source="synthetic")
        expected["datasets"][aset.fingerprint] = (aset, owner)
    for name, owner, payload in RESULTS:
        result_id = ws.save_result("probe_sweep", name, {"C": 1.0}, payload, owner=owner,
                                   fingerprint=next(iter(expected["datasets"])))
        expected["results"][result_id] = (name, owner, payload)
    return expected


def snapshot(root: Path) -> dict[str, bytes]:
    """Every finished file under datasets/ and results/, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for folder in ("datasets", "results")
            for p in (root / folder).iterdir() if not p.name.startswith(".")}


def age(root: Path) -> None:
    for folder in ("datasets", "results"):
        for path in (root / folder).iterdir():
            os.utime(path, (HOUR_AGO, HOUR_AGO))


def assert_everything_back(ws: Workspace, expected: dict, before: dict[str, bytes]) -> None:
    """Every entry listed with its name and owner, loading bit-identical; no file removed or changed."""
    listed = {e.fingerprint: e for e in ws.list_datasets()}
    assert set(listed) == set(expected["datasets"])
    for fingerprint, (aset, owner) in expected["datasets"].items():
        entry = listed[fingerprint]
        assert (entry.name, entry.owner, entry.source, entry.ok) == (aset.name, owner, "synthetic", True)
        loaded = ws.load_dataset(fingerprint)
        assert loaded.name == aset.name and loaded.layers == aset.layers
        assert loaded.acts.tobytes() == aset.acts.tobytes()
        for key, values in aset.labels.items():
            np.testing.assert_array_equal(loaded.labels[key], values)
    results = {e.id: e for e in ws.list_results()}
    assert set(results) == set(expected["results"])
    for result_id, (name, owner, payload) in expected["results"].items():
        assert (results[result_id].name, results[result_id].owner) == (name, owner)
        stored = ws.load_result(result_id).payload
        if isinstance(payload, pd.DataFrame):
            pd.testing.assert_frame_equal(stored, payload)
        else:
            assert stored == payload
    after = snapshot(ws.root)
    assert {k: v for k, v in after.items() if k in before} == before, "no file was removed or changed"


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero(path):
    path.write_bytes(bytes(path.stat().st_size))


def _empty(path):
    path.write_bytes(b"")


def _delete(path):
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize("damage, set_aside", [(_truncate, True), (_zero, True), (_empty, False), (_delete, False)],
                         ids=["truncated", "zeroed", "emptied", "deleted"])
def test_damaged_catalogue_is_rebuilt_from_the_files(tmp_path, damage, set_aside):
    root = tmp_path / "ws"
    expected = populate(Workspace(root))
    before = snapshot(root)
    age(root)
    damage(root / "catalogue.sqlite")

    ws = Workspace(root)
    assert "3 dataset(s) and 2 result(s) were re-catalogued" in ws.recovery_note
    kept = sorted(p.name for p in root.glob("catalogue.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm")))
    assert len(kept) == int(set_aside)
    if set_aside:
        assert "was damaged" in ws.recovery_note and kept[0] in ws.recovery_note
    assert_everything_back(ws, expected, before)
    assert ws.lost_and_found() == []
    assert Workspace(root).recovery_note is None, "a second open finds nothing to repair"


KILLED_WITH_ROWS_IN_WAL = """
import json, os, signal, sqlite3
from probing.store import Workspace
import test_store_recovery as t
ws = Workspace()
reader = sqlite3.connect(ws.catalogue_path)  # an open connection: nothing is checkpointed into the main file
reader.execute("SELECT count(*) FROM datasets").fetchone()
print(json.dumps(list(t.populate(ws)["results"])), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def run_python(code: str, workspace: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PROBING_WORKSPACE=str(workspace), PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_deleting_only_the_wal_loses_no_entry(tmp_path):
    root = tmp_path / "ws"
    killed = run_python(KILLED_WITH_ROWS_IN_WAL, root)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    wal = root / "catalogue.sqlite-wal"
    assert wal.stat().st_size > 0, "the rows are only in the WAL"
    expected = populate(Workspace(tmp_path / "same-seeds"))  # the same data and owners, to compare against
    expected["results"] = dict(zip(json.loads(killed.stdout), RESULTS))
    before = snapshot(root)
    age(root)
    wal.unlink()

    ws = Workspace(root)
    assert "3 dataset(s) and 2 result(s) were re-catalogued" in ws.recovery_note
    assert_everything_back(ws, expected, before)


def test_rebuild_on_demand_keeps_owners_and_flags_a_damaged_file(tmp_path):
    root = tmp_path / "ws"
    ws = Workspace(root)
    expected = populate(ws)
    damaged, (aset, owner) = next((fp, v) for fp, v in expected["datasets"].items() if v[1] == "ada")
    path = ws.datasets_dir / f"{damaged}.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))

    note = ws.rebuild_catalogue()
    assert note == ws.recovery_note and "rebuilt from the files on request" in note
    assert len(list(root.glob("catalogue.sqlite.rebuilt-*"))) == 1
    with pytest.raises(ProbingInputError, match="corrupted"):
        ws.load_dataset(damaged)
    assert path.read_bytes() == bytes(data), "a file that fails its checksum is kept"
    with pytest.raises(ProbingInputError, match="Only 'ada' can rename"):
        ws.rename_dataset(damaged, "mine now", user="bob")
    assert ws.get_dataset(damaged).owner == "ada"


def test_unexplained_files_go_to_lost_and_found_not_away(tmp_path):
    root = tmp_path / "ws"
    ws = Workspace(root)
    expected = populate(ws)
    rng = np.random.default_rng(0)
    strays = {"datasets/0123456789abcdef.safetensors": rng.bytes(5000), "datasets/notes `x`.bin": rng.bytes(300),
              "results/abcdef0123456789abcdef0123456789.json": b"{not json", "datasets/.DS_Store": b"mac"}
    for name, data in strays.items():
        (root / name).write_bytes(data)
    before = snapshot(root)
    age(root)

    reopened = Workspace(root)
    lost = {f.original: f for f in reopened.lost_and_found()}
    assert set(lost) == set(strays)
    for original, data in strays.items():
        assert (root / "lost+found" / lost[original].name).read_bytes() == data
        assert original in reopened.recovery_note
    assert "not a readable dataset" in lost["datasets/0123456789abcdef.safetensors"].reason
    assert "not a readable result" in lost["results/abcdef0123456789abcdef0123456789.json"].reason
    assert "4 file(s) the workspace could not explain were moved to lost+found/" in reopened.recovery_note
    assert_everything_back(reopened, expected, {k: v for k, v in before.items() if k not in strays})


def test_a_dataset_file_without_sidecar_is_adopted_from_its_own_header(tmp_path):
    """Files from before sidecars existed, or whose sidecar was lost, are re-catalogued from their header."""
    root = tmp_path / "ws"
    ws = Workspace(root)
    legacy = make(seed=7)
    legacy.name = "saved before sidecars"
    save_activations(legacy, ws.datasets_dir / f"{legacy.fingerprint}.safetensors")
    age(root)
    entry = Workspace(root).get_dataset(legacy.fingerprint)
    assert (entry.name, entry.owner, entry.source, entry.ok) == ("saved before sidecars", None, "recovered", True)
    assert Workspace(root).load_dataset(legacy.fingerprint).acts.tobytes() == legacy.acts.tobytes()


def test_catalogued_datasets_get_a_sidecar_at_open(tmp_path):
    """A workspace saved before sidecars existed gets them on its first open, so it can be rebuilt later."""
    root = tmp_path / "ws"
    ws = Workspace(root)
    entry = ws.add_dataset(make(seed=4), owner="ada")
    sidecar = ws.datasets_dir / f"{entry.fingerprint}.json"
    sidecar.unlink()
    Workspace(root)
    assert json.loads(sidecar.read_text())["owner"] == "ada"
    _delete(root / "catalogue.sqlite")
    assert Workspace(root).get_dataset(entry.fingerprint) == entry


CRASH = """
import os, signal
from probing.store import Workspace
import test_store_recovery as t
calls = 0
real_replace = os.replace
def replace(*args, **kwargs):
    global calls
    if {renames} == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(*args, **kwargs)
    calls += 1
    if calls == {renames}:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
Workspace().add_dataset(t.make(9, n=2000, d=64, n_layers=3), owner="ada")
"""


def test_a_temporary_file_from_a_killed_write_is_still_cleaned_up(tmp_path):
    root = tmp_path / "ws"
    killed = run_python(CRASH.format(renames=0), root)  # killed before the data file is complete
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    temporaries = [p for p in (root / "datasets").iterdir() if p.name.endswith(".tmp")]
    assert len(temporaries) == 1
    assert Workspace(root).list_datasets() == [] and temporaries[0].exists(), "a young temporary may be a live write"
    age(root)
    ws = Workspace(root)
    assert not temporaries[0].exists() and list(ws.datasets_dir.iterdir()) == []
    assert ws.recovery_note is None and ws.lost_and_found() == []


def test_a_save_killed_after_its_file_is_in_place_is_kept(tmp_path):
    """Killed after the data file and sidecar are in place, before the catalogue row: the entry is adopted."""
    root = tmp_path / "ws"
    killed = run_python(CRASH.format(renames=3), root)  # staged file, sidecar, final rename: then killed
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    aset = make(9, n=2000, d=64, n_layers=3)
    ws = Workspace(root)
    entry = ws.get_dataset(aset.fingerprint)
    assert (entry.name, entry.owner, entry.ok) == (aset.name, "ada", True)
    assert ws.load_dataset(aset.fingerprint).acts.tobytes() == aset.acts.tobytes()


def _save_at_once(root, name, owner, barrier, queue):
    aset = make(11, n=4000, d=64, n_layers=4)
    aset.name = name
    ws = Workspace(root)
    barrier.wait()
    entry = ws.add_dataset(aset, owner=owner)
    ws.save_result("probe_sweep", f"sweep by {owner}", {}, {"n": 1}, owner=owner, fingerprint=entry.fingerprint)
    queue.put((entry.name, entry.owner, entry.file_bytes))


@pytest.mark.parametrize("attempt", range(4))
def test_two_processes_saving_the_same_data_at_once_leave_one_consistent_entry(tmp_path, attempt):
    root = tmp_path / "ws"
    Workspace(root)
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_save_at_once, args=(root, f"name {who}", who, barrier, queue))
               for who in ("ada", "bob")]
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    ws = Workspace(root)
    [entry] = ws.list_datasets()
    assert entry.ok and (entry.name, entry.owner) in {("name ada", "ada"), ("name bob", "bob")}
    assert outcomes == [(entry.name, entry.owner, entry.file_bytes)] * 2, "both savers are told the one outcome"
    path = ws.datasets_dir / f"{entry.fingerprint}.safetensors"
    assert path.stat().st_size == entry.file_bytes
    sidecar = json.loads((ws.datasets_dir / f"{entry.fingerprint}.json").read_text())
    assert (sidecar["name"], sidecar["owner"], sidecar["file_bytes"]) == (entry.name, entry.owner, entry.file_bytes)
    assert ws.load_dataset(entry.fingerprint).acts.tobytes() == make(11, n=4000, d=64, n_layers=4).acts.tobytes()
    assert sorted(r.owner for r in ws.list_results()) == ["ada", "bob"]
    assert [p.name for p in ws.datasets_dir.iterdir() if p.name.startswith(".")] == [], "no temporary left behind"
    assert ws.recovery_note is None


def test_a_save_over_the_quota_is_refused_naming_who_uses_what(monkeypatch):
    ws = Workspace()
    ada = ws.add_dataset(make(1, n=400, d=64), owner="ada")
    bob = ws.add_dataset(make(2, n=200, d=64), owner="bob")
    ws.save_result("probe_sweep", "sweep", {}, {"n": 1}, owner="bob")
    used = ws.usage()
    assert used["ada"] == ada.file_bytes and used["bob"] > bob.file_bytes
    monkeypatch.setenv("PROBING_WORKSPACE_QUOTA", str(sum(used.values()) + 1000))
    limited = Workspace()
    files_before = sorted(p.name for p in limited.datasets_dir.iterdir())
    with pytest.raises(ProbingInputError) as refused:
        limited.add_dataset(make(3, n=100, d=64), owner="cy")
    message = str(refused.value)
    for owner in ("ada", "bob"):
        assert f"{format_bytes(used[owner])} by {owner}" in message
    assert "PROBING_WORKSPACE_QUOTA" in message and format_bytes(sum(used.values())) in message
    assert sorted(p.name for p in limited.datasets_dir.iterdir()) == files_before
    assert len(limited.list_datasets()) == 2
    with pytest.raises(ProbingInputError, match="quota"):
        limited.save_result("probe_sweep", "big", {}, {"values": list(range(1000))}, owner="ada")
    assert limited.add_dataset(make(1, n=400, d=64), owner="cy") == ada, "saving data already there costs nothing"
    limited.delete_dataset(bob.fingerprint, user="bob")
    assert limited.add_dataset(make(3, n=100, d=64), owner="cy").ok


@pytest.mark.parametrize("text, expected", [("10GB", 10 * 10**9), ("1.5 GiB", int(1.5 * 2**30)), ("2048", 2048)])
def test_quota_sizes(tmp_path, text, expected):
    assert Workspace(tmp_path / "ws", quota=text).quota_bytes == expected


def test_a_bad_quota_setting_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBING_WORKSPACE_QUOTA", "ten gigs")
    with pytest.raises(ProbingInputError, match="PROBING_WORKSPACE_QUOTA must be a size such as '10GB'"):
        Workspace(tmp_path / "ws")


@pytest.mark.parametrize("call", ["list", "rename"])
def test_a_catalogue_damaged_while_running_is_rebuilt_at_once(tmp_path, call):
    """A long-running server (one Workspace object) repairs itself: the call that finds the damage fails, the next works."""
    root = tmp_path / "ws"
    ws = Workspace(root)
    expected = populate(ws)
    fingerprint = next(fp for fp, (_, owner) in expected["datasets"].items() if owner == "ada")
    before = snapshot(root)
    _zero(ws.catalogue_path)
    attempt = {"list": ws.list_datasets, "rename": lambda: ws.rename_dataset(fingerprint, "renamed", user="ada")}[call]
    outcome = []

    def run():
        try:
            attempt()
        except ProbingInputError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the repair, started while the lock is held, does not deadlock"
    assert len(outcome) == 1 and "has just been rebuilt from the files" in outcome[0] and "Try again" in outcome[0]
    assert "was damaged (file is not a database)" in ws.recovery_note
    assert len([p for p in root.glob("catalogue.sqlite.damaged-*") if p.name[-4:] not in ("-wal", "-shm")]) == 1
    assert_everything_back(ws, expected, before)
    assert ws.rename_dataset(fingerprint, "renamed", user="ada").name == "renamed"


def test_data_page_shows_the_recovery_and_lost_and_found_literally(_workspace, page_runner):
    ws = Workspace(_workspace)
    populate(ws)
    stray = "evil ![x](evil.example) [log in](x).bin"
    (ws.datasets_dir / stray).write_bytes(b"not ours")
    age(_workspace)
    _truncate(ws.catalogue_path)

    at = page_runner("data")
    [warning] = [w.value for w in at.warning if "catalogue" in w.value]
    assert "was damaged" in warning and "![x](" not in warning, "user text is escaped, not rendered"
    assert "3 dataset(s) and 2 result(s) were re-catalogued" in warning.replace("\\", "")
    [expander] = [e for e in at.expander if "lost+found" in e.label]
    assert expander.label.startswith("lost+found: 1 file(s)")
    listing = [m.value for m in expander.markdown]
    assert any(f"datasets/{stray}" in m.replace("\\", "") and "![x](" not in m for m in listing)
    assert len(Workspace(_workspace).list_datasets()) == 3



def test_a_workspace_that_cannot_be_locked_is_a_clear_error_and_left_alone(tmp_path):
    root = tmp_path / "ws"
    ws = Workspace(root)
    ws.add_dataset(make(1))
    before = snapshot(root)
    (root / "catalogue.lock").unlink()
    (root / "catalogue.lock").mkdir()  # as a lock file that cannot be opened for writing would be
    with pytest.raises(ProbingInputError, match="cannot be opened .*writable.*no saved file was deleted"):
        Workspace(root)
    assert snapshot(root) == before


@pytest.mark.parametrize("sidecar", [b"{broken", b'{"format": "probing.workspace.dataset", "fingerprint": "%s", "name": 5}',
                                     b"[1, 2]"], ids=["not-json", "wrong-types", "not-an-object"])
def test_a_damaged_sidecar_is_kept_aside_and_the_data_file_adopted(tmp_path, sidecar):
    root = tmp_path / "ws"
    ws = Workspace(root)
    aset = make(5)
    entry = ws.add_dataset(aset, owner="ada")
    path = ws.datasets_dir / f"{entry.fingerprint}.json"
    path.write_bytes(sidecar.replace(b"%s", entry.fingerprint.encode()))
    _delete(ws.catalogue_path)
    age(root)
    reopened = Workspace(root)
    adopted = reopened.get_dataset(entry.fingerprint)
    assert (adopted.owner, adopted.source, adopted.ok) == (None, "recovered", True), "the owner was only in the sidecar"
    assert reopened.load_dataset(entry.fingerprint).acts.tobytes() == aset.acts.tobytes()
    [lost] = reopened.lost_and_found()
    assert lost.original == f"datasets/{entry.fingerprint}.json" and "unreadable sidecar" in lost.reason
    assert (root / "lost+found" / lost.name).read_bytes() == sidecar.replace(b"%s", entry.fingerprint.encode())
    assert json.loads(path.read_text())["source"] == "recovered", "a fresh sidecar was written from the data file"
