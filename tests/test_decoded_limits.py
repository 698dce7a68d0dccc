"""The size limit bounds what a file decodes to, not its size on disk: each upload bomb is refused cheaply.

Each bomb is a small file that decodes to hundreds of MB. It is refused before the memory
is allocated: the peak Python/numpy allocation while refusing (``tracemalloc``) stays a
few MB, and the message names both sizes and the fix.
"""

import functools
import io
import json
import tracemalloc

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import safetensors.numpy

from probing import ProbingInputError, load_activations

MB = 2**20
UPLOAD_LIMIT = 200 * MB  # a server with STREAMLIT_SERVER_MAX_UPLOAD_SIZE=200


class Upload(io.BytesIO):
    """Like Streamlit's UploadedFile: a BytesIO with a name and a size."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


def hdf5_bomb(n=100_000, d=1000) -> bytes:
    """A chunked dataset whose chunks were never written: 400 MB of fill value in well under 1 MB."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        acts = f.create_dataset("acts", shape=(n, d), dtype="f4", chunks=(100, d), fillvalue=1.0)
        acts[:100] = np.random.default_rng(0).standard_normal((100, d))
        f.create_dataset("label", data=(np.arange(n) % 2).astype(np.int8), compression="gzip")
    return buffer.getvalue()


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    """A safetensors file with exactly this header, whatever its offsets say."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def safetensors_alias_bomb(n_layers=800, n=1000, d=125) -> bytes:
    """800 per-layer tensors that all point at the same 0.5 MB byte range: stacking them makes 400 MB."""
    data = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32).tobytes()
    header = {f"layer_{i}": {"dtype": "F32", "shape": [n, d], "data_offsets": [0, len(data)]} for i in range(n_layers)}
    return safetensors_bytes(header, data)


def torch_expand_bomb(n=120_000, d=1000) -> bytes:
    """One stored float seen as a (120000, 1000) tensor through zero strides: 480 MB of elements."""
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"acts": torch.ones(1).expand(n, d), "label": torch.zeros(n, dtype=torch.int64)}, buffer)
    return buffer.getvalue()


def parquet_zeros_bomb(n=1_048_576, columns=64) -> bytes:
    """A table of zeros: dictionary + run-length encoding stores 512 MB of float64 in a fraction of a MB."""
    zeros = pa.array(np.zeros(n))
    buffer = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": zeros for i in range(columns)}), buffer, compression="zstd")
    return buffer.getvalue()


BOMBS = {"hdf5": (hdf5_bomb, "bomb.h5", 400), "safetensors": (safetensors_alias_bomb, "bomb.safetensors", 400),
         "torch": (torch_expand_bomb, "bomb.pt", 480), "parquet": (parquet_zeros_bomb, "bomb.parquet", 512)}


def refuse_measured(source, **kwargs) -> tuple[str, int]:
    """The refusal message and the peak bytes allocated (tracemalloc) while refusing."""
    tracemalloc.start()
    try:
        with pytest.raises(ProbingInputError) as info:
            load_activations(source, **kwargs)
        return str(info.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@functools.cache
def bomb(kind: str) -> bytes:
    return BOMBS[kind][0]()


@pytest.mark.parametrize("kind", sorted(BOMBS))
@pytest.mark.parametrize("as_upload", [True, False], ids=["upload", "path"])
def test_each_bomb_is_refused_before_it_is_decoded(kind, as_upload, tmp_path):
    _, filename, decoded_mb = BOMBS[kind]
    data = bomb(kind)
    assert len(data) < MB, f"the {kind} bomb should be small on disk; it is {len(data) / MB:.2f} MB"
    source = Upload(data, filename) if as_upload else tmp_path / filename
    if not as_upload:
        source.write_bytes(data)
    message, peak = refuse_measured(source, max_bytes=UPLOAD_LIMIT)
    assert peak < 16 * MB, f"refusing the {kind} bomb allocated {peak / MB:.0f} MB"
    if kind == "safetensors":  # aliasing is refused whatever the limit
        assert "starts at byte 0, but the tensors before it end at" in message and "aliased" in message
    else:
        assert f"{len(data) / MB:.1f} MB on disk but decodes to" in message
        assert f"over the {UPLOAD_LIMIT / MB:.1f} MB limit" in message and "PROBING_MAX_UPLOAD_MB" in message
        decoded = float(message.split("decodes to ")[1].split(" MB")[0])
        assert decoded >= decoded_mb * 0.95, message


def test_bombs_scaled_up_are_refused_at_the_default_limit(tmp_path):
    """The same HDF5 trick at 40 GB is still a small file, and the default 2048 MB limit refuses it cheaply."""
    data = hdf5_bomb(n=10_000_000, d=1000)
    assert len(data) < 2 * MB
    message, peak = refuse_measured(Upload(data, "huge.h5"))
    assert "decodes to 38" in message and "over the 2048.0 MB limit" in message, message
    assert peak < 16 * MB


def test_the_decoded_size_is_exact_for_hdf5():
    """20000 x 100 float32 (8,000,000 bytes) plus 20000 int8 labels: refused one byte below, loaded at it."""
    data = hdf5_bomb(n=20_000, d=100)
    decoded = 20_000 * 100 * 4 + 20_000
    with pytest.raises(ProbingInputError, match=r"decodes to 7\.6 MB"):
        load_activations(Upload(data, "small.h5"), max_bytes=decoded - 1)
    aset = load_activations(Upload(data, "small.h5"), max_bytes=decoded)
    assert aset.shape == (20_000, 1, 100) and float(np.asarray(aset.acts[-1]).mean()) == 1.0
    assert aset.acts.nbytes + aset.labels["label"].nbytes == decoded


def test_safetensors_overlap_and_gaps_are_refused_but_exact_tiling_loads():
    acts, label = np.ones((10, 4), np.float32), np.arange(10, dtype=np.int64)
    data = acts.tobytes() + label.tobytes()

    def header(label_offsets):
        return {"acts": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 160]},
                "label": {"dtype": "I64", "shape": [10], "data_offsets": label_offsets}}

    assert load_activations(Upload(safetensors_bytes(header([160, 240]), data), "ok.safetensors")).shape == (10, 1, 4)
    with pytest.raises(ProbingInputError, match="overlaps the tensor before it"):
        load_activations(Upload(safetensors_bytes(header([80, 160]), data), "overlap.safetensors"))
    with pytest.raises(ProbingInputError, match="leaves a gap before it"):
        load_activations(Upload(safetensors_bytes(header([168, 248]), data + bytes(8)), "gap.safetensors"))
    with pytest.raises(ProbingInputError, match="truncated or corrupt"):
        load_activations(Upload(safetensors_bytes(header([160, 240]), data + bytes(16)), "trailing.safetensors"))


def test_layer_stacking_and_float32_casts_count(tmp_path):
    """Per-layer arrays are stacked into one copy and integers are cast to float32: both count against the limit."""
    layers = {f"layer_{i}": np.ones((1000, 100), np.int64) for i in range(4)}  # 4 x 800 kB of int64
    buffer = io.BytesIO()
    np.savez(buffer, **layers)
    data = buffer.getvalue()
    # read 3.2 MB + stack 3.2 MB + cast to float32 1.6 MB = 8.0 MB
    with pytest.raises(ProbingInputError, match=r"decodes to 7\.6 MB"):
        load_activations(Upload(data, "layers.npz"), max_bytes=7 * MB)
    assert load_activations(Upload(data, "layers.npz"), max_bytes=8 * MB).shape == (1000, 4, 100)


def test_memory_mapped_paths_copy_nothing_but_their_uploads_count(tmp_path):
    acts = np.random.default_rng(2).standard_normal((5000, 200)).astype(np.float32)  # 4 MB
    for name, write in [("a.npy", lambda p: np.save(p, acts)),
                        ("a.safetensors", lambda p: safetensors.numpy.save_file({"acts": acts}, p)),
                        ("a.h5", lambda p: h5py.File(p, "w").create_dataset("acts", data=acts).file.close())]:
        path = tmp_path / name
        write(path)
        aset = load_activations(path, max_bytes=MB)
        assert aset.storage == "memmap" and aset.shape == (5000, 1, 200), name
        np.testing.assert_array_equal(np.asarray(aset.acts[:, 0]), acts)
        with pytest.raises(ProbingInputError, match="over the 1.0 MB limit"):
            load_activations(Upload(path.read_bytes(), name), max_bytes=MB)


def test_compressed_hdf5_counts_but_contiguous_hdf5_does_not(tmp_path):
    acts = np.zeros((5000, 200), np.float32)
    path = tmp_path / "gz.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("acts", data=acts, compression="gzip")
    assert path.stat().st_size < 100_000
    with pytest.raises(ProbingInputError, match=r"MB on disk but decodes to 3\.8 MB in memory"):
        load_activations(path, max_bytes=MB)


def test_csv_rows_are_counted_as_they_are_read(tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_text("a,b\n" + "0,0\n" * 200_000)  # 0.8 MB of text, 3.2 MB as int64
    with pytest.raises(ProbingInputError, match="rows already take .* MB in memory, over the 2.0 MB limit"):
        load_activations(path, max_bytes=2 * MB)
    assert load_activations(path, max_bytes=8 * MB).shape == (200_000, 1, 2)


def test_parquet_within_the_limit_loads():
    data = parquet_zeros_bomb(n=1000, columns=4)
    assert load_activations(Upload(data, "ok.parquet"), max_bytes=MB).shape == (1000, 1, 4)


def test_a_float64_memory_map_stays_float64_and_copies_nothing(tmp_path):
    acts = np.random.default_rng(3).standard_normal((4000, 2, 64))  # 4 MB of float64
    np.save(tmp_path / "f64.npy", acts)
    aset = load_activations(tmp_path / "f64.npy", max_bytes=MB)
    assert aset.acts.dtype == np.float64 and aset.storage == "memmap"  # float64 data stays float64 (no rounding)
    np.testing.assert_array_equal(np.asarray(aset.acts[:10]), acts[:10])
    assert load_activations(Upload((tmp_path / "f64.npy").read_bytes(), "f64.npy"), max_bytes=4 * MB).shape == \
        (4000, 2, 64)  # read (3.9 MB), no cast
    ints = np.arange(4000 * 2 * 64, dtype=np.int64).reshape(4000, 2, 64)  # integers are cast to float32
    np.save(tmp_path / "i64.npy", ints)
    with pytest.raises(ProbingInputError, match=r"decodes to 5\.9 MB"):  # read (3.9 MB) + cast (2.0 MB)
        load_activations(Upload((tmp_path / "i64.npy").read_bytes(), "i64.npy"), max_bytes=5 * MB)


def test_a_csv_whose_first_row_never_ends_is_refused_without_parsing_it():
    data = b"1," * MB + b"1\n"  # 2 MB of text, a million columns (64 MB as column names alone)
    message, peak = refuse_measured(Upload(data, "wide.csv"), max_bytes=16 * MB)
    assert "about 1048577 columns, too many" in message and peak < 8 * MB
    message, _ = refuse_measured(Upload(b"x" * (5 * MB), "long.csv"))
    assert "first row of the CSV 'long.csv' is over 4.0 MB long" in message
