"""The Data page's "Open a path" tab: lazy datasets opened in place, only under the allowed roots."""

import json
import os

import numpy as np
import zarr
import pytest

from conftest import run_page
from probing.store import Workspace
from test_auth import TOKEN, app, token_login


def write_npy(path, n=40, n_layers=2, d=6, seed=0):
    acts = np.random.default_rng(seed).standard_normal((n, n_layers, d)).astype(np.float32)
    np.save(path, acts)
    return acts


def open_path(at, text):
    at.text_input(key="path_text").input(text)
    return at.button(key="path_open").click().run()


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """An allowed data folder and a sibling folder outside it, with PROBING_DATA_ROOTS naming the first."""
    allowed, outside = tmp_path / "data", tmp_path / "private"
    allowed.mkdir()
    outside.mkdir()
    monkeypatch.setenv("PROBING_DATA_ROOTS", os.pathsep.join([str(allowed), str(tmp_path / "absent")]))
    return allowed, outside


def test_a_file_under_the_roots_opens_lazily_and_is_not_copied(roots):
    allowed, _ = roots
    acts = write_npy(allowed / "big_dump.npy")
    at = run_page("data")
    assert "Open a path" in [t.label for t in at.tabs]
    assert any(str(allowed) in c.value for c in at.caption), "the allowed roots are named"
    open_path(at, str(allowed / "big_dump.npy"))
    assert not at.exception and not at.error
    aset = at.session_state["dataset"]
    assert aset.name == "big_dump" and aset.storage == "memmap" and aset.shape == acts.shape
    np.testing.assert_array_equal(np.asarray(aset.acts), acts)
    assert "not copied into the workspace" in at.success[0].value and "memmap" in at.success[0].value
    assert Workspace().list_datasets() == []
    assert at.sidebar.selectbox(key="dataset_picker").value == "big_dump"


def test_a_glob_of_shards_opens_as_one_sharded_set(roots):
    allowed, _ = roots
    parts = [write_npy(allowed / f"shard_{i}.npy", n=20, seed=i) for i in (2, 10)]
    at = open_path(run_page("data"), str(allowed / "shard_*.npy"))
    assert not at.error
    aset = at.session_state["dataset"]
    assert aset.storage not in ("memory", "memmap") and aset.n_samples == 40
    np.testing.assert_array_equal(np.asarray(aset.acts[:]), np.concatenate(parts))  # natural order: 2 before 10


@pytest.mark.parametrize("how", ["outside", "dotdot", "symlink", "missing", "missing_outside"])
def test_refused_paths_show_an_error_and_keep_the_previous_dataset(roots, how):
    allowed, outside = roots
    write_npy(outside / "secret.npy")
    text = {"outside": str(outside / "secret.npy"),
            "dotdot": f"{allowed}{os.sep}..{os.sep}private{os.sep}secret.npy",
            "symlink": str(allowed / "link.npy"),
            "missing": str(allowed / "nope.npy"),
            "missing_outside": str(outside / "nope.npy")}[how]  # says "outside", not whether it exists
    if how == "symlink":
        (allowed / "link.npy").symlink_to(outside / "secret.npy")
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    open_path(at, text)
    assert not at.exception
    [error] = at.error
    expected = "Nothing exists" if how == "missing" else "outside the folders this server may open"
    assert expected in error.value
    assert at.session_state["dataset"].fingerprint == before


def test_a_glob_reaching_a_symlinked_shard_outside_is_refused(roots):
    allowed, outside = roots
    write_npy(allowed / "shard_0.npy")
    write_npy(outside / "secret.npy", seed=1)
    (allowed / "shard_1.npy").symlink_to(outside / "secret.npy")
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    open_path(at, str(allowed / "shard_*.npy"))
    assert "outside the folders" in at.error[0].value and at.session_state["dataset"].fingerprint == before


def test_a_bad_file_under_the_roots_shows_the_loader_message(roots):
    allowed, _ = roots
    (allowed / "broken.npy").write_bytes(b"not an npy file at all")
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    open_path(at, str(allowed / "broken.npy"))
    assert "Could not open" in at.error[0].value and at.session_state["dataset"].fingerprint == before


def test_open_mode_without_roots_opens_any_path(tmp_path, monkeypatch):
    monkeypatch.delenv("PROBING_DATA_ROOTS", raising=False)
    write_npy(tmp_path / "laptop.npy")
    at = run_page("data")
    assert any("any path this server can read" in c.value for c in at.caption)
    open_path(at, str(tmp_path / "laptop.npy"))
    assert not at.error and at.session_state["dataset"].name == "laptop"


def test_with_a_login_and_no_roots_opening_paths_is_disabled(monkeypatch):
    monkeypatch.delenv("PROBING_DATA_ROOTS", raising=False)
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    at = token_login(app("data").run(), "Ada", TOKEN)
    assert not at.exception
    assert any("Opening paths on the server is off" in i.value and "PROBING_DATA_ROOTS" in i.value for i in at.info)
    assert not [w for w in at.text_input if w.key == "path_text"], "no path input when disabled"


def test_a_zarr_store_with_a_chunk_linked_outside_is_refused(roots):
    allowed, outside = roots
    (outside / "secrets.toml").write_bytes(b"x" * 256)
    group = zarr.open_group(str(allowed / "acts.zarr"), mode="w", zarr_format=3)
    group.create_array("acts", data=np.ones((24, 1, 8), np.float32), chunks=(8, 1, 8), compressors=None)
    chunk = allowed / "acts.zarr" / "acts" / "c" / "1" / "0" / "0"
    chunk.unlink()
    chunk.symlink_to(outside / "secrets.toml")
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    open_path(at, str(allowed / "acts.zarr"))
    assert not at.exception
    [error] = at.error
    assert "symbolic link leading outside the folders" in error.value and "acts.zarr" in error.value
    assert at.session_state["dataset"].fingerprint == before


def test_a_malformed_zarr_store_shows_the_loader_message(roots):
    """A store whose metadata is broken used to raise ValueError and crash the page."""
    allowed, _ = roots
    group = zarr.open_group(str(allowed / "broken.zarr"), mode="w", zarr_format=3)
    group.create_array("acts", data=np.ones((24, 1, 8), np.float32), chunks=(8, 1, 8))
    meta = allowed / "broken.zarr" / "acts" / "zarr.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "shape": [24, 1, -8]}))
    at = run_page("data")
    before = at.session_state["dataset"].fingerprint
    open_path(at, str(allowed / "broken.zarr"))
    assert not at.exception
    [error] = at.error
    shown = error.value.replace("\\", "")  # the message is shown escaped (markdown)
    assert "Could not open the Zarr store 'broken.zarr'" in shown and "write it again" in shown
    assert at.session_state["dataset"].fingerprint == before
