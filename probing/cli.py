"""The ``probing`` command line: batch jobs (a script, a cluster job) whose results the dashboard opens.

::

    probing info ACTS
    probing extract TEXTS.csv --model DIR_OR_ID --out OUT.safetensors
    probing sweep ACTS --label NAME [--labels LABELS.csv] [--cv 5] [--method lda] [--json] [--workspace DIR]
    probing pca ACTS [--layer -1] [--k 10] [--json]
    probing coherence DIRECTIONS [--json]
    probing workspace rebuild DIR
    probing serve [--port 8501]

A :class:`probing.ProbingInputError` prints its message and exits with status 2, without a
traceback; ``--help`` works on every command. Progress goes to standard error, results to
standard output (a table, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from probing import ProbingInputError, __version__, load_activations, save_activations
from probing.data import ActivationSet
from probing.results import json_ready, result_payload

EXIT_INPUT_ERROR = 2
OUTPUT_SUFFIXES = (".safetensors", ".npz", ".npy", ".zarr")


def progress_bar(label: str, stream=None) -> Callable[[float, str], None]:
    """A ``progress(fraction, message)`` callable drawing a one-line text bar on ``stream`` (stderr)."""
    stream = stream or sys.stderr

    def report(fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        filled = int(round(30 * fraction))
        stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f}% {message[:40]:<40}")
        if fraction >= 1.0:
            stream.write("\n")
        stream.flush()

    return report


def _open(args) -> ActivationSet:
    return load_activations(args.acts, labels_csv=getattr(args, "labels", None))


def cmd_info(args) -> dict:
    """What :func:`probing.load_activations` sees in a file, folder or store."""
    aset = _open(args)
    info = {"name": aset.name, "shape": list(aset.shape), "dtype": str(aset.acts.dtype), "layers": aset.layers,
            "labels": {k: ("categorical" if k in aset.categorical_labels() else "numeric") for k in aset.labels},
            "meta": [str(c) for c in aset.meta.columns], "storage": aset.storage,
            "bytes": int(np.prod(aset.shape, dtype=np.int64)) * aset.acts.dtype.itemsize,
            "fingerprint": aset.fingerprint}
    if not args.json:
        for key, value in info.items():
            print(f"{key:12} {value}")
    return info


def write_output(aset: ActivationSet, out: Path) -> Path:
    """Write ``aset`` as ``.safetensors``/``.npz`` (everything), ``.npy`` (activations; labels beside it) or Zarr."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ProbingInputError(f"--out {out.name!r}: use a name ending in {', '.join(OUTPUT_SUFFIXES)}.")
    if suffix in (".safetensors", ".npz"):
        return save_activations(aset, out)
    if suffix == ".npy":
        np.save(out, np.asarray(aset.acts), allow_pickle=False)
        if aset.labels:
            pd.DataFrame(aset.labels).to_csv(out.with_suffix(".labels.csv"), index=False)
        return out
    import zarr  # only here: Zarr output is optional

    group = zarr.open_group(str(out), mode="w")
    group.create_array("acts", data=np.asarray(aset.acts), chunks=(16384, 1, aset.d))
    for key, values in aset.labels.items():
        group.create_array(key, data=np.asarray(values))
    group.attrs.update({"layers": aset.layers, "name": aset.name})
    return out


def cmd_extract(args) -> dict:
    """Texts in a CSV -> activations of every layer of a transformer, written to ``--out``."""
    from probing.extract import extract_activations, load_model, split_table  # torch only for this command

    table = pd.read_csv(args.texts)
    if args.text_column not in table.columns:
        raise ProbingInputError(f"{args.texts} has no column {args.text_column!r} (columns: {list(table.columns)}). "
                                "Name the text column with --text-column.")
    model = load_model(args.model) if args.model else None
    aset = extract_activations(**split_table(table, args.text_column), model=model, pooling=args.pooling,
                               batch_size=args.batch_size, progress=progress_bar("extract"))
    out = write_output(aset, Path(args.out))
    info = {"out": str(out), "shape": list(aset.shape), "layers": aset.layers, "fingerprint": aset.fingerprint}
    if not args.json:
        print(f"wrote {out} ({' x '.join(map(str, aset.shape))}, layers {', '.join(aset.layers)})")
    return info


def cmd_sweep(args) -> dict:
    """A cross-validated probe at every layer; optionally saved to a workspace the dashboard lists."""
    from probing.probes import probe_layers

    aset = _open(args)
    if args.label not in aset.labels:
        raise ProbingInputError(f"No label {args.label!r} in {args.acts} (labels: {sorted(aset.labels)}). "
                                "Pick one with --label, or add a labels CSV with --labels.")
    backend = "local"
    if args.dask:
        os.environ["PROBING_DASK_SCHEDULER"] = args.dask
        backend = "dask"
    sweep = probe_layers(aset, args.label, cv=args.cv, method=args.method, seed=args.seed, backend=backend,
                         progress=progress_bar("sweep"))
    frame = sweep.to_frame()
    document = {"dataset": {"name": aset.name, "fingerprint": aset.fingerprint, "shape": list(aset.shape)},
                "label": args.label, "cv": args.cv, "method": args.method, "seed": args.seed,
                "layers": json_ready(frame.to_dict(orient="records"))}
    if args.workspace:
        from probing.store import Workspace

        params = {"label": args.label, "cv": args.cv, "method": args.method, "seed": args.seed, "source": "cli"}
        workspace = Workspace(args.workspace)
        if aset.fingerprint not in {entry.fingerprint for entry in workspace.list_datasets()}:
            workspace.add_dataset(aset, owner=args.owner, source="cli")
        name = args.name or f"{args.label} probes · {aset.name}"
        document["result_id"] = workspace.save_result("probe_sweep", name, params,
                                                      result_payload({"per_layer": frame}, aset),
                                                      owner=args.owner, fingerprint=aset.fingerprint)
    if not args.json:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if "result_id" in document:
            print(f"saved to {args.workspace} as result {document['result_id']}")
    return document


