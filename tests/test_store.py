"""The workspace: persistence, atomic writes under crashes, corruption, ownership, path safety."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probing import ProbingInputError
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]


def make(seed=0, n=60, d=8, n_layers=2):
    return make_concept_embeddings(n_samples=n, d=d, n_concepts=2, n_layers=n_layers, seed=seed)[0]


def run_python(code: str, workspace: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PROBING_WORKSPACE=str(workspace))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_add_list_load_round_trip(_workspace):
    aset = make()
    ws = Workspace()
    assert ws.root == _workspace
    entry = ws.add_dataset(aset, owner="ada", source="synthetic")
    assert (entry.fingerprint, entry.name, entry.shape, entry.dtype) == (aset.fingerprint, aset.name, aset.shape, "float32")
    assert (entry.owner, entry.source, entry.nbytes, entry.ok) == ("ada", "synthetic", aset.nbytes, True)
    assert set(entry.labels) == set(aset.labels)
    assert ws.list_datasets() == [entry]
    loaded = ws.load_dataset(entry.fingerprint)
    np.testing.assert_array_equal(loaded.acts, aset.acts)
    assert loaded.layers == aset.layers and loaded.name == aset.name
    for key, values in aset.labels.items():
        np.testing.assert_array_equal(loaded.labels[key], values)
    assert loaded.fingerprint == aset.fingerprint
    frame = ws.datasets_frame()
    assert list(frame["fingerprint"]) == [aset.fingerprint] and frame.loc[0, "shape"] == "60 × 2 × 8"


def test_add_is_idempotent_and_keeps_name_and_owner():
    aset = make()
    ws = Workspace()
    first = ws.add_dataset(aset, owner="ada")
    ws.rename_dataset(first.fingerprint, "renamed", user="ada")
    again = ws.add_dataset(aset, owner="bob")
    assert len(ws.list_datasets()) == 1
    assert (again.name, again.owner, again.created_at) == ("renamed", "ada", first.created_at)
    assert sorted(p.name for p in ws.datasets_dir.iterdir()) == [f"{aset.fingerprint}.json",
                                                                 f"{aset.fingerprint}.safetensors"]


def test_equal_data_gives_equal_bytes_whatever_its_name(tmp_path):
    """The display name lives in the catalogue and the sidecar, not in the content-addressed file."""
    aset = make(seed=3)
    first, second = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    first.add_dataset(aset, owner="ada")
    aset.name = "another name"
    second.add_dataset(aset, owner="bob")
    name = f"{aset.fingerprint}.safetensors"
    assert (first.datasets_dir / name).read_bytes() == (second.datasets_dir / name).read_bytes()
    sidecars = [json.loads((ws.datasets_dir / f"{aset.fingerprint}.json").read_text()) for ws in (first, second)]
    assert [(s["name"], s["owner"]) for s in sidecars] == [("synthetic n=60 d=8 concepts=2 noise=1 seed=3", "ada"),
                                                            ("another name", "bob")]
    assert second.load_dataset(aset.fingerprint).name == "another name"


def test_list_is_newest_first():
    ws = Workspace()
    fingerprints = [ws.add_dataset(make(seed)).fingerprint for seed in range(3)]
    assert [e.fingerprint for e in ws.list_datasets()] == fingerprints[::-1]


def test_persists_across_processes(tmp_path):
    root = tmp_path / "shared"
    write = run_python("from probing.store import Workspace\nfrom probing.synthetic import make_concept_embeddings\n"
                       "a, _ = make_concept_embeddings(n_samples=60, d=8, n_concepts=2, n_layers=2, seed=5)\n"
                       "print(Workspace().add_dataset(a, owner='ada').fingerprint)", root)
    assert write.returncode == 0, write.stderr
    fingerprint = write.stdout.strip()
    read = run_python("import json\nfrom probing.store import Workspace\nws = Workspace()\n"
                      f"a = ws.load_dataset('{fingerprint}')\n"
                      "print(json.dumps([a.fingerprint, float(a.acts.astype('float64').sum()), ws.list_datasets()[0].owner]))",
                      root)
    assert read.returncode == 0, read.stderr
    expected = make(seed=5)
    assert json.loads(read.stdout) == [expected.fingerprint, float(expected.acts.astype("float64").sum()), "ada"]


CRASH = """
import os, signal
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings
real_replace, real_fsync = os.replace, os.fsync
def kill(*args):
    os.kill(os.getpid(), signal.SIGKILL)
