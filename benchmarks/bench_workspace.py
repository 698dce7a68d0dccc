"""Workspace recovery: how long opening takes when the catalogue is intact, damaged or gone.

Fills a workspace with ``--datasets`` small datasets (three owners) and ``--results`` results,
then for each damage case (catalogue truncated, zeroed, deleted, only its WAL lost, every
sidecar lost too, a rebuild on demand) damages it, opens it again and prints the time taken,
the entries listed and whether every file under ``datasets/`` and ``results/`` is still there
byte for byte. Reference: opening the same workspace with an intact catalogue.

    .venv/bin/python benchmarks/bench_workspace.py [--datasets 1000] [--results 100]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probing.store import Workspace  # noqa: E402
from probing.synthetic import make_concept_embeddings  # noqa: E402


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.blake2b(p.read_bytes(), digest_size=8).hexdigest()
            for folder in ("datasets", "results") for p in sorted((root / folder).iterdir())}


def fill(root: Path, n_datasets: int, n_results: int) -> float:
    ws = Workspace(root)
    start = time.perf_counter()
    for seed in range(n_datasets):
        aset, _ = make_concept_embeddings(n_samples=32, d=16, n_concepts=2, n_layers=2, seed=seed)
        ws.add_dataset(aset, owner=["ada", "bob", None][seed % 3], source="synthetic")
    for i in range(n_results):
        ws.save_result("probe_sweep", f"sweep {i}", {"C": 1.0}, {"accuracy": [0.5, 0.9]}, owner="ada")
    return (time.perf_counter() - start) / (n_datasets + n_results)


def truncate(root: Path) -> None:
    path = root / "catalogue.sqlite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def zero(root: Path) -> None:
    path = root / "catalogue.sqlite"
    path.write_bytes(bytes(path.stat().st_size))


def delete(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)


def delete_with_sidecars(root: Path) -> None:
    delete(root)
    for sidecar in (root / "datasets").glob("*.json"):
        sidecar.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--results", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        per_save = fill(root, args.datasets, args.results)
        print(f"{args.datasets} datasets + {args.results} results saved, {per_save * 1000:.1f} ms per save "
              "(3 fsyncs and a checksum each)\n")
        expected = (args.datasets, args.results)
        print("| case | open (s) | datasets listed | results listed | files kept byte for byte | note |")
        print("|---|---|---|---|---|---|")
        cases = [("intact catalogue (reference)", None), ("catalogue truncated", truncate), ("catalogue zeroed", zero),
                 ("catalogue deleted", delete), ("catalogue and every sidecar deleted", delete_with_sidecars),
                 ("rebuild_catalogue() on demand", "rebuild")]
        for label, damage in cases:
            before = digest(root)
            if callable(damage):
                damage(root)
            start = time.perf_counter()
            ws = Workspace(root)
            if damage == "rebuild":
                ws.rebuild_catalogue()
            seconds = time.perf_counter() - start
            listed = (len(ws.list_datasets()), len(ws.list_results()))
            after = digest(root)
            kept = all(after.get(k) == v for k, v in before.items() if not k.endswith(".json") or k.startswith("results"))
            note = (ws.recovery_note or "")[:70].replace("|", "/")
            flag = "" if listed == expected else f" (expected {expected})"
            print(f"| {label} | {seconds:.2f} | {listed[0]}{flag} | {listed[1]} | {'yes' if kept else 'NO'} | {note} |")


if __name__ == "__main__":
    main()