def cmd_pca(args) -> dict:
    """The PCA spectrum of one layer (variance per component)."""
    from probing.pca import fit_pca

    aset = _open(args)
    layer = aset.layer_index(args.layer)
    basis = fit_pca((aset, layer), n_components=min(args.k, aset.d, aset.n_samples), seed=args.seed)
    frame = basis.to_frame()
    if not args.json:
        print(f"layer {aset.layers[layer]}")
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return {"layer": aset.layers[layer], "components": json_ready(frame.to_dict(orient="records"))}


def cmd_coherence(args) -> dict:
    """Mutual coherence of a set of directions (rows of a matrix file) against the Welch bound."""
    from probing.coherence import coherence_report

    aset = load_activations(args.directions)
    if aset.n_layers != 1:
        raise ProbingInputError(f"{args.directions} holds {aset.n_layers} layers; a direction set is one (k, d) "
                                "matrix. Save the directions as a 2-D array.")
    report = coherence_report(np.asarray(aset.layer(0), dtype=np.float64), seed=args.seed)
    summary = {"k": aset.n_samples, "d": aset.d, "mu": report.mu, "welch": report.welch,
               "random_baseline": report.random_baseline}
    if not args.json:
        for key, value in summary.items():
            print(f"{key:16} {value:.6g}" if isinstance(value, float) else f"{key:16} {value}")
    return json_ready(summary)


def cmd_workspace(args) -> dict:
    """Workspace maintenance: ``rebuild`` re-catalogues every file from its own header."""
    from probing.store import Workspace

    workspace = Workspace(args.dir)
    note = workspace.rebuild_catalogue()
    if not args.json:
        print(note)
    return {"note": str(note)}


def cmd_serve(args) -> dict:
    """Start the dashboard (the hosted way when ``serve.py`` is present, else ``streamlit run``)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "app.py").exists():
        raise ProbingInputError("probing serve runs the dashboard from a source checkout (app.py beside the "
                                "probing package): clone the repository and `pip install -e '.[app]'` there.")
    if (root / "serve.py").exists():
        command = [sys.executable, "-m", "uvicorn", "serve:app", "--host", args.host, "--port", str(args.port)]
    else:
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", args.host,
                   "--server.port", str(args.port)]
    return {"exit": subprocess.call(command, cwd=root)}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (also what ``--help`` prints)."""
    parser = argparse.ArgumentParser(prog="probing", description="What is linear in a model's activations.")
    parser.add_argument("--version", action="version", version=f"probing {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
        sub.add_argument("--seed", type=int, default=0, help="seed of every random step (default 0)")
        sub.set_defaults(handler=handler)
        return sub

    info = command("info", cmd_info, "What load_activations sees: shape, layers, labels, storage, size.")
    info.add_argument("acts", help="activation file, folder of shards, glob or Zarr store")
    info.add_argument("--labels", help="CSV with one row per sample whose columns become labels")

    extract = command("extract", cmd_extract, "Run a transformer over texts and save every layer's activations.")
    extract.add_argument("texts", help="CSV with a text column (other columns become labels or meta)")
    extract.add_argument("--model", help="local Hugging Face model folder or id (default: the bundled MiniLM)")
    extract.add_argument("--pooling", default="mean", choices=["mean", "cls", "last", "tokens"])
    extract.add_argument("--text-column", default="text")
    extract.add_argument("--batch-size", type=int, default=64)
    extract.add_argument("--out", required=True, help=f"output ({', '.join(OUTPUT_SUFFIXES)})")

    sweep = command("sweep", cmd_sweep, "Cross-validated linear probes at every layer.")
    sweep.add_argument("acts")
    sweep.add_argument("--labels", help="CSV with one row per sample whose columns become labels")
    sweep.add_argument("--label", required=True, help="the label to probe")
    sweep.add_argument("--cv", type=int, default=5)
    sweep.add_argument("--method", default="lda", choices=["lda", "logistic", "mean_diff"])
    sweep.add_argument("--dask", help="Dask scheduler address, e.g. tcp://host:8786")
    sweep.add_argument("--workspace", help="also save the sweep (and its dataset) to this workspace folder")
    sweep.add_argument("--name", help="name of the saved result")
    sweep.add_argument("--owner", help="owner recorded with what is saved")

    pca = command("pca", cmd_pca, "PCA spectrum of one layer.")
    pca.add_argument("acts")
    pca.add_argument("--labels", help=argparse.SUPPRESS)
    pca.add_argument("--layer", type=int, default=-1)
    pca.add_argument("--k", type=int, default=10, help="number of components")

    coherence = command("coherence", cmd_coherence, "Mutual coherence of a direction set against the Welch bound.")
    coherence.add_argument("directions", help="a (k, d) matrix: .npy, .safetensors, .npz, .csv, ...")

    workspace = command("workspace", cmd_workspace, "Workspace maintenance.")
    workspace.add_argument("action", choices=["rebuild"], help="rebuild: re-catalogue every file from its header")
    workspace.add_argument("dir", help="the workspace folder (PROBING_WORKSPACE)")

    serve = command("serve", cmd_serve, "Start the dashboard.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8501)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`ProbingInputError` prints its message and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except ProbingInputError as exc:
        print(f"probing {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    if args.json:
        print(json.dumps(result, indent=2))
    return int(result.get("exit", 0)) if isinstance(result, dict) else 0


if __name__ == "__main__":
    sys.exit(main())
