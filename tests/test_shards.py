"""Lazy loading: Zarr stores, shard directories/globs, SAELens caches, ShardedArray indexing, fingerprints."""

import json
import os

import numpy as np
import pyarrow as pa
import pytest
import zarr
from safetensors.numpy import save_file

from probing import ActivationSet, ProbingInputError, load_activations, save_activations
from probing import data as data_module
from probing.lazy import ShardedArray

RNG = np.random.default_rng(0)


def values(n, n_layers=2, d=4, dtype=np.float16):
    return RNG.standard_normal((n, n_layers, d)).astype(dtype)


def test_sharded_array_indexes_like_the_concatenated_array():
    parts = [values(3), values(5), values(1), values(4)]
    full = np.concatenate(parts)
    lazy = ShardedArray(parts)
    assert lazy.shape == full.shape and lazy.dtype == full.dtype and len(lazy) == 13
    for key in [slice(None), slice(2, 9), slice(7, 8), slice(-4, None), slice(1, 12, 3), 0, 8, -1,
                (slice(2, 10), 1), (slice(None), 0, slice(1, 3)), np.array([12, 0, 4, 4]), Ellipsis]:
        np.testing.assert_array_equal(lazy[key], full[key])
    np.testing.assert_array_equal(np.asarray(lazy), full)
    np.testing.assert_array_equal(lazy.astype(np.float32)[3:6], full[3:6].astype(np.float32))
    with pytest.raises(IndexError):
        lazy[13]


def test_zarr_array_opens_lazily_with_the_in_memory_fingerprint(tmp_path):
    acts = values(40, 3, 8)
    z = zarr.create_array(store=str(tmp_path / "acts.zarr"), shape=acts.shape, chunks=(16, 1, 8), dtype="float16")
    z[:] = acts
    z.attrs["layers"] = ["emb", "mid", "out"]
    aset = load_activations(tmp_path / "acts.zarr")
    assert aset.storage == "zarr" and aset.layers == ["emb", "mid", "out"] and aset.name == "acts"
    np.testing.assert_array_equal(aset.acts[10:30], acts[10:30])
    assert aset.fingerprint == ActivationSet(acts, ["emb", "mid", "out"]).fingerprint


def test_zarr_group_with_labels(tmp_path):
    acts, label = values(20, 1, 5, np.float32), np.arange(20) % 3
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("acts", shape=acts.shape, dtype="float32")[:] = acts
    group.create_array("label", shape=(20,), dtype="int64")[:] = label
    aset = load_activations(tmp_path / "g.zarr", name="grouped")
    assert aset.name == "grouped" and aset.shape == (20, 1, 5)
    np.testing.assert_array_equal(aset.labels["label"], label)
    bad = zarr.open_group(str(tmp_path / "nolabel.zarr"), mode="w")
    bad.create_array("other", shape=(3,), dtype="int64")
    with pytest.raises(ProbingInputError, match="no 'acts' array"):
        load_activations(tmp_path / "nolabel.zarr")


def test_directory_and_glob_of_shards_in_natural_order(tmp_path):
    parts = {2: values(6), 10: values(4), 1: values(5)}
    for i, part in parts.items():
        labels = {"label": (np.arange(len(part)) % 2).astype(str)}
        save_activations(ActivationSet(part, ["a", "b"], labels), tmp_path / f"shard_{i}.safetensors")
    expected = np.concatenate([parts[1], parts[2], parts[10]])
    for where in (tmp_path, str(tmp_path / "shard_*.safetensors")):
        aset = load_activations(where)
        assert aset.storage == "shards" and aset.layers == ["a", "b"] and aset.shape == (15, 2, 4)
        np.testing.assert_array_equal(np.asarray(aset.acts), expected)
        assert list(aset.labels["label"]) == [str(i % 2) for n in (5, 6, 4) for i in range(n)]


