"""Every bad input raises ProbingInputError saying what to fix, and no pickle payload ever runs."""

import io
import os
import pickle
import re
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import torch

from probing import ActivationSet, ProbingInputError, load_activations, save_activations
from probing.io.files import SUPPORTED

GOOD = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)


def npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def h5_bytes(**datasets) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return buffer.getvalue()


def parquet_bytes(df) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer)
    return buffer.getvalue()


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def torch_tensor(array):
    return torch.from_numpy(array)


def with_nan(array, index):
    array = array.copy()
    array[index] = np.nan
    return array


CASES = {
    # name: (file name, bytes factory, pattern the message must contain: what was wrong ... what to do)
    "empty": ("a.npy", lambda: b"", r"empty.*upload it again"),
    "truncated_npy": ("a.npy", lambda: npy_bytes(GOOD)[:-10], r"truncated.*export it again"),
    "truncated_npz": ("a.npz", lambda: npz_bytes(acts=GOOD)[:-30], r"truncated.*export it again"),
    "truncated_safetensors_data": ("a.safetensors", lambda: safetensors.numpy.save({"acts": GOOD})[:-8],
                                   r"truncated or corrupt.*Save it again"),
    "truncated_safetensors_header": ("a.safetensors", lambda: safetensors.numpy.save({"acts": GOOD})[:20],
                                     r"truncated.*export it again"),
    "corrupt_safetensors_json": ("a.safetensors", lambda: (12).to_bytes(8, "little") + b"{not json!!}",
                                 r"JSONDecodeError.*corrupt.*save_file"),
    "truncated_h5": ("a.h5", lambda: h5_bytes(acts=GOOD)[:-200], r"as hdf5.*truncated or corrupt.*save it again"),
    "truncated_parquet": ("a.parquet", lambda: parquet_bytes(pd.DataFrame(GOOD))[:-20], r"truncated.*Export it again"),
    "truncated_torch": ("a.pt", lambda: torch_bytes({"acts": GOOD})[:-100], r"truncated.*export it again"),
    "random_bytes": ("a.npy", lambda: b"\x01\x02" + np.random.default_rng(0).bytes(500),
                     rf"not a supported.*named 'a.npy'.*{re.escape(SUPPORTED)}.*Export"),
    "raw_pickle": ("a.npy", lambda: pickle.dumps({"acts": GOOD}), r"raw Python pickle.*never loaded.*Save the arrays"),
    "object_npy": ("a.npy", lambda: npy_bytes(np.array([["a", 1]] * 3, dtype=object), allow_pickle=True),
                   r"pickled Python objects.*refused.*np.asarray\(values, dtype=str\)"),
    "object_npz": ("a.npz", lambda: npz_bytes(acts=GOOD, label=np.array(list("abcdef"), dtype=object)),
                   r"'label'.*pickled Python objects.*dtype=str"),
    "nan_npy": ("a.npy", lambda: npy_bytes(with_nan(GOOD, (3, 2))), r"'acts' \(indexed sample, layer, column\).*NaN.*index \(3, 0, 2\).*Remove or impute"),
    "inf_layer": ("a.npz", lambda: npz_bytes(layer_0=GOOD, layer_1=GOOD * np.inf),
                  r"'layer_0'..'layer_1' \(indexed sample, layer, column\).*Inf.*index \(0, 1, 0\).*Remove or impute"),
    "nan_label": ("a.npz", lambda: npz_bytes(acts=GOOD, score=with_nan(np.arange(6.0), 4)),
                  r"Label 'score'.*NaN.*index \(4,\).*Remove or impute"),
    "nan_csv": ("a.csv", lambda: pd.DataFrame(with_nan(GOOD, (5, 1))).to_csv(index=False).encode(),
                r"column '1', row 5.*Fill or drop"),
    "one_d": ("a.npy", lambda: npy_bytes(np.arange(5.0)), r"1-D.*expected \(n_samples, d\).*reshape"),
    "four_d": ("a.npz", lambda: npz_bytes(acts=np.zeros((2, 2, 2, 2))), r"4-D.*Flatten extra axes"),
    "strings_as_acts": ("a.npy", lambda: npy_bytes(np.array([["a", "b"]] * 3)), r"dtype <U1.*must be numbers.*float"),
    "bool_layers": ("a.h5", lambda: h5_bytes(layer_0=GOOD > 0), r"'layer_0'.*dtype bool.*float16/float32"),
    "empty_npz": ("a.npz", lambda: npz_bytes(), r"zip archive with no arrays.*numpy.savez"),
    "zip_of_text": ("a.npz", lambda: zip_bytes({"readme.txt": b"hi"}), r"no arrays.*numpy.savez"),
    "h5_without_datasets": ("a.h5", lambda: h5_bytes(), r"contains no arrays.*'acts'"),
    "only_labels": ("a.npz", lambda: npz_bytes(y=np.arange(6), z=np.arange(6)), r"no activations.*Name them 'acts'"),
    "label_length": ("a.npz", lambda: npz_bytes(acts=GOOD, label=np.arange(5)),
                     r"'label'.*\(5,\).*one value per sample \(6,\).*Fix its length"),
    "two_acts_names": ("a.npz", lambda: npz_bytes(acts=GOOD, layer_0=GOOD), r"several names.*Keep either"),
    "one_sample": ("a.npy", lambda: npy_bytes(GOOD[:1]), r"1 sample.*Add more samples"),
    "one_row_csv": ("a.csv", lambda: b"x,y\n1,2\n", r"1 row.*Add more rows"),
    "no_numeric_csv": ("a.csv", lambda: b"text,tag\nhello,a\nworld,b\n", r"no numeric columns.*one activation dimension"),
    "torch_list": ("a.pt", lambda: torch_bytes([1, 2, 3]), r"holds a list.*Re-save"),
    "torch_nested": ("a.pt", lambda: torch_bytes({"acts": torch_tensor(GOOD), "cfg": {"lr": 1}}), r"'cfg'.*dict.*Remove it"),
}


