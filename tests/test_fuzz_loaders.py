"""Mutation fuzzing: a corrupted file of any format raises ProbingInputError, never another exception.

Each case takes a small well-formed file (with labels), applies one seeded mutation (byte
flips, truncation, inserted junk, a deleted or repeated range, or an edit of the digits and
names in its header) and loads it, half as an upload and half from a path; a Zarr store has
one of its files mutated. Any exception other than :class:`ProbingInputError` fails the test
with the format, seed and mutation, so the case can be replayed with :func:`mutate`.
"""

import io
import traceback

import h5py
import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import zarr

from probing import ProbingInputError, load_activations

CASES = {"csv": 200, "zarr": 300}
"""Cases per format (400 unless listed): a few thousand in all, under a minute on a laptop core."""
LIMIT = 4 * 2**20  # a blow-up in a mutated file must be refused, not allocated
rng0 = np.random.default_rng(0)
ACTS = rng0.standard_normal((24, 3, 8)).astype(np.float32)
LABEL = np.array(["cat", "dog"] * 12)
VALUE = rng0.standard_normal(24)


def to_bytes(write) -> bytes:
    buffer = io.BytesIO()
    write(buffer)
    return buffer.getvalue()


def h5_file(buffer):
    with h5py.File(buffer, "w") as f:
        f.create_dataset("acts", data=ACTS, chunks=(8, 3, 8), compression="gzip")
        f["label"] = LABEL.astype(object).astype("S")
        f["value"] = VALUE


def torch_file(buffer):
    torch = pytest.importorskip("torch")
    torch.save({"acts": torch.from_numpy(ACTS), "label": [str(x) for x in LABEL], "value": torch.from_numpy(VALUE)}, buffer)


def table() -> pd.DataFrame:
    return pd.DataFrame(ACTS[:, 0], columns=[f"f{i}" for i in range(8)]).assign(label=LABEL, id=np.arange(24))


FILES = {
    "npy": ("a.npy", lambda: to_bytes(lambda b: np.save(b, ACTS))),
    "npz": ("a.npz", lambda: to_bytes(lambda b: np.savez(b, acts=ACTS, label=LABEL, value=VALUE))),
    "safetensors": ("a.safetensors", lambda: safetensors.numpy.save({"acts": ACTS, "value": VALUE,
                                                                      "code": np.arange(24) % 2})),
    "h5": ("a.h5", lambda: to_bytes(h5_file)),
    "pt": ("a.pt", lambda: to_bytes(torch_file)),
    "parquet": ("a.parquet", lambda: to_bytes(lambda b: table().to_parquet(b))),
    "csv": ("a.csv", lambda: table().to_csv(index=False).encode()),
}


class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One random mutation of ``data`` and a description of it (to replay a failure)."""
    kind = rng.choice(["flip", "truncate", "insert", "delete", "repeat", "header"])
    n = len(data)
    at = int(rng.integers(0, n))
    if kind == "flip":
        out = bytearray(data)
        spots = rng.integers(0, n, size=int(rng.integers(1, 9)))
        for spot in spots:
            out[spot] ^= 1 << int(rng.integers(0, 8))
        return bytes(out), f"flip bits at {sorted(spots.tolist())}"
    if kind == "truncate":
        return data[:at], f"truncate to {at} bytes"
    if kind == "insert":
        junk = rng.bytes(int(rng.integers(1, 65)))
        return data[:at] + junk + data[at:], f"insert {junk!r} at {at}"
    if kind == "delete":
        stop = min(n, at + int(rng.integers(1, 65)))
        return data[:at] + data[stop:], f"delete bytes {at}:{stop}"
    if kind == "repeat":
        stop = min(n, at + int(rng.integers(1, 257)))
        return data[:stop] + data[at:], f"repeat bytes {at}:{stop}"
    head = bytearray(data[:min(n, 1024)])  # header edit: a digit, quote or brace in the first KB changed
    spots = [i for i, c in enumerate(head) if chr(c) in "0123456789\"{}[],:'"] or [0]
    spot = int(rng.choice(spots))
    head[spot] = int(rng.choice(list(b"0123456789\"{}[],:'-9")))
    return bytes(head) + data[len(head):], f"header byte {spot} set to {chr(head[spot])!r}"


def load_case(fmt: str, data: bytes, name: str, as_path: bool, tmp_path) -> None:
    if as_path:
        path = tmp_path / name
        path.write_bytes(data)
        load_activations(path, max_bytes=LIMIT)
    else:
        load_activations(Upload(data, name), max_bytes=LIMIT)


def check(fmt: str, case: int, description: str, run) -> str | None:
    """``None`` if ``run()`` succeeds or raises ProbingInputError, else a line saying how to replay the failure."""
    try:
        run()
    except ProbingInputError:
        return None
    except Exception as exc:  # the property under test: nothing else escapes
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return (f"{fmt} seed={case} ({description}): {type(exc).__name__}: {str(exc)[:160]} "
                f"at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}")
    return None


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_mutated_files_raise_only_probing_input_errors(fmt, tmp_path):
    name, make = FILES[fmt]
    good = make()
    load_activations(Upload(good, name))  # the unmutated file loads
    failures, cases = [], CASES.get(fmt, 400)
    for case in range(cases):
        rng = np.random.default_rng([sorted(FILES).index(fmt), case])
        data, description = mutate(good, rng)
        failure = check(fmt, case, description, lambda: load_case(fmt, data, name, case % 2 == 1, tmp_path))
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)}/{cases} mutated {fmt} files raised something else:\n" + "\n".join(failures[:20])


def write_zarr(path):
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("acts", data=ACTS, chunks=(8, 1, 8))
    group.create_array("value", data=VALUE, chunks=(12,))
    group.attrs["layers"] = ["a", "b", "c"]


def test_mutated_zarr_stores_raise_only_probing_input_errors(tmp_path):
    store = tmp_path / "store.zarr"
    write_zarr(store)
    load_activations(store)
    files = sorted(p for p in store.rglob("*") if p.is_file())
    originals = {p: p.read_bytes() for p in files}
    failures = []
    for case in range(CASES["zarr"]):
        rng = np.random.default_rng([len(FILES), case])
        target = files[int(rng.integers(0, len(files)))]
        data, description = mutate(originals[target], rng)
        target.write_bytes(data)
        failure = check("zarr", case, f"{target.relative_to(store)}: {description}",
                        lambda: load_activations(store, max_bytes=LIMIT))
        if failure:
            failures.append(failure)
        target.write_bytes(originals[target])
    assert not failures, (f"{len(failures)}/{CASES['zarr']} mutated Zarr stores raised something else:\n"
                          + "\n".join(failures[:20]))