def replace_then_kill(*args, **kwargs):
    real_replace(*args, **kwargs)
    kill()
os.{target} = {hook}
a, _ = make_concept_embeddings(n_samples=3000, d=32, n_concepts=2, n_layers=3, seed=9)
Workspace().add_dataset(a)
print("not killed")
"""


@pytest.mark.parametrize("target, hook", [("fsync", "kill"), ("replace", "kill"), ("replace", "replace_then_kill")],
                         ids=["killed-before-fsync", "killed-before-rename", "killed-after-rename-before-row"])
def test_killed_write_leaves_catalogue_and_previous_files_intact(tmp_path, target, hook):
    root = tmp_path / "ws"
    ws = Workspace(root)
    previous = ws.add_dataset(make(seed=1))
    previous_bytes = (ws.datasets_dir / f"{previous.fingerprint}.safetensors").read_bytes()

    crashed = run_python(CRASH.format(target=target, hook=hook), root)
    assert crashed.returncode == -9, (crashed.returncode, crashed.stdout, crashed.stderr)
    big = make_concept_embeddings(n_samples=3000, d=32, n_concepts=2, n_layers=3, seed=9)[0]

    reopened = Workspace(root, orphan_age_s=0)
    assert reopened.list_datasets() == [previous]
    assert (reopened.datasets_dir / f"{previous.fingerprint}.safetensors").read_bytes() == previous_bytes
    assert reopened.load_dataset(previous.fingerprint).fingerprint == previous.fingerprint
    with pytest.raises(ProbingInputError, match="No dataset"):
        reopened.load_dataset(big.fingerprint)
    assert sorted(p.name for p in reopened.datasets_dir.iterdir()) == [f"{previous.fingerprint}.json",
                                                                       f"{previous.fingerprint}.safetensors"]
    assert reopened.add_dataset(big).ok and len(reopened.list_datasets()) == 2


def test_failed_write_in_process_leaves_no_entry(monkeypatch):
    ws = Workspace()
    kept = ws.add_dataset(make(seed=1))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        ws.add_dataset(make(seed=2))
    with pytest.raises(OSError):
        ws.save_result("probe_sweep", "sweep", {"C": 1.0}, {"accuracy": [0.5]})
    monkeypatch.undo()
    assert ws.list_datasets() == [kept] and ws.list_results() == []
    assert list(ws.results_dir.iterdir()) == []
    assert ws.load_dataset(kept.fingerprint).fingerprint == kept.fingerprint


def test_only_stale_temporary_files_are_removed_on_open():
    """Temporary files go once older than the grace period; a finished file nobody knows is moved, not deleted."""
    ws = Workspace()
    kept = ws.add_dataset(make())
    stale_tmp = ws.datasets_dir / f".{kept.fingerprint}.safetensors.abc.tmp"
    stale_unreferenced = ws.datasets_dir / "0123456789abcdef.safetensors"
    fresh_tmp = ws.results_dir / ".ffffffffffffffff.json.xyz.tmp"
    for path in (stale_tmp, stale_unreferenced, fresh_tmp):
        path.write_bytes(b"partial")
    old = time.time() - 3600
    for path in (stale_tmp, stale_unreferenced):
        os.utime(path, (old, old))
    reopened = Workspace(ws.root, orphan_age_s=600)
    assert not stale_tmp.exists() and fresh_tmp.exists()
    [lost] = reopened.lost_and_found()
    assert lost.original == "datasets/0123456789abcdef.safetensors" and "not a readable dataset" in lost.reason
    assert (ws.root / "lost+found" / lost.name).read_bytes() == b"partial"
    assert "lost+found" in reopened.recovery_note and Workspace(ws.root).list_datasets() == [kept]


def test_rename_and_delete():
    ws = Workspace()
    a, b = ws.add_dataset(make(seed=1)), ws.add_dataset(make(seed=2))
    renamed = ws.rename_dataset(a.fingerprint, "  my probe data  ", user="anyone")
    assert renamed.name == "my probe data" and ws.load_dataset(a.fingerprint).name == "my probe data"
    assert ws.load_dataset(a.fingerprint).fingerprint == a.fingerprint
    with pytest.raises(ProbingInputError, match="1-200 characters"):
        ws.rename_dataset(a.fingerprint, "   ")
    ws.delete_dataset(a.fingerprint)
    assert [e.fingerprint for e in ws.list_datasets()] == [b.fingerprint]
    assert not (ws.datasets_dir / f"{a.fingerprint}.safetensors").exists()
    for call in (ws.load_dataset, ws.delete_dataset, lambda fp: ws.rename_dataset(fp, "x")):
        with pytest.raises(ProbingInputError, match="No dataset"):
            call(a.fingerprint)


def test_only_the_owner_renames_or_deletes_an_owned_dataset():
    ws = Workspace()
    owned = ws.add_dataset(make(seed=1), owner="ada")
    for user in ("bob", None, "ADA"):
        with pytest.raises(ProbingInputError, match="Only 'ada' can rename"):
            ws.rename_dataset(owned.fingerprint, "bob's now", user=user)
    assert ws.get_dataset(owned.fingerprint).name == owned.name
    assert json.loads((ws.datasets_dir / f"{owned.fingerprint}.json").read_text())["name"] == owned.name
    assert ws.rename_dataset(owned.fingerprint, "still ada's", user="ada").name == "still ada's"
    assert json.loads((ws.datasets_dir / f"{owned.fingerprint}.json").read_text())["name"] == "still ada's"
    with pytest.raises(ProbingInputError, match="Only 'ada'"):
        ws.delete_dataset(owned.fingerprint, user="bob")
    with pytest.raises(ProbingInputError, match="Only 'ada'"):
        ws.delete_dataset(owned.fingerprint)
    ws.delete_dataset(owned.fingerprint, user="ada")
    unowned = ws.add_dataset(make(seed=2))
    ws.delete_dataset(unowned.fingerprint, user="bob")
    assert ws.list_datasets() == []


def test_unknown_fingerprint_is_a_clear_error():
    with pytest.raises(ProbingInputError, match="No dataset with fingerprint '0123456789abcdef'"):
        Workspace().load_dataset("0123456789abcdef")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, listed_problem, load_error", [
    (_truncate, "truncated", "cannot be opened"),
    (Path.unlink, "missing", "cannot be opened"),
    (_flip_last_byte, None, "corrupted"),
])
def test_damaged_file_is_reported_and_others_still_work(damage, listed_problem, load_error):
    ws = Workspace()
    good, bad = ws.add_dataset(make(seed=1)), ws.add_dataset(make(seed=2))
    damage(ws.datasets_dir / f"{bad.fingerprint}.safetensors")
    entries = {e.fingerprint: e for e in ws.list_datasets()}
    assert entries[good.fingerprint].ok
    if listed_problem is None:
        assert entries[bad.fingerprint].ok
    else:
        assert listed_problem in entries[bad.fingerprint].problem
        assert listed_problem in ws.datasets_frame().set_index("fingerprint").loc[bad.fingerprint, "problem"]
    with pytest.raises(ProbingInputError, match=load_error):
        ws.load_dataset(bad.fingerprint)
    assert ws.load_dataset(good.fingerprint).fingerprint == good.fingerprint
    ws.delete_dataset(bad.fingerprint)
    assert ws.add_dataset(make(seed=2)).ok


BAD_IDS = ["../../outside", "..", "0123456789abcdef/../../outside", "/etc/passwd", "0123456789ABCDEF",
           "0123456789abcdef.safetensors", "", "abc", None, 12345678]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_ids_that_could_escape_the_workspace_are_rejected(tmp_path, bad_id):
    ws = Workspace(tmp_path / "ws")
    sentinel = tmp_path / "outside.safetensors"
    sentinel.write_bytes(b"keep me")
    calls = [ws.load_dataset, ws.get_dataset, ws.delete_dataset, lambda i: ws.rename_dataset(i, "x"),
             ws.load_result, ws.delete_result]
    if bad_id is not None:
        calls.append(lambda i: ws.save_result("probe_sweep", "x", {}, {}, fingerprint=i))
    for call in calls:
        with pytest.raises(ProbingInputError, match="Invalid"):
            call(bad_id)
    assert sentinel.read_bytes() == b"keep me"


def test_results_round_trip_filter_and_ownership():
    ws = Workspace()
    aset = make()
    frame = pd.DataFrame({"layer": ["layer_0", "layer_1"], "accuracy": [0.51234567891234, 0.9], "n": [10, 20]})
    sweep = ws.save_result("probe_sweep", "sweep A", {"C": np.float64(0.5), "layers": np.arange(2)}, frame,
                           owner="ada", fingerprint=aset.fingerprint)
    view = ws.save_result("pca_view", "pcs", {"k": 3}, {"explained": np.array([0.5, 0.25]), "nested": {"a": 1}})
    assert [e.id for e in ws.list_results()] == [view, sweep]
    assert [e.id for e in ws.list_results("probe_sweep")] == [sweep]
    loaded = ws.load_result(sweep)
    pd.testing.assert_frame_equal(loaded.payload, frame)
    assert loaded.entry.params == {"C": 0.5, "layers": [0, 1]}
    assert (loaded.entry.owner, loaded.entry.fingerprint, loaded.entry.kind) == ("ada", aset.fingerprint, "probe_sweep")
    assert loaded.versions["numpy"] == np.__version__
    assert ws.load_result(view).payload == {"explained": [0.5, 0.25], "nested": {"a": 1}}
    with pytest.raises(ProbingInputError, match="Only 'ada'"):
        ws.delete_result(sweep, user="bob")
    ws.delete_result(sweep, user="ada")
    ws.delete_result(view)
    assert ws.list_results() == [] and list(ws.results_dir.iterdir()) == []
    with pytest.raises(ProbingInputError, match="No saved result"):
        ws.load_result(sweep)


def test_unserialisable_result_is_rejected_without_a_trace():
    ws = Workspace()
    with pytest.raises(ProbingInputError, match="JSON-serialisable"):
        ws.save_result("probe_sweep", "x", {"model": object()}, {})
    assert ws.list_results() == [] and list(ws.results_dir.iterdir()) == []


def test_concurrent_threads_share_one_workspace():
    ws = Workspace()
    datasets = [make(seed=i % 4) for i in range(12)]
    errors = []

    def add(aset):
        try:
            ws.add_dataset(aset)
            ws.save_result("probe_sweep", aset.name, {}, {"fingerprint": aset.fingerprint})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(a,)) for a in datasets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(e.fingerprint for e in ws.list_datasets()) == sorted({a.fingerprint for a in datasets})
    assert len(ws.list_results()) == 12
    for entry in ws.list_datasets():
        assert ws.load_dataset(entry.fingerprint).fingerprint == entry.fingerprint


def test_catalogue_uses_wal(tmp_path):
    ws = Workspace(tmp_path / "ws")
    with sqlite3.connect(ws.catalogue_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
