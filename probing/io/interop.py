"""Files other interpretability tools read and write: projector TSV, vector parquet, SAEs, control vectors.

* **TensorBoard Embedding Projector**: a vectors TSV (one row of tab-separated numbers
  per point, no header) and a metadata TSV (one column without a header, or several
  columns under a header row).
* **Embedding Atlas / Latent Scope**: a parquet table with one list-of-floats column
  (the vector) and any metadata columns.
* **SAELens SAEs**: ``cfg.json`` plus ``sae_weights.safetensors`` with ``W_enc (d_in, d_sae)``,
  ``b_enc (d_sae,)``, ``W_dec (d_sae, d_in)``, ``b_dec (d_in,)``; decoder rows are the
  dictionary's directions.
* **repeng / steering-vectors control vectors**: a dict of layer -> vector saved as
  ``.safetensors`` or with ``torch.save``.

Nothing is unpickled: PyTorch files go through ``torch.load(weights_only=True)`` and
numpy files are read with ``allow_pickle=False`` (see :mod:`probing.io.readers`).
:func:`read_arrays` is the one reader for named matrices (weights, direction sets, SAE
decoders); :func:`read_directions` and :func:`read_control_vectors` check its output.
Sets read here carry ``attrs`` saying which file and format they came from.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from probing.io import csvsafe, readers
from probing.data import ActivationSet, check_finite
from probing.errors import ProbingInputError
from probing.io.files import detect_format, open_source, split_columns
from probing.io.limits import size_limit
from probing.io.header import source_attrs
from probing.io.readers import Source
from probing.io.writers import safetensors_bytes

VECTOR_COLUMN = "vector"


def _source(obj):
    return open_source(obj, size_limit(None))


def _text(src: Source, what: str) -> str:
    with src.open() as f:
        try:
            return f.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProbingInputError(f"The {what} {src.hint or ''} is not UTF-8 text ({exc}). Save it as a UTF-8 TSV.") from exc


def read_projector_tsv(vectors, metadata=None, name: str | None = None) -> ActivationSet:
    """Read TensorBoard projector files into a one-layer :class:`ActivationSet`.

    Parameters
    ----------
    vectors : path, bytes or binary file object
        Tab-separated numbers, one row per point, no header.
    metadata : path, bytes or binary file object, optional
        One row per point. A single column has no header (it becomes label ``label``);
        several columns have a header row. Numeric and repeated-text columns become
        labels, other text goes to ``meta``.
    name : str, optional
    """
    vectors_src = _source(vectors)
    text = _text(vectors_src, "vectors TSV")
    try:
        acts = np.loadtxt(io.StringIO(text), delimiter="\t", dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise ProbingInputError(f"The vectors TSV must hold only tab-separated numbers, one row per point ({exc}). "
                                "Export it with numpy.savetxt(path, X, delimiter='\\t').") from exc
    check_finite(acts, "The vectors TSV")
    labels, meta = {}, None
    attrs = source_attrs(vectors_src.hint, "projector-tsv")
    if metadata is not None:
        metadata_src = _source(metadata)
        attrs["source"]["metadata"] = metadata_src.hint
        lines = _text(metadata_src, "metadata TSV").rstrip("\n").split("\n")
        multi = "\t" in lines[0]
        table = pd.read_csv(io.StringIO("\n".join(lines)), sep="\t", header=0 if multi else None, dtype=str,
                            keep_default_na=False, quoting=3)
        if not multi:
            table.columns = ["label"]
        if len(table) != len(acts):
            raise ProbingInputError(f"The metadata TSV has {len(table)} rows but the vectors TSV has {len(acts)}; "
                                    "they need one row per point (plus a header row when there are several columns).")
        table = table.apply(_maybe_numeric)
        labels, meta = split_columns(table, "the metadata TSV")
    return ActivationSet(acts, ["vectors"], labels, meta, name or "projector TSV", attrs=attrs)


def _maybe_numeric(column: pd.Series) -> pd.Series:
    converted = pd.to_numeric(column, errors="coerce")
    return converted if converted.notna().all() and len(column) else column


def _columns(aset: ActivationSet, rows) -> pd.DataFrame:
    """Labels and meta of ``rows`` as one table (labels first; a meta column clashing with a label is dropped)."""
    table = pd.DataFrame({key: np.asarray(values)[rows] for key, values in aset.labels.items()})
    meta = aset.meta.iloc[rows].reset_index(drop=True)
    return pd.concat([table, meta.drop(columns=[c for c in meta.columns if c in table.columns])], axis=1)


def _rows(aset: ActivationSet, rows) -> np.ndarray:
    if rows is None:
        return np.arange(aset.n_samples)
    rows = np.asarray(rows)
    rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
    if rows.size == 0:
        raise ProbingInputError("The selection is empty; select some points before exporting.")
    return rows


def write_projector_tsv(aset: ActivationSet, layer=-1, rows=None) -> tuple[bytes, bytes]:
    """The vectors TSV and metadata TSV of one layer (optionally only ``rows``) for TensorBoard's projector.

    Returns
    -------
    vectors, metadata : bytes
        Floats written with 9 significant digits (float32 round-trips exactly). Metadata holds
        every label and meta column; tabs and newlines inside values become spaces, and text a
        spreadsheet would run as a formula gets a leading ``'`` (:mod:`probing.io.csvsafe`).
    """
    rows = _rows(aset, rows)
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(aset.layer(layer)[rows], dtype=np.float32), delimiter="\t", fmt="%.9g")
    table = _columns(aset, rows)
    if table.shape[1] == 0:
        table = pd.DataFrame({"row": rows})
    table = table.astype(str).replace({r"[\t\r\n]": " "}, regex=True)
    metadata = csvsafe.to_csv(table, sep="\t", header=table.shape[1] > 1, quoting=3, lineterminator="\n")
    return buffer.getvalue().encode(), metadata.encode()


def write_vector_parquet(aset: ActivationSet, layer=-1, rows=None, extra: dict | None = None) -> bytes:
    """A parquet table (Embedding Atlas / Latent Scope style): a ``vector`` list column, labels, meta and ``extra``.

    The schema metadata ``probing`` holds the layer, name and ``attrs``, which
    :func:`read_vector_parquet` reads back. ``extra`` adds columns, e.g. ``{"projection_x": x, "projection_y": y}`` of a 2-D view.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows(aset, rows)
    X = np.ascontiguousarray(np.asarray(aset.layer(layer)[rows], dtype=np.float32))
    table = _columns(aset, rows)
    for key, values in (extra or {}).items():
        table[key] = np.asarray(values)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
    arrow = arrow.append_column(VECTOR_COLUMN, vectors).replace_schema_metadata(
        {"probing": json.dumps({"layer": aset.layers[aset.layer_index(layer)], "name": aset.name, "attrs": aset.attrs})})
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue()


