"""Provenance travels with the data: attrs through every writer, reader and producer; renaming shares, never mutates."""

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import torch
import zarr

import probing.data
from probing import ActivationSet, ProbingInputError, load_activations, save_activations
from probing.extract import rerun_model
from probing.io.interop import read_arrays, read_projector_tsv, read_vector_parquet, write_vector_parquet
from probing.io.writers import safetensors_bytes
from probing.probes import probe_layers
from probing.provenance import package_versions, to_json
from probing.store import Workspace
from probing.synthetic import GENERATOR, generator_params, make_concept_embeddings

DATA = Path(__file__).resolve().parents[1] / "data"


def upload(data: bytes, name: str) -> io.BytesIO:
    """Like Streamlit's UploadedFile: bytes with a file name."""
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def planted_set():
    return make_concept_embeddings(n_samples=120, d=8, n_concepts=2, n_layers=2, seed=3, concept_cosine=0.5)


def test_generator_records_every_parameter_and_they_reproduce_the_set(planted_set):
    aset, directions = planted_set
    assert aset.attrs["generator"] == GENERATOR
    params = generator_params(aset)
    assert params == {"n_samples": 120, "d": 8, "n_concepts": 2, "noise": 1.0, "n_layers": 2, "seed": 3,
                      "signal": 2.0, "concept_cosine": 0.5, "secondary_strength": 0.6, "name": None}
    np.testing.assert_array_equal(np.array(aset.attrs["planted_directions"]), directions)  # exact, as float64
    again, _ = make_concept_embeddings(**params)
    assert again.fingerprint == aset.fingerprint
    assert generator_params(ActivationSet(aset.acts, name=aset.name)) is None  # a name is not provenance


def test_attrs_must_be_json_and_are_a_private_copy():
    acts = np.zeros((3, 4), dtype=np.float32)
    given = {"tool": "mine", "shape": np.array([3, 4]), "scale": np.float32(0.5), "when": datetime(2024, 1, 2),
             "path": Path("a/b.npy")}
    aset = ActivationSet(acts, attrs=given)
    assert aset.attrs == {"tool": "mine", "shape": [3, 4], "scale": 0.5, "when": "2024-01-02T00:00:00", "path": "a/b.npy"}
    given["tool"] = "changed"
    assert aset.attrs["tool"] == "mine"
    with pytest.raises(ProbingInputError, match="attrs.*JSON-serialisable.*set"):
        ActivationSet(acts, attrs={"classes": {"a", "b"}})
    with pytest.raises(ProbingInputError, match="NaN"):
        ActivationSet(acts, attrs={"loss": float("nan")})
    with pytest.raises(ProbingInputError, match="must be a dict"):
        ActivationSet(acts, attrs=[("a", 1)])
    with pytest.raises(ProbingInputError, match="keys must be strings"):
        ActivationSet(acts, attrs={1: "a"})


def test_renamed_shares_arrays_keeps_attrs_and_fingerprint_and_does_not_rescan(planted_set, monkeypatch):
    aset, _ = planted_set
    fingerprint = aset.fingerprint
    scans = []
    monkeypatch.setattr(probing.data, "check_finite", lambda *args, **kwargs: scans.append(args))
    copy = aset.renamed("another name")
    assert scans == [] and copy._fingerprint == fingerprint  # no NaN scan, no re-hash
    assert copy.name == "another name" and aset.name != "another name"
    assert copy.acts is aset.acts and copy.attrs == aset.attrs and copy.fingerprint == fingerprint
    copy.attrs["generator"] = "edited"
    copy.labels["extra"] = np.zeros(aset.n_samples)
    assert aset.attrs["generator"] == GENERATOR and "extra" not in aset.labels
    assert aset.with_labels(extra=np.zeros(aset.n_samples)).attrs == aset.attrs


def test_fingerprint_ignores_attrs_and_name(planted_set):
    aset, _ = planted_set
    other = ActivationSet(aset.acts, aset.layers, aset.labels, aset.meta, "x", attrs={"source": "elsewhere"})
    assert other.fingerprint == aset.fingerprint


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_every_writer_stores_attrs_and_load_keeps_them_through_a_new_name(planted_set, tmp_path, suffix):
    aset, _ = planted_set
    path = save_activations(aset, tmp_path / f"a{suffix}")
    back = load_activations(path, name="renamed on load")
    assert back.attrs == aset.attrs and back.name == "renamed on load"
    labelled = load_activations(path, labels_csv=io.BytesIO(b"extra\n" + b"\n".join(b"1" for _ in range(120))))
    assert labelled.attrs == {**aset.attrs, "labels_file": ""} and "extra" in labelled.labels


def test_files_without_stored_attrs_say_which_file_and_format(tmp_path):
    acts = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    np.save(tmp_path / "plain.npy", acts)
    assert load_activations(tmp_path / "plain.npy").attrs == {"source": {"file": "plain.npy", "format": "npy"}}
    pd.DataFrame(acts, columns=list("abc")).to_csv(tmp_path / "t.csv", index=False)
    assert load_activations(tmp_path / "t.csv").attrs == {"source": {"file": "t.csv", "format": "csv"}}
    buffer = io.BytesIO()
    torch.save({"acts": torch.from_numpy(acts)}, buffer)
    assert load_activations(upload(buffer.getvalue(), "dump.pt")).attrs == {"source": {"file": "dump.pt", "format": "torch"}}


