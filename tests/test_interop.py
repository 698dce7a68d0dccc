"""Round trips through the files other tools use: projector TSV, vector parquet, SAELens SAEs, control vectors."""

import io
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import save, save_file

from probing import ActivationSet, ProbingInputError
from probing.io.interop import (SAE, directions_to_safetensors, load_sae, read_control_vectors, read_directions,
                             read_projector_tsv, read_vector_parquet, sae_feature_activations, write_projector_tsv,
                             write_vector_parquet)
from probing.synthetic import make_concept_embeddings


@pytest.fixture(scope="module")
def aset():
    aset, _ = make_concept_embeddings(n_samples=60, d=8, n_concepts=2, n_layers=2, seed=1)
    aset.meta["text"] = [f"sentence {i}\twith a tab" for i in range(60)]
    return ActivationSet(aset.acts, aset.layers, {**aset.labels, "topic": np.array(["a", "b", "c"] * 20)}, aset.meta,
                         aset.name)


def test_projector_tsv_round_trip_keeps_vectors_labels_and_text(aset, tmp_path):
    vectors, metadata = write_projector_tsv(aset, layer=1)
    (tmp_path / "vectors.tsv").write_bytes(vectors)
    (tmp_path / "metadata.tsv").write_bytes(metadata)
    back = read_projector_tsv(tmp_path / "vectors.tsv", tmp_path / "metadata.tsv")
    np.testing.assert_array_equal(back.layer(0), aset.layer(1))
    for key in aset.labels:
        np.testing.assert_array_equal(back.labels[key].astype(str), aset.labels[key].astype(str))
    assert list(back.meta["text"]) == [t.replace("\t", " ") for t in aset.meta["text"]]
    assert metadata.decode().splitlines()[0].split("\t")[:2] == ["concept_0", "concept_1"]  # header: several columns


def test_single_column_metadata_has_no_header_and_selection_exports_only_its_rows(aset):
    one = ActivationSet(aset.acts, aset.layers, {"label": aset.labels["label"]}, None, "one")
    rows = np.arange(60) % 3 == 0
    vectors, metadata = write_projector_tsv(one, layer=0, rows=rows)
    assert len(metadata.decode().splitlines()) == 20  # no header line for one column (TensorBoard's rule)
    back = read_projector_tsv(vectors, metadata)
    np.testing.assert_array_equal(back.layer(0), aset.layer(0)[rows])
    np.testing.assert_array_equal(back.labels["label"], aset.labels["label"][rows])


def test_projector_tsv_mismatch_and_non_numbers_are_explained(aset):
    vectors, metadata = write_projector_tsv(aset, rows=np.arange(10))
    with pytest.raises(ProbingInputError, match="11 rows but the vectors TSV has 10"):
        read_projector_tsv(vectors, write_projector_tsv(aset, rows=np.arange(11))[1])
    with pytest.raises(ProbingInputError, match="tab-separated numbers"):
        read_projector_tsv(b"1\tx\n2\t3\n")


def test_parquet_round_trip_with_extra_columns(aset, tmp_path):
    path = tmp_path / "atlas.parquet"
    path.write_bytes(write_vector_parquet(aset, layer=0, extra={"projection_x": np.arange(60.0)}))
    back = read_vector_parquet(path)
    np.testing.assert_array_equal(back.layer(0), aset.layer(0))
    assert back.layers == ["layer_0"] and back.name == aset.name
    np.testing.assert_array_equal(back.labels["topic"], aset.labels["topic"])
    np.testing.assert_array_equal(back.labels["projection_x"], np.arange(60.0))
    assert list(back.meta["text"]) == list(aset.meta["text"])


def test_parquet_from_another_tool_with_a_list_column(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"embedding": [np.arange(4) + i for i in range(5)], "text": list("abcde")})
    df.to_parquet(tmp_path / "ls.parquet")
    back = read_vector_parquet(tmp_path / "ls.parquet")
    np.testing.assert_array_equal(back.layer(0), np.stack(df.embedding).astype(np.float32))
    df["embedding"] = [np.arange(i + 1) for i in range(5)]
    df.to_parquet(tmp_path / "ragged.parquet")
    with pytest.raises(ProbingInputError, match="same length"):
        read_vector_parquet(tmp_path / "ragged.parquet")


def test_sae_loads_and_encodes_like_the_saelens_formula(tmp_path):
    rng = np.random.default_rng(0)
    d_in, d_sae = 8, 24
    weights = {"W_enc": rng.standard_normal((d_in, d_sae)).astype(np.float32),
               "b_enc": rng.standard_normal(d_sae).astype(np.float32),
               "W_dec": rng.standard_normal((d_sae, d_in)).astype(np.float32),
               "b_dec": rng.standard_normal(d_in).astype(np.float32)}
    save_file(weights, tmp_path / "sae_weights.safetensors")
    (tmp_path / "cfg.json").write_text(json.dumps({"d_in": d_in, "d_sae": d_sae, "hook_name": "blocks.3.hook_resid_post"}))
    sae = load_sae(tmp_path / "sae_weights.safetensors", tmp_path / "cfg.json")
    assert isinstance(sae, SAE) and (sae.d_in, sae.d_sae) == (d_in, d_sae)
    np.testing.assert_array_equal(sae.W_dec, weights["W_dec"])
    X = rng.standard_normal((5, d_in)).astype(np.float32)
    expected = torch.relu((torch.from_numpy(X) - torch.from_numpy(weights["b_dec"])) @ torch.from_numpy(weights["W_enc"])
                          + torch.from_numpy(weights["b_enc"])).numpy()
    np.testing.assert_allclose(sae_feature_activations(sae, X), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ProbingInputError, match="Inconsistent SAE shapes"):
        load_sae(tmp_path / "sae_weights.safetensors", json.dumps({"d_in": 9}).encode())
    with pytest.raises(ProbingInputError, match="lack"):
        load_sae(save({"W_dec": weights["W_dec"]}))


def test_control_vectors_from_safetensors_and_torch():
    rng = np.random.default_rng(1)
    layers = {"5": rng.standard_normal(8), "6": rng.standard_normal(8)}
    back = read_control_vectors(save({k: v.astype(np.float32) for k, v in layers.items()}))
    np.testing.assert_allclose(back["5"], layers["5"], rtol=1e-6)
    buffer = io.BytesIO()
    torch.save({5: torch.from_numpy(layers["5"])[None, :], 6: torch.from_numpy(layers["6"])}, buffer)
    back = read_control_vectors(buffer.getvalue())
    assert set(back) == {"5", "6"}
    np.testing.assert_array_equal(back["5"], layers["5"])


def test_pickled_objects_are_refused():
    buffer = io.BytesIO()
    torch.save({"5": torch.ones(3), "evil": io.StringIO("x")}, buffer)
    with pytest.raises(ProbingInputError, match="refused"):
        read_control_vectors(buffer.getvalue())


def test_direction_sets_round_trip_through_safetensors():
    directions = {"probe:label": np.arange(6.0), "sae": np.arange(18.0).reshape(3, 6)}
    back = read_directions(directions_to_safetensors(directions))
    np.testing.assert_array_equal(back["probe:label"], directions["probe:label"][None, :])
    np.testing.assert_array_equal(back["sae"], directions["sae"])
    buffer = io.BytesIO()
    np.save(buffer, directions["sae"])
    assert list(read_directions(buffer.getvalue())) == ["directions"]