def zip_bytes(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("as_upload", [False, True], ids=["path", "upload"])
def test_bad_input_message_says_what_and_how_to_fix(case, as_upload, tmp_path):
    filename, make, pattern = CASES[case]
    data = make()
    if as_upload:
        source = Upload(data, filename)
    else:
        source = tmp_path / filename
        source.write_bytes(data)
    with pytest.raises(ProbingInputError, match=f"(?s){pattern}"):
        load_activations(source)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProbingInputError, match="does not exist. Check the path"):
        load_activations(tmp_path / "nope.npz")
    with pytest.raises(ProbingInputError, match="is a folder, not a file"):
        load_activations(tmp_path)
    with pytest.raises(ProbingInputError, match="Expected a file path or a binary file object; got int"):
        load_activations(3)
    with pytest.raises(ProbingInputError, match="binary mode"):
        load_activations(io.StringIO("1,2\n3,4\n"))


def test_size_limit_from_argument_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "a.npy"
    path.write_bytes(npy_bytes(GOOD))
    data = path.read_bytes()
    assert load_activations(io.BytesIO(data), max_bytes=len(data)).shape == (6, 1, 4)
    with pytest.raises(ProbingInputError, match="over the .* MB limit.*PROBING_MAX_UPLOAD_MB"):
        load_activations(io.BytesIO(data), max_bytes=len(data) - 1)
    assert load_activations(path, max_bytes=1).shape == (6, 1, 4), "a memory-mapped path copies nothing"
    monkeypatch.setenv("PROBING_MAX_UPLOAD_MB", "0.0001")
    with pytest.raises(ProbingInputError, match="0.0 MB limit"):
        load_activations(io.BytesIO(data))
    monkeypatch.setenv("PROBING_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ProbingInputError, match="must be a number"):
        load_activations(path)


def test_npz_expanding_past_the_limit_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, acts=np.zeros((1000, 100), np.float32))
    assert len(buffer.getvalue()) < 10_000
    with pytest.raises(ProbingInputError, match="decodes to .* MB in memory.*over the"):
        load_activations(Upload(buffer.getvalue(), "zeros.npz"), max_bytes=100_000)


def test_side_labels_with_wrong_length(tmp_path):
    with pytest.raises(ProbingInputError, match="5 rows but the activations have 6 samples.*same order"):
        load_activations(Upload(npy_bytes(GOOD), "a.npy"), labels_csv=io.BytesIO(b"y\n" + b"1\n" * 5))
    with pytest.raises(ProbingInputError, match="not a text CSV"):
        load_activations(Upload(npy_bytes(GOOD), "a.npy"), labels_csv=io.BytesIO(npy_bytes(GOOD)))


def test_save_refuses_unknown_suffix_and_reserved_label_names(tmp_path):
    aset = ActivationSet(GOOD, labels={"layer_3": np.arange(6)})
    with pytest.raises(ProbingInputError, match="ending in .safetensors or .npz"):
        save_activations(aset, tmp_path / "a.pkl")
    with pytest.raises(ProbingInputError, match="collide.*rename"):
        save_activations(aset, tmp_path / "a.npz")
    assert list(tmp_path.iterdir()) == []


