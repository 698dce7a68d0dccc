"""Direction sets: the value (validation, one label scheme) and its storage in the shared workspace."""

import json
import os
import sqlite3
import time

import numpy as np
import pytest
from safetensors import safe_open

from probing import ProbingInputError
from probing.directions import DirectionSet, along_class_means, direction_label, unique_labels
from probing.io import direction_store
from probing.steering import steering_vector
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

FP = "0123456789abcdef"


def probe_set(seed=0, k=1, d=16, layer="block_3", index=3, name="sentiment (lda)", **kwargs):
    vectors = np.random.default_rng(seed).standard_normal((k, d))
    return DirectionSet(name, vectors, kwargs.pop("method", "probe"), dataset=FP, layer=layer, layer_index=index,
                        params={"label": "sentiment", "estimator": "lda", "seed": np.int64(seed)}, **kwargs)


# -- the value ------------------------------------------------------------------------------------

def test_one_label_scheme_for_every_row():
    assert direction_label("probe", "sentiment (lda)", "block_3") == "probe · sentiment (lda) · block_3"
    assert direction_label("pca", "PC1") == "pca · PC1"
    one = probe_set()
    assert one.labels == ["probe · sentiment (lda) · block_3"]
    pcs = DirectionSet("PC1-PC3", np.eye(3, 8), "pca", ("PC1", "PC2", "PC3"), layer="emb")
    assert pcs.labels == ["pca · PC1 · emb", "pca · PC2 · emb", "pca · PC3 · emb"]
    sae = DirectionSet("W_dec", np.eye(3, 8), "sae")
    assert sae.labels == ["sae · W_dec[0]", "sae · W_dec[1]", "sae · W_dec[2]"]
    assert list(sae.as_dict()) == sae.labels
    np.testing.assert_array_equal(sae.as_dict()["sae · W_dec[2]"], np.eye(3, 8)[2])


def test_a_zero_direction_is_refused_with_the_reason():
    vectors = np.ones((3, 8))
    vectors[1] = 0.0
    with pytest.raises(ProbingInputError, match=r"all-zero rows \[1\].*not saved.*class means coincide"):
        DirectionSet("topic (lda)", vectors, "probe")
    tiny = np.full((1, 8), np.finfo(np.float32).tiny / 10, dtype=np.float32)
    with pytest.raises(ProbingInputError, match="all-zero"):
        DirectionSet("denormal", tiny, "probe")


@pytest.mark.parametrize("kwargs, message", [
    ({"vectors": np.array([[1.0, np.nan]])}, "NaN/Inf in rows \\[0\\]"),
    ({"vectors": np.zeros((0, 4))}, "k, d >= 1"),
    ({"vectors": np.ones((2, 2, 2))}, "must be \\(d,\\) or \\(k, d\\)"),
    ({"vectors": np.array([["a", "b"]])}, "must be numbers"),
    ({"method": "guess"}, "Unknown direction method 'guess'"),
    ({"name": "  "}, "name must be 1-200"),
    ({"row_names": ("a", "a")}, "one unique name per row"),
    ({"params": {"f": object()}}, "must be JSON-able"),
    ({"dataset": "../../etc"}, "must be a fingerprint"),
])
def test_bad_sets_are_explained(kwargs, message):
    args = {"name": "x", "vectors": np.eye(2), "method": "probe", **kwargs}
    with pytest.raises(ProbingInputError, match=message):
        DirectionSet(**args)


def test_for_layer_checks_the_dimension_and_fills_the_provenance():
    aset, _ = make_concept_embeddings(n_samples=60, d=8, n_layers=3, seed=1)
    dirset = DirectionSet.for_layer(aset, -1, "concept_0 (lda)", np.ones(8), "probe", {"label": "concept_0"})
    assert (dirset.dataset, dirset.layer, dirset.layer_index, dirset.k, dirset.d) == (
        aset.fingerprint, aset.layers[2], 2, 1, 8)
    with pytest.raises(ProbingInputError, match="length 7, but layer .* has d = 8"):
        DirectionSet.for_layer(aset, 0, "short", np.ones(7), "probe")


def test_the_value_is_frozen_and_its_id_ignores_who_saved_it():
    dirset = probe_set()
    with pytest.raises(ValueError):
        dirset.vectors[0, 0] = 1.0
    assert dirset.with_owner("Ada", "2026-01-01").content_id == dirset.content_id
    assert probe_set(layer="block_4", index=4).content_id != dirset.content_id
    assert probe_set(seed=1).content_id != dirset.content_id
    frame = dirset.to_frame()
    assert list(frame.columns[:5]) == ["label", "row", "method", "layer", "norm"]
    np.testing.assert_allclose(frame.filter(like="x").to_numpy(), dirset.vectors)
    np.testing.assert_allclose(frame["norm"], np.linalg.norm(dirset.vectors, axis=1))