def read_vector_parquet(src, vector_column: str | None = None, name: str | None = None) -> ActivationSet:
    """A parquet table with one list-of-numbers column into a one-layer :class:`ActivationSet`.

    Parameters
    ----------
    src : path, bytes or binary file object
    vector_column : str, optional
        The vector column; default: the only list column (``vector``/``embedding`` preferred).
    name : str, optional
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = _source(src)
    if detect_format(source) != "parquet":
        raise ProbingInputError(f"{source.hint or 'The upload'} is not a parquet file. Export the table with "
                                "DataFrame.to_parquet(path).")
    with source.open() as f:
        arrow = pq.read_table(f)
    lists = [f.name for f in arrow.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
             or pa.types.is_fixed_size_list(f.type)]
    if vector_column is None:
        preferred = [c for c in (VECTOR_COLUMN, "embedding", "embeddings") if c in lists]
        if not preferred and len(lists) != 1:
            raise ProbingInputError(f"Expected one list column holding the vectors; found {lists or 'none'} among "
                                    f"{arrow.column_names[:12]}. Name it with vector_column=.")
        vector_column = (preferred or lists)[0]
    if vector_column not in lists:
        raise ProbingInputError(f"Column {vector_column!r} is not a list-of-numbers column; list columns: {lists}.")
    column = arrow.column(vector_column).combine_chunks()
    lengths = np.asarray(pc.list_value_length(column).fill_null(0))
    if len(lengths) < 2 or lengths.min() != lengths.max() or lengths[0] == 0 or column.null_count:
        raise ProbingInputError(f"Every row of {vector_column!r} must hold a vector of the same length; got lengths "
                                f"{np.unique(lengths)[:5].tolist()} over {len(lengths)} rows (null rows: {column.null_count}).")
    values = column.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise ProbingInputError(f"Column {vector_column!r} holds {values.type}, not numbers.")
    acts = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(lengths), -1)
    stored = json.loads((arrow.schema.metadata or {}).get(b"probing", b"{}"))
    labels, meta = split_columns(arrow.drop_columns([vector_column]).to_pandas(), "the parquet table")
    attrs = stored["attrs"] if isinstance(stored.get("attrs"), dict) else source_attrs(source.hint, "vector-parquet")
    return ActivationSet(acts, [stored.get("layer", vector_column)], labels, meta,
                         name or stored.get("name", source.hint.rsplit(".", 1)[0] or "parquet vectors"), attrs=attrs)


@dataclass(frozen=True, eq=False)
class SAE:
    """A sparse autoencoder in SAELens layout.

    Attributes
    ----------
    W_enc : ndarray (d_in, d_sae)
    b_enc : ndarray (d_sae,)
    W_dec : ndarray (d_sae, d_in)
        Decoder rows: one direction per feature.
    b_dec : ndarray (d_in,)
    cfg : dict
        ``cfg.json`` (hook name, layer, ...).
    """

    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_dec: np.ndarray
    cfg: dict = field(default_factory=dict)

    @property
    def d_in(self) -> int:
        return self.W_dec.shape[1]

    @property
    def d_sae(self) -> int:
        return self.W_dec.shape[0]


def load_sae(weights, cfg=None) -> SAE:
    """Read an SAELens SAE: ``sae_weights.safetensors`` (and optionally ``cfg.json``).

    Shapes are checked against each other and against ``cfg``'s ``d_in`` / ``d_sae``.
    """
    src = _source(weights)
    if detect_format(src) != "safetensors":
        raise ProbingInputError(f"{src.hint or 'The SAE weights'} is not a .safetensors file; SAELens saves "
                                "sae_weights.safetensors next to cfg.json.")
    arrays, _ = readers.read_safetensors(src)
    missing = [k for k in ("W_enc", "b_enc", "W_dec", "b_dec") if k not in arrays]
    if missing:
        raise ProbingInputError(f"The SAE weights lack {missing}; found {sorted(arrays)}. Expected SAELens names "
                                "W_enc (d_in, d_sae), b_enc, W_dec (d_sae, d_in), b_dec.")
    W_enc, b_enc, W_dec, b_dec = (np.array(arrays[k], dtype=np.float32) for k in ("W_enc", "b_enc", "W_dec", "b_dec"))
    config = json.loads(_text(_source(cfg), "cfg.json")) if cfg is not None else {}
    d_sae, d_in = W_dec.shape if W_dec.ndim == 2 else (None, None)
    if (W_dec.ndim != 2 or W_enc.shape != (d_in, d_sae) or b_enc.shape != (d_sae,) or b_dec.shape != (d_in,)
            or config.get("d_in", d_in) != d_in or config.get("d_sae", d_sae) != d_sae):
        raise ProbingInputError(
            f"Inconsistent SAE shapes: W_enc {W_enc.shape}, b_enc {b_enc.shape}, W_dec {W_dec.shape}, b_dec "
            f"{b_dec.shape}, cfg d_in={config.get('d_in')} d_sae={config.get('d_sae')}. Expected W_enc (d_in, d_sae), "
            "b_enc (d_sae,), W_dec (d_sae, d_in), b_dec (d_in,).")
    for key, array in (("W_enc", W_enc), ("W_dec", W_dec)):
        check_finite(array, f"SAE {key}")
    return SAE(W_enc, b_enc, W_dec, b_dec, config)


def sae_feature_activations(sae: SAE, X) -> np.ndarray:
    """Feature activations ``ReLU((X - b_dec) @ W_enc + b_enc)``, shape ``(n, d_sae)`` float32."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != sae.d_in:
        raise ProbingInputError(f"This SAE reads vectors of length d_in = {sae.d_in}; got shape {X.shape}. Pick the "
                                f"layer it was trained on (cfg hook: {sae.cfg.get('hook_name', 'unknown')}).")
    return np.maximum((X - sae.b_dec) @ sae.W_enc + sae.b_enc, 0.0)


