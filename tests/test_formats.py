"""Round trips through every supported format, from paths and from file objects."""

import io
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import safetensors.numpy

from probing import ActivationSet, ProbingInputError, load_activations, save_activations
from probing.synthetic import make_concept_embeddings

ROOT = Path(__file__).resolve().parents[1]


class Upload(io.BytesIO):
    """Like Streamlit's UploadedFile: a BytesIO with a name and a size."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


@pytest.fixture
def rich_set():
    """Three float16 layers, numeric/text/bool labels and a meta frame with text, ints, NaN and bools."""
    aset, _ = make_concept_embeddings(40, 6, n_concepts=2, n_layers=3, seed=1)
    n = aset.n_samples
    labels = {**aset.labels, "animal": np.array(["cat", "dog", "ému", "dog"] * 10),
              "score": np.linspace(-1, 1, n), "flag": np.arange(n) % 3 == 0}
    meta = pd.DataFrame({"text": [f"sentence {i}" for i in range(n)], "id": np.arange(n) * 7,
                         "weight": np.where(np.arange(n) % 5 == 0, np.nan, np.arange(n) / 3), "kept": np.arange(n) % 2 == 1})
    attrs = {**aset.attrs, "note": "ému \"quoted\"", "nested": {"values": [1, 2.5, None, True]}}
    return ActivationSet(aset.acts.astype(np.float16), ["embed", "mid", "final"], labels, meta, "rich", attrs=attrs)


def assert_same(a: ActivationSet, b: ActivationSet):
    assert b.acts.dtype == a.acts.dtype and b.acts.shape == a.acts.shape
    assert np.asarray(b.acts).tobytes() == np.asarray(a.acts).tobytes()
    assert b.layers == a.layers and b.name == a.name and b.attrs == a.attrs
    assert b.labels.keys() == a.labels.keys()
    for key in a.labels:
        assert b.labels[key].dtype.kind == a.labels[key].dtype.kind, key
        np.testing.assert_array_equal(b.labels[key], a.labels[key])
    pd.testing.assert_frame_equal(b.meta, a.meta)
    assert b.fingerprint == a.fingerprint


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_load_round_trip_is_exact(rich_set, tmp_path, suffix):
    path = save_activations(rich_set, tmp_path / f"rich{suffix}")
    assert_same(rich_set, load_activations(path))
    assert_same(rich_set, load_activations(Upload(path.read_bytes(), "upload.bin")))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_float32_without_labels_round_trips(tmp_path):
    aset, _ = make_concept_embeddings(30, 5, seed=0)
    plain = ActivationSet(aset.acts, name="plain")
    for suffix in (".npz", ".safetensors"):
        assert_same(plain, load_activations(save_activations(plain, tmp_path / f"p{suffix}")))


def test_saved_safetensors_open_in_plain_safetensors(rich_set, tmp_path):
    tensors = safetensors.numpy.load_file(save_activations(rich_set, tmp_path / "r.safetensors"))
    np.testing.assert_array_equal(tensors["acts"], rich_set.acts)
    np.testing.assert_array_equal(tensors["score"], rich_set.labels["score"])
    classes = np.unique(rich_set.labels["animal"])
    np.testing.assert_array_equal(classes[tensors["animal"]], rich_set.labels["animal"])


def test_saved_npz_opens_in_plain_numpy(rich_set, tmp_path):
    with np.load(save_activations(rich_set, tmp_path / "r.npz"), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["acts"], rich_set.acts)
        np.testing.assert_array_equal(npz["animal"], rich_set.labels["animal"])


def test_save_replaces_existing_file(rich_set, tmp_path):
    path = tmp_path / "r.npz"
    path.write_bytes(b"old contents")
    save_activations(rich_set, path)
    assert load_activations(path).fingerprint == rich_set.fingerprint


def test_failed_save_leaves_previous_file_and_no_temp_file(rich_set, tmp_path):
    path = save_activations(rich_set, tmp_path / "r.safetensors")
    before = path.read_bytes()
    unstorable = rich_set.with_labels(phase=np.exp(1j * np.arange(rich_set.n_samples)))
    with pytest.raises(ProbingInputError, match="safetensors cannot store"):
        save_activations(unstorable, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["r.safetensors"]


def test_npy_2d_becomes_one_layer_and_is_memory_mapped(tmp_path):
    acts = np.random.default_rng(0).normal(size=(20, 7)).astype(np.float32)
    np.save(tmp_path / "a.npy", acts)
    aset = load_activations(tmp_path / "a.npy")
    assert aset.shape == (20, 1, 7) and isinstance(aset.acts, np.memmap)
    np.testing.assert_array_equal(aset.layer(0), acts)
    assert aset.name == "a"


def test_npy_3d_kept_and_loads_from_upload(tmp_path):
    acts = np.random.default_rng(1).normal(size=(10, 4, 3)).astype(np.float16)
    buffer = io.BytesIO()
    np.save(buffer, acts)
    aset = load_activations(Upload(buffer.getvalue(), "acts.npy"), name="mine")
    assert aset.shape == (10, 4, 3) and aset.acts.dtype == np.float16 and aset.name == "mine"
    np.testing.assert_array_equal(aset.acts, acts)


def per_layer_arrays(n_layers=12, n=15, d=4):
    rng = np.random.default_rng(2)
    layers = {f"layer_{i}": rng.normal(size=(n, d)).astype(np.float32) for i in range(n_layers)}
    shuffled = dict(sorted(layers.items()))  # lexicographic: layer_0, layer_1, layer_10, layer_11, layer_2, ...
    return layers, shuffled, rng.integers(0, 2, n)


def check_per_layer(aset, layers, y):
    assert aset.layers == [f"layer_{i}" for i in range(len(layers))]
    for i, key in enumerate(aset.layers):
        np.testing.assert_array_equal(aset.layer(i), layers[key])
    np.testing.assert_array_equal(aset.labels["y"], y)


def test_npz_per_layer_keys_stack_in_numeric_order(tmp_path):
    layers, shuffled, y = per_layer_arrays()
    np.savez(tmp_path / "l.npz", **shuffled, y=y)
    check_per_layer(load_activations(tmp_path / "l.npz"), layers, y)


def test_safetensors_from_other_tools(tmp_path):
    layers, shuffled, y = per_layer_arrays()
    safetensors.numpy.save_file({**shuffled, "y": y}, tmp_path / "l.safetensors")
    check_per_layer(load_activations(tmp_path / "l.safetensors"), layers, y)
    data = safetensors.numpy.save({"activations": np.ones((3, 2, 2), np.float32), "y": np.arange(3)})
    aset = load_activations(Upload(data, "x.safetensors"))
    assert aset.shape == (3, 2, 2) and aset.labels["y"].tolist() == [0, 1, 2]


def test_hdf5_acts_string_labels_and_per_layer(tmp_path):
    acts = np.random.default_rng(3).normal(size=(12, 2, 5))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["activations"] = acts
        f["topic"] = np.array(["sport", "news", "art"] * 4, dtype=h5py.string_dtype())
        f["group/score"] = np.arange(12.0)
    aset = load_activations(tmp_path / "a.h5")
    np.testing.assert_allclose(aset.acts, acts.astype(np.float32))
    assert aset.labels["topic"].tolist() == ["sport", "news", "art"] * 4
    np.testing.assert_array_equal(aset.labels["group/score"], np.arange(12.0))
    layers, shuffled, y = per_layer_arrays()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in {**shuffled, "y": y}.items():
            f[key] = value
    check_per_layer(load_activations(Upload(buffer.getvalue(), "layers.hdf5")), layers, y)


def test_torch_dict_of_tensors(tmp_path):
    import torch
    acts = torch.randn(9, 3, 4, dtype=torch.bfloat16)
    torch.save({"acts": acts, "label": torch.arange(9) % 2, "word": ["a", "b", "c"] * 3}, tmp_path / "a.pt")
    aset = load_activations(tmp_path / "a.pt")
    np.testing.assert_array_equal(aset.acts, acts.float().numpy())
    assert aset.labels["label"].tolist() == [0, 1] * 4 + [0] and aset.labels["word"].tolist() == ["a", "b", "c"] * 3
    layers, shuffled, y = per_layer_arrays()
    buffer = io.BytesIO()
    torch.save({k: torch.from_numpy(v) for k, v in {**shuffled, "y": y}.items()}, buffer)
    check_per_layer(load_activations(Upload(buffer.getvalue(), "layers.pth")), layers, y)


def test_safetensors_bfloat16_is_widened(tmp_path):
    import torch
    import safetensors.torch

    acts = torch.randn(6, 5).to(torch.bfloat16)
    safetensors.torch.save_file({"acts": acts}, tmp_path / "bf.safetensors")
    aset = load_activations(tmp_path / "bf.safetensors")
    assert aset.acts.dtype == np.float32
    np.testing.assert_array_equal(aset.layer(0), acts.float().numpy())


@pytest.fixture
def table():
    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.normal(size=(12, 5)), columns=[f"dim_{i}" for i in range(5)])
    df["label"] = np.arange(12) % 2
    df["sentiment"] = ["pos", "neg", "neg"] * 4
    df["text"] = [f"review number {i}" for i in range(12)]
    df["pair_id"] = np.arange(12) // 2
    return df


def check_table(aset, df):
    np.testing.assert_allclose(aset.layer(0), df[[f"dim_{i}" for i in range(5)]].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(aset.labels["label"], df["label"])
    np.testing.assert_array_equal(aset.labels["sentiment"], df["sentiment"])
    assert "text" not in aset.labels and aset.meta["text"].tolist() == df["text"].tolist()
    assert "pair_id" not in aset.labels and aset.meta["pair_id"].tolist() == df["pair_id"].tolist()


def test_csv_and_parquet(tmp_path, table):
    table.to_csv(tmp_path / "t.csv", index=False)
    check_table(load_activations(tmp_path / "t.csv"), table)
    table.to_parquet(tmp_path / "t.parquet")
    check_table(load_activations(tmp_path / "t.parquet"), table)
    check_table(load_activations(Upload((tmp_path / "t.parquet").read_bytes(), "t.parquet")), table)
    check_table(load_activations(Upload(table.to_csv(index=False, sep="\t").encode(), "t.tsv")), table)


def test_csv_without_header_row_or_with_pandas_index(table):
    numbers = table[[f"dim_{i}" for i in range(5)]]
    aset = load_activations(Upload(numbers.to_csv(index=False, header=False).encode(), "raw.csv"))
    assert aset.shape == (12, 1, 5)
    np.testing.assert_allclose(aset.layer(0), numbers.to_numpy(), rtol=1e-6)
    aset = load_activations(Upload(table.to_csv().encode(), "indexed.csv"))
    check_table(aset, table)
    assert aset.meta["index"].tolist() == list(range(12)) and "index" not in aset.labels


def test_hdf5_with_user_block(tmp_path):
    with h5py.File(tmp_path / "u.h5", "w", userblock_size=512) as f:
        f["acts"] = np.eye(3)
    np.testing.assert_array_equal(load_activations(tmp_path / "u.h5").layer(0), np.eye(3))


def test_side_labels_csv_joined_by_row_order(tmp_path):
    acts = np.random.default_rng(5).normal(size=(8, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", acts)
    side = pd.DataFrame({"truth": [1, 0] * 4, "colour": ["red", "blue"] * 4, "text": [f"s{i}" for i in range(8)]})
    side.to_csv(tmp_path / "labels.csv", index=False)
    aset = load_activations(tmp_path / "a.npy", labels_csv=Upload((tmp_path / "labels.csv").read_bytes(), "labels.csv"))
    assert aset.labels["truth"].tolist() == [1, 0] * 4 and aset.labels["colour"].tolist() == ["red", "blue"] * 4
    assert aset.meta["text"].tolist() == side["text"].tolist()


def test_content_decides_not_the_name(tmp_path, rich_set, table):
    npz = save_activations(rich_set, tmp_path / "r.npz")
    renamed = npz.rename(tmp_path / "r.csv")
    assert load_activations(renamed).fingerprint == rich_set.fingerprint
    table.to_csv(tmp_path / "t.npy", index=False)
    check_table(load_activations(tmp_path / "t.npy"), table)


def test_import_probing_does_not_import_torch_or_h5py():
    code = "import sys, probing; print(sorted({'torch', 'h5py', 'streamlit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