def test_shards_keep_the_first_shards_attrs_or_name_their_folder(planted_set, tmp_path):
    aset, _ = planted_set
    (tmp_path / "mine").mkdir()
    for i, rows in enumerate((slice(0, 60), slice(60, 120))):
        part = ActivationSet(aset.acts[rows], aset.layers, {k: v[rows] for k, v in aset.labels.items()},
                             attrs={**aset.attrs, "shard": i})
        save_activations(part, tmp_path / "mine" / f"{i}.safetensors")
    assert load_activations(tmp_path / "mine").attrs == {**aset.attrs, "shard": 0}
    (tmp_path / "foreign").mkdir()
    for i in range(2):
        np.save(tmp_path / "foreign" / f"{i}.npy", np.asarray(aset.acts[:, 0]))
    foreign = load_activations(tmp_path / "foreign")
    assert foreign.attrs == {"source": {"file": "foreign", "format": "shards", "shards": 2}}


def test_zarr_group_attrs_are_read_back(planted_set, tmp_path):
    aset, _ = planted_set
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("acts", data=np.asarray(aset.acts))
    group.attrs.update({"layers": aset.layers, "attrs": aset.attrs})
    assert load_activations(tmp_path / "g.zarr").attrs == aset.attrs
    bare = zarr.open_group(str(tmp_path / "bare.zarr"), mode="w")
    bare.create_array("acts", data=np.asarray(aset.acts))
    assert load_activations(tmp_path / "bare.zarr").attrs == {"source": {"file": "bare.zarr", "format": "zarr"}}


def test_interop_readers_carry_attrs(planted_set):
    aset, _ = planted_set
    assert read_vector_parquet(write_vector_parquet(aset, layer=1)).attrs == aset.attrs
    vectors, metadata = upload(b"1\t2\n3\t4\n", "v.tsv"), upload(b"a\nb\n", "m.tsv")
    assert read_projector_tsv(vectors, metadata).attrs == {
        "source": {"file": "v.tsv", "format": "projector-tsv", "metadata": "m.tsv"}}


def test_workspace_keeps_attrs_through_save_rename_reopen(planted_set, tmp_path):
    aset, _ = planted_set
    workspace = Workspace(tmp_path / "ws")
    entry = workspace.add_dataset(aset)
    workspace.rename_dataset(entry.fingerprint, "renamed in the workspace")
    reopened = workspace.load_dataset(entry.fingerprint)
    assert reopened.name == "renamed in the workspace" and reopened.attrs == aset.attrs
    assert reopened.fingerprint == aset.fingerprint


def test_bundled_sets_say_which_model_made_them():
    aset = load_activations(DATA / "sentiment_minilm.safetensors")
    assert aset.attrs["source"] == {"file": "data/sentiment.csv", "format": "csv"}
    assert rerun_model(aset) == {"model": None, "pooling": "mean", "hidden_states": list(range(7))}


def test_rerun_model_refuses_sets_it_cannot_rerun(planted_set):
    aset, _ = planted_set
    with pytest.raises(ProbingInputError, match="does not say which model"):
        rerun_model(aset.renamed("all-MiniLM-L6-v2 mean (120 texts)"))  # a model-like name is not enough
    texts = pd.DataFrame({"text": [f"t{i}" for i in range(aset.n_samples)]})
    record = {"extractor": "probing.extract.extract_activations", "model": "m", "model_path": None,
              "pooling": "tokens", "hidden_states": [3, 5]}
    tokens = ActivationSet(aset.acts, meta=texts, attrs=record)
    with pytest.raises(ProbingInputError, match="tokens pooling"):
        rerun_model(tokens)
    elsewhere = ActivationSet(aset.acts, meta=texts, attrs={**record, "pooling": "cls", "model_path": "/no/model"})
    with pytest.raises(ProbingInputError, match="not on this machine"):
        rerun_model(elsewhere)
    assert rerun_model(ActivationSet(aset.acts, meta=texts, attrs={**record, "pooling": "cls"}))["hidden_states"] == [3, 5]


@pytest.mark.model
def test_extraction_records_model_pooling_and_hidden_states():
    from probing.extract import DEFAULT_MODEL_NAME, EXTRACTOR, extract_activations

    aset = extract_activations(["A good day.", "A bad day."], pooling="cls", layers=[0, -1], max_length=16)
    assert aset.attrs == {"extractor": EXTRACTOR, "model": DEFAULT_MODEL_NAME, "model_path": None, "pooling": "cls",
                          "max_length": 16, "hidden_states": [0, 6], "n_blocks": 6, "steer": None,
                          "site": "resid", "ablate": None}
    assert rerun_model(aset.with_labels()) == {"model": None, "pooling": "cls", "hidden_states": [0, 6]}