def read_arrays(src) -> dict[str, np.ndarray]:
    """Named arrays from a ``.safetensors``, ``.pt`` (weights only), ``.npy`` or ``.npz`` file; never unpickles.

    The one reader for uploaded matrices: weights (Linear maps page), direction sets
    (Coherence, Atlas), SAE decoders.

    Parameters
    ----------
    src : path, bytes or binary file object
        The format is decided by the content, the name being only a hint.

    Returns
    -------
    dict of str to ndarray
        Every tensor by its name in the file; a ``.npy`` array under the file's stem
        (``"directions"`` when it has no name). bfloat16 tensors are widened to float32.
    """
    source = _source(src)
    fmt = detect_format(source)
    read = {"safetensors": readers.read_safetensors, "torch": readers.read_torch, "npy": readers.read_npy,
            "npz": readers.read_npz}.get(fmt)
    if read is None:
        raise ProbingInputError(f"{source.hint or 'The upload'} is a {fmt} file; vectors are read from .safetensors, "
                                ".pt, .npy or .npz.")
    arrays, _ = read(source)
    if fmt == "npy":
        return {source.hint.rsplit(".", 1)[0] or "directions": arrays["acts"]}
    return arrays


def read_control_vectors(src) -> dict[str, np.ndarray]:
    """A dict ``layer -> (d,) vector`` saved as ``.safetensors`` or ``.pt`` (repeng, steering-vectors).

    ``(1, d)`` tensors are squeezed; every entry must be one vector and all must have the same ``d``.
    """
    vectors = {}
    for key, array in read_arrays(src).items():
        array = np.asarray(array, dtype=np.float64)
        squeezed = array.reshape(-1) if array.ndim == 2 and 1 in array.shape else array
        if squeezed.ndim != 1 or not np.isfinite(squeezed).all():
            raise ProbingInputError(f"Entry {key!r} has shape {array.shape}; a control vector is one finite (d,) vector "
                                    "per layer. Save {layer: vector} pairs.")
        vectors[str(key)] = squeezed
    if len({v.shape for v in vectors.values()}) > 1:
        raise ProbingInputError(f"Control vectors have different lengths {sorted({len(v) for v in vectors.values()})}; "
                                "they must all live in the model's residual stream.")
    return vectors


def read_directions(src) -> dict[str, np.ndarray]:
    """Direction sets from a ``.npy`` (rows), ``.safetensors``/``.npz``/``.pt`` (one entry per set), as float64 ``(k, d)``."""
    out = {}
    for key, array in read_arrays(src).items():
        array = np.asarray(array, dtype=np.float64)
        if array.ndim not in (1, 2) or not np.isfinite(array).all():
            raise ProbingInputError(f"Entry {key!r} has shape {array.shape}; directions are (d,) or (k, d) finite arrays.")
        out[str(key)] = np.atleast_2d(array)
    return out


def directions_to_safetensors(directions: dict) -> bytes:
    """``{name: (d,) or (k, d)}`` as ``.safetensors`` bytes (float32), read back by :func:`read_directions`."""
    if not directions:
        raise ProbingInputError("No directions to export.")
    return safetensors_bytes({str(k): np.asarray(v, dtype=np.float32) for k, v in directions.items()})