def test_labels_two_sets_share_are_told_apart():
    a, b = probe_set(seed=0), probe_set(seed=1)
    merged = unique_labels([a, b, DirectionSet("PC1-PC2", np.eye(2, 16), "pca", ("PC1", "PC2"), layer="block_3")])
    assert len(merged) == 4
    assert f"probe · sentiment (lda) · block_3 #{a.content_id[:6]}" in merged
    assert "pca · PC2 · block_3" in merged


def test_a_saved_direction_steers_like_the_mean_difference():
    aset, planted = make_concept_embeddings(n_samples=400, d=12, n_concepts=1, n_layers=1, seed=3)
    X, y = aset.layer(0), aset.labels["concept_0"]
    mean_diff = steering_vector(X, y, method="mean_diff")
    np.testing.assert_allclose(along_class_means(mean_diff * 5, X, y, 1), mean_diff, rtol=1e-6, atol=1e-9)
    v = along_class_means(planted[0], X, y, 1)
    u = planted[0] / np.linalg.norm(planted[0])
    negative, positive = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    assert abs((negative.mean(axis=0) + v) @ u - positive.mean(axis=0) @ u) < 1e-9
    np.testing.assert_allclose(along_class_means(planted[0], X, y, 0), -v)
    with pytest.raises(ProbingInputError, match="X must be"):
        along_class_means(np.ones(5), X, y, 1)
    with pytest.raises(ProbingInputError, match="exactly two classes, one of them 7"):
        along_class_means(planted[0], X, y, 7)


# -- the store ------------------------------------------------------------------------------------

def test_saved_sets_round_trip_with_their_provenance(tmp_path):
    ws = Workspace(tmp_path / "ws")
    probe, sae = probe_set(), probe_set(seed=2, k=40, method="sae", name="W_dec")
    sae32 = DirectionSet("W_dec32", sae.vectors.astype(np.float32), "sae", layer="block_3", layer_index=3, dataset=FP)
    entry = ws.add_directions(probe, owner="Ada")
    ws.add_directions(sae, owner="Grace")
    ws.add_directions(sae32, owner=None)
    assert (entry.id, entry.owner, entry.k, entry.d, entry.layer) == (probe.content_id, "Ada", 1, 16, "block_3")
    assert entry.labels == probe.labels and entry.label == "probe · sentiment (lda) · block_3"
    loaded = ws.load_directions(entry.id)
    np.testing.assert_array_equal(loaded.vectors, probe.vectors)
    assert (loaded.owner, loaded.params, loaded.row_names) == ("Ada", {"label": "sentiment", "estimator": "lda",
                                                                        "seed": 0}, probe.row_names)
    assert loaded.created == entry.created and loaded.content_id == probe.content_id
    assert ws.load_directions(ws.list_directions()[0].id).vectors.dtype == np.float32
    first = ws.load_directions(sae.content_id, max_rows=8)
    np.testing.assert_array_equal(first.vectors, sae.vectors[:8])
    assert first.row_names == sae.row_names[:8]
    assert ws.load_directions(sae.content_id, max_rows=1000).k == 40
    with pytest.raises(ProbingInputError, match="No direction set with id"):
        ws.load_directions("f" * 24)
    with pytest.raises(ProbingInputError, match="Invalid direction set id"):
        ws.load_directions("../catalogue")


def test_the_file_explains_itself(tmp_path):
    ws = Workspace(tmp_path / "ws")
    entry = ws.add_directions(probe_set(), owner="Ada")
    with safe_open(str(tmp_path / "ws" / "directions" / f"{entry.id}.safetensors"), framework="np") as f:
        header = json.loads(f.metadata()["__probing__"])
        vectors = f.get_tensor("vectors")
    assert header["format"] == "probing.DirectionSet"
    assert {k: header[k] for k in ("method", "dataset", "layer", "layer_index", "owner", "name")} == {
        "method": "probe", "dataset": FP, "layer": "block_3", "layer_index": 3, "owner": "Ada",
        "name": "sentiment (lda)"}
    assert vectors.shape == (1, 16)