def test_add_dataset_never_renames_the_shared_bundled_set(monkeypatch):
    from dashboard import datasets, state

    shared = datasets.open_bundled("sentiment")  # st.cache_resource: the object every session gets
    uploaded, _ = make_concept_embeddings(n_samples=50, d=4, name="sentiment")
    session = {"datasets": {"sentiment": uploaded}}
    monkeypatch.setattr(state, "st", SimpleNamespace(session_state=session))
    added = state.add_dataset(shared)
    assert added.name == f"sentiment ({shared.fingerprint[:8]})" and added.acts is shared.acts
    assert session["dataset"] is added and session["datasets"]["sentiment"] is uploaded
    assert datasets.open_bundled("sentiment") is shared and shared.name == "sentiment"


def test_reading_the_versions_imports_no_scikit_learn():
    """A page that saves a result without fitting a probe must not pay scikit-learn's import (a second or more)."""
    import subprocess
    import sys

    code = ("import sys; from probing.provenance import package_versions; v = package_versions(); "
            "assert 'sklearn' not in sys.modules, 'imported'; print(v['scikit-learn'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    import sklearn

    assert done.stdout.strip() == sklearn.__version__


def test_one_version_dictionary_with_one_spelling(planted_set, tmp_path):
    import sklearn

    versions = package_versions()
    assert versions["scikit-learn"] == sklearn.__version__ and "sklearn" not in versions
    assert versions["numpy"] == np.__version__ and versions["torch"] == torch.__version__  # torch is imported here
    aset, _ = planted_set
    assert probe_layers(aset, "label", cv=2).versions == versions
    workspace = Workspace(tmp_path / "ws")
    assert workspace.load_result(workspace.save_result("k", "n", {}, {"a": 1})).versions == versions


def test_one_json_encoder():
    when = datetime(2024, 5, 6, 7, 8, tzinfo=timezone.utc)
    value = {"a": np.arange(3), "b": np.float32(1.5), "c": pd.Timestamp(when), "d": Path("x/y"), "e": np.bool_(True)}
    assert json.loads(to_json(value)) == {"a": [0, 1, 2], "b": 1.5, "c": when.isoformat(), "d": "x/y", "e": True}
    with pytest.raises(ProbingInputError, match="The params must be JSON-serialisable.*object"):
        to_json({"x": object()}, "The params")
    with pytest.raises(ProbingInputError, match="replace NaN"):
        to_json([np.nan])
    assert to_json([np.nan], allow_nan=True) == "[NaN]"


def test_one_safetensors_writer_is_read_by_safetensors():
    arrays = {"w": np.arange(12, dtype=np.float16).reshape(3, 4), "ids": np.arange(5), "mask": np.array([True, False]),
              "scalar": np.float32(2.5), "big_endian": np.arange(4, dtype=">f4")}
    back = safetensors.numpy.load(safetensors_bytes(arrays, {"who": "test"}))
    for key, value in arrays.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == np.asarray(value).dtype.newbyteorder("<")
    with pytest.raises(ProbingInputError, match="complex128.*safetensors cannot store"):
        safetensors_bytes({"z": np.ones(2, dtype=complex)})


def test_one_matrix_reader_for_npy_npz_safetensors_and_torch():
    W = np.arange(12, dtype=np.float32).reshape(3, 4)
    npy = io.BytesIO()
    np.save(npy, W)
    np.testing.assert_array_equal(read_arrays(upload(npy.getvalue(), "W_q.npy"))["W_q"], W)
    tensors = read_arrays(safetensors_bytes({"q": W, "k": W.T}))
    assert set(tensors) == {"q", "k"} and tensors["k"].shape == (4, 3)
    pt = io.BytesIO()
    torch.save({"W_dec": torch.from_numpy(W).to(torch.bfloat16)}, pt)
    np.testing.assert_array_equal(read_arrays(pt.getvalue())["W_dec"], W)  # bfloat16 widened exactly (small ints)
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProbingInputError, match="pickle|refused|object"):
        read_arrays(pickled.getvalue())
    with pytest.raises(ProbingInputError, match="vectors are read from"):
        read_arrays(b"a,b\n1,2\n")


def test_data_page_shows_provenance_and_the_one_layer_summary(downloads):
    from conftest import run_page

    at = run_page("data")
    aset = at.session_state["dataset"]
    assert json.loads(at.json[0].value) == aset.attrs and aset.attrs["model"] == "all-MiniLM-L6-v2"
    shown = pd.read_csv(io.BytesIO(downloads[f"dl-layer_norms_{aset.fingerprint}.csv"]))
    expected = aset.layer_summary()
    assert shown["name"].tolist() == aset.layers
    np.testing.assert_allclose(shown[["mean_norm", "std_norm", "mean_cosine"]], expected[["mean_norm", "std_norm",
                                                                                        "mean_cosine"]], rtol=1e-9)
    X = np.asarray(aset.layer(-1), dtype=np.float64)  # brute force on the last layer
    assert shown["mean_norm"].iloc[-1] == pytest.approx(np.linalg.norm(X, axis=1).mean())