def test_old_saelens_safetensors_buffers(tmp_path):
    buffers = [values(8, 3, 6, np.float32) for _ in range(3)]
    for i, buffer in enumerate(buffers):
        save_file({"activations": buffer}, str(tmp_path / f"{i}.safetensors"))
    aset = load_activations(tmp_path)
    assert aset.shape == (24, 3, 6)
    np.testing.assert_array_equal(aset.acts[5:20], np.concatenate(buffers)[5:20])


@pytest.mark.parametrize("change, what", [(lambda a: a[:, :, :3], "d 3"), (lambda a: a.astype(np.float32), "dtype float32")])
def test_a_mismatched_shard_is_named(tmp_path, change, what):
    np.save(tmp_path / "0.npy", values(5))
    np.save(tmp_path / "1.npy", values(5))
    np.save(tmp_path / "2.npy", change(values(5)))
    with pytest.raises(ProbingInputError, match=f"Shard '2.npy' has {what}.*first shard '0.npy'"):
        load_activations(tmp_path)


def test_no_shards_and_bad_patterns(tmp_path):
    with pytest.raises(ProbingInputError, match="is a folder, not a file"):
        load_activations(tmp_path)
    with pytest.raises(ProbingInputError, match="The pattern .* holds no activation shards"):
        load_activations(str(tmp_path / "*.npy"))


def write_saelens_cache(path, hooks, context, d, batches):
    """A HF datasets save_to_disk directory as SAELens writes it: Array2D per hook + token_ids."""
    path.mkdir()
    features = {h: {"shape": [context, d], "dtype": "float32", "_type": "Array2D"} for h in hooks}
    features["token_ids"] = {"feature": {"dtype": "int32", "_type": "Value"}, "length": context, "_type": "Sequence"}
    (path / "dataset_info.json").write_text(json.dumps({"features": features}))
    (path / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    schema = pa.schema([(h, pa.list_(pa.list_(pa.float32()))) for h in hooks] + [("token_ids", pa.list_(pa.int32()))])
    arrays = []
    with pa.ipc.new_stream(str(path / "data-00000-of-00001.arrow"), schema) as writer:
        for rows in batches:
            acts = RNG.standard_normal((rows, len(hooks), context, d)).astype(np.float32)
            tokens = RNG.integers(0, 50000, (rows, context)).astype(np.int32)
            columns = [pa.array(acts[:, h].tolist(), type=schema.field(h).type) for h in range(len(hooks))]
            writer.write_batch(pa.record_batch(columns + [pa.array(tokens.tolist(), pa.list_(pa.int32()))], schema=schema))
            arrays.append((acts, tokens))
    return arrays


def test_saelens_arrow_cache_is_one_layer_per_hook_one_sample_per_token(tmp_path):
    hooks = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]
    batches = write_saelens_cache(tmp_path / "cache", hooks, context=4, d=3, batches=[3, 2])
    aset = load_activations(tmp_path / "cache")
    assert aset.storage == "arrow" and aset.layers == hooks and aset.shape == (20, 2, 3)
    expected = np.concatenate([acts.transpose(0, 2, 1, 3).reshape(-1, 2, 3) for acts, _ in batches])
    np.testing.assert_array_equal(np.asarray(aset.acts), expected)
    np.testing.assert_array_equal(aset.meta["token_id"], np.concatenate([t.ravel() for _, t in batches]))
    assert aset.meta["position"].tolist()[:6] == [0, 1, 2, 3, 0, 1] and aset.meta["sequence"].iloc[-1] == 4


def test_large_lazy_sets_get_a_sampled_fingerprint_tied_to_the_file(tmp_path, monkeypatch):
    path = tmp_path / "big.npy"
    acts = values(50)
    np.save(path, acts)
    full = load_activations(path).fingerprint
    monkeypatch.setattr(data_module, "FULL_HASH_BYTES", 0)
    sampled = load_activations(path).fingerprint
    assert sampled != full and load_activations(path).fingerprint == sampled
    assert ActivationSet(acts).fingerprint == full  # in-memory sets always hash every value
    np.save(path, acts)
    os.utime(path, ns=(1, 1))  # same bytes, different file identity
    assert load_activations(path).fingerprint != sampled
