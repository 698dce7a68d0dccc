"""Loader speed: probing.load_activations against the plain library call for each format.

The safe loader adds header checks and a NaN/Inf scan over the activations. The reference
does the same work the plain way: the library's own reader, then ``np.isfinite(a).all()``
over every float array it returned (which reads every byte of a memory map too), so the
ratio is the cost of our validation and bookkeeping, not of a different amount of work.
``.npy`` and ``.safetensors`` paths are memory-mapped on both sides.

Usage: .venv/bin/python benchmarks/bench_loaders.py [--quick] [--n 20000 --layers 4 --d 768]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import safetensors.numpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.record import record  # noqa: E402
from probing import ActivationSet, load_activations, save_activations  # noqa: E402


def best_of(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def touch_all(arrays) -> None:
    """The safe loader's check done plainly: every float array must be finite (reads every byte)."""
    for array in arrays:
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise ValueError("non-finite activations")


def main(n=20000, n_layers=4, d=768):
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(n, n_layers, d)).astype(np.float16)
    y = rng.integers(0, 2, n)
    aset = ActivationSet(acts, labels={"y": y}, name="bench")
    folder = Path(tempfile.mkdtemp())
    np.save(folder / "a.npy", acts)
    np.savez(folder / "plain.npz", acts=acts, y=y)
    save_activations(aset, folder / "a.safetensors")
    with h5py.File(folder / "a.h5", "w") as f:
        f["acts"], f["y"] = acts, y
    rows = [
        ("npy (mmap)", folder / "a.npy", lambda: touch_all([np.load(folder / "a.npy", mmap_mode="r")])),
        ("npz", folder / "plain.npz", lambda: touch_all(np.load(folder / "plain.npz").values())),
        ("safetensors", folder / "a.safetensors",
         lambda: touch_all(safetensors.numpy.load_file(folder / "a.safetensors").values())),
        ("h5", folder / "a.h5", lambda: touch_all([h5py.File(folder / "a.h5")["acts"][()]])),
    ]
    try:
        import torch

        torch.save({"acts": torch.from_numpy(acts), "y": torch.from_numpy(y)}, folder / "a.pt")
        rows.append(("pt", folder / "a.pt",
                     lambda: touch_all([v.numpy() for v in torch.load(folder / "a.pt", weights_only=True).values()])))
    except ImportError:
        pass
    print(f"acts {acts.shape} float16 = {acts.nbytes / 2**20:.0f} MB; best of 3, seconds")
    for fmt, path, plain in rows:
        reference = best_of(plain)
        ours = best_of(lambda: load_activations(path, max_bytes=2**40))
        record("bench_loaders", f"load {fmt}, {n}x{n_layers}x{d} float16, best of 3", ours,
               "library reader + np.isfinite(a).all()", reference)
    for suffix in (".safetensors", ".npz"):
        seconds = best_of(lambda: save_activations(aset, folder / f"out{suffix}"))
        print(f"save {suffix:<13}{seconds:>12.3f} s ({acts.nbytes / 2**20 / seconds:.0f} MB/s, atomic with fsync)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--quick", action="store_true", help="5,000 samples")
    args = parser.parse_args()
    main(5000 if args.quick else args.n, args.layers, args.d)