def test_listing_filters_by_dataset_and_layer(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.add_directions(probe_set(seed=0, layer="block_3", index=3))
    ws.add_directions(probe_set(seed=1, layer="block_4", index=4))
    other = DirectionSet("x", np.ones(16), "probe", dataset="fedcba9876543210", layer="block_3", layer_index=3)
    ws.add_directions(other)
    assert len(ws.list_directions()) == 3
    assert len(ws.list_directions(dataset=FP)) == 2
    assert [e.layer for e in ws.list_directions(dataset=FP, layer=4)] == ["block_4"]
    assert [e.layer_index for e in ws.list_directions(dataset=FP, layer="block_3")] == [3]
    assert ws.list_directions(dataset=FP, layer=7) == []


def test_saving_twice_keeps_one_entry_and_its_first_owner(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = ws.add_directions(probe_set(), owner="Ada")
    again = ws.add_directions(probe_set(), owner="Grace")
    assert again == first and len(ws.list_directions()) == 1
    assert len(list((tmp_path / "ws" / "directions").glob("*.safetensors"))) == 1


def test_only_the_owner_deletes(tmp_path):
    ws = Workspace(tmp_path / "ws")
    entry = ws.add_directions(probe_set(), owner="Ada")
    with pytest.raises(ProbingInputError, match="Only 'Ada' can delete .*you are Grace"):
        ws.delete_directions(entry.id, user="Grace")
    with pytest.raises(ProbingInputError, match="you are not logged in"):
        ws.delete_directions(entry.id)
    ws.delete_directions(entry.id, user="Ada")
    assert ws.list_directions() == []
    assert not (tmp_path / "ws" / "directions" / f"{entry.id}.safetensors").exists()
    anyone = ws.add_directions(probe_set(seed=5), owner=None)
    ws.delete_directions(anyone.id, user="Grace")
    assert ws.list_directions() == []


def test_other_workspace_objects_see_the_same_sets(tmp_path):
    a, b = Workspace(tmp_path / "ws"), Workspace(tmp_path / "ws")
    entry = a.add_directions(probe_set(), owner="Ada")
    assert [e.id for e in b.list_directions(dataset=FP, layer=3)] == [entry.id]
    np.testing.assert_array_equal(b.load_directions(entry.id).vectors, probe_set().vectors)


def test_a_crash_leaves_the_whole_set_or_none(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    ws = Workspace(root)
    folder = root / "directions"

    def killed(path, write):
        (path.parent / f".{path.name}.x.tmp").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(direction_store, "atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        ws.add_directions(probe_set(seed=1))
    monkeypatch.undo()
    assert ws.list_directions() == []
    kept = ws.add_directions(probe_set(seed=2), owner="Ada")
    lost = ws.add_directions(probe_set(seed=3), owner="Ada")
    with sqlite3.connect(folder / "index.sqlite") as db:  # killed after the file, before its row
        db.execute("DELETE FROM directions WHERE id=?", (kept.id,))
    (folder / f"{lost.id}.safetensors").unlink()  # killed after the file was deleted, before its row
    old = time.time() - 3600
    for tmp in folder.glob("*.tmp"):
        os.utime(tmp, (old, old))
    reopened = Workspace(root)
    assert [e.id for e in reopened.list_directions()] == [kept.id]
    assert reopened.list_directions()[0].owner == "Ada"
    assert not list(folder.glob("*.tmp"))


def test_a_damaged_file_is_reported_not_raised_at_listing(tmp_path):
    ws = Workspace(tmp_path / "ws")
    entry = ws.add_directions(probe_set(), owner="Ada")
    (tmp_path / "ws" / "directions" / f"{entry.id}.safetensors").write_bytes(b"garbage")
    assert [e.id for e in ws.list_directions()] == [entry.id]
    with pytest.raises(ProbingInputError, match="cannot be read .* Delete it and save it again"):
        ws.load_directions(entry.id)


def test_saving_from_many_threads_at_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ws = Workspace(tmp_path / "ws")
    sets = [probe_set(seed=i % 4) for i in range(16)]  # four distinct sets, each saved four times at once
    with ThreadPoolExecutor(8) as pool:
        entries = list(pool.map(lambda s: ws.add_directions(s, owner="Ada"), sets))
    assert len({e.id for e in entries}) == 4 and len(ws.list_directions()) == 4
    for dirset in sets[:4]:
        np.testing.assert_array_equal(ws.load_directions(dirset.content_id).vectors, dirset.vectors)


def test_a_set_whose_file_vanished_is_written_again(tmp_path):
    ws = Workspace(tmp_path / "ws")
    entry = ws.add_directions(probe_set(), owner="Ada")
    (tmp_path / "ws" / "directions" / f"{entry.id}.safetensors").unlink()
    assert ws.add_directions(probe_set(), owner="Grace") == entry
    loaded = ws.load_directions(entry.id)
    np.testing.assert_array_equal(loaded.vectors, probe_set().vectors)
    assert (loaded.owner, loaded.created) == ("Ada", entry.created)


def test_drop_zero_leaves_out_zero_vectors_and_rows_keeping_the_other_names():
    import numpy as np

    from probing.directions import drop_zero

    d = np.eye(3)[0]
    kept, dropped = drop_zero({"a": d, "zero": np.zeros(3), "set": np.array([d, np.zeros(3), 2 * d])})
    assert dropped == ["zero", "set[1]"]
    assert list(kept) == ["a", "set[0]", "set[2]"] and np.allclose(kept["set[2]"], 2 * d)
    assert drop_zero({"a": d}) == ({"a": d}, [])


def test_distinguishing_keeps_the_fields_that_differ_and_names_the_shared_ones():
    from probing.directions import direction_label, distinguishing

    labels = [direction_label("probe", "label (lda)", f"block_{i}") for i in (1, 2)]
    assert distinguishing(labels) == (["block_1", "block_2"], "probe · label (lda)")
    mixed = [direction_label("probe", "a (lda)", "block_1"), direction_label("pca", "PC1", "block_1")]
    assert distinguishing(mixed) == (["probe · a (lda)", "pca · PC1"], "block_1")
    assert distinguishing(["0", "1"]) == (["0", "1"], "")  # no shared field: unchanged
    assert distinguishing(["x · y", "z"]) == (["x · y", "z"], "")