# -- HDF5 files that would make the reader open other files ---------------------------------------

def test_h5_external_link_refused(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["secret"] = np.ones((6, 4))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["acts"] = GOOD
        f.create_group("g")["linked"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/secret")
    with pytest.raises(ProbingInputError, match="/g/linked.*ExternalLink.*refused.*Copy the linked data"):
        load_activations(tmp_path / "a.h5")


def test_h5_external_dataset_refused(tmp_path):
    (tmp_path / "raw.bin").write_bytes(GOOD.tobytes())
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("acts", shape=GOOD.shape, dtype="<f4", external=[(str(tmp_path / "raw.bin"), 0, GOOD.nbytes)])
    with h5py.File(tmp_path / "a.h5", "r") as f:
        np.testing.assert_array_equal(f["acts"][()], GOOD)  # h5py itself would read the other file
    with pytest.raises(ProbingInputError, match="'acts'.*external dataset.*refused.*Copy the data"):
        load_activations(tmp_path / "a.h5")


def test_h5_virtual_dataset_refused(tmp_path):
    with h5py.File(tmp_path / "src.h5", "w") as f:
        f["data"] = GOOD
    layout = h5py.VirtualLayout(shape=GOOD.shape, dtype="<f4")
    layout[:] = h5py.VirtualSource(str(tmp_path / "src.h5"), "data", shape=GOOD.shape)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_virtual_dataset("acts", layout)
    with pytest.raises(ProbingInputError, match="'acts'.*virtual dataset.*refused"):
        load_activations(tmp_path / "a.h5")


# -- pickle payloads must never run ----------------------------------------------------------------

class Payload:
    """Unpickling this runs a shell command that creates the sentinel file."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return os.system, (f"touch {self.sentinel}",)


def payload_files(sentinel):
    """Files whose loading would run ``Payload``: five plain pickles and numpy object arrays, one torch zip."""
    evil = Payload(sentinel)
    return {
        "object_array.npy": npy_bytes(np.array([evil, evil], dtype=object), allow_pickle=True),
        "object_label.npz": npz_bytes(acts=GOOD[:2], label=np.array([evil, evil], dtype=object)),
        "raw.npy": pickle.dumps(evil),
        "raw.pt": pickle.dumps({"acts": evil}),
        "protocol0.csv": pickle.dumps(evil, protocol=0),
        "torch_zip.pt": torch_bytes({"acts": torch.ones(2, 3), "evil": evil}),
    }


PAYLOADS = ["object_array.npy", "object_label.npz", "raw.npy", "raw.pt", "protocol0.csv", "torch_zip.pt"]


def test_the_payload_is_live(tmp_path):
    """Control: unpickling the payload does create the sentinel, so its absence below means something."""
    sentinel = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(sentinel)))
    assert sentinel.exists()


@pytest.mark.parametrize("filename", PAYLOADS)
@pytest.mark.parametrize("as_upload", [False, True], ids=["path", "upload"])
def test_pickle_payloads_never_run(tmp_path, as_upload, filename):
    sentinel = tmp_path / "pwned"
    data = payload_files(sentinel)[filename]
    (tmp_path / filename).write_bytes(data)
    source = Upload(data, filename) if as_upload else tmp_path / filename
    with pytest.raises(ProbingInputError) as info:
        load_activations(source)
    assert str(info.value), filename
    assert not sentinel.exists(), f"{filename} ran its payload"


def test_torch_payload_message_explains_refusal(tmp_path):
    data = payload_files(tmp_path / "pwned")["torch_zip.pt"]
    with pytest.raises(ProbingInputError, match="(?s)Python objects other than tensors.*\\(it needs posix.system\\).*refused.*torch.save"):
        load_activations(Upload(data, "model.pt"))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_non_finite_values_are_found_in_every_float_type(dtype, value, kind):
    acts = np.zeros((50, 2, 6), dtype=dtype)
    acts[:, 1] = np.finfo(dtype).max  # finite extremes and tiny values are fine
    acts[:, 0, 0] = np.finfo(dtype).smallest_subnormal
    ActivationSet(acts.copy())
    acts[37, 1, 4] = value
    with pytest.raises(ProbingInputError, match=rf"{kind} values.*first at index \(37, 1, 4\)"):
        ActivationSet(acts)
