"""Activations from a real transformer: texts in, an :class:`ActivationSet` out.

A transformer turns each token into a vector (the *embedding output*) and then
rewrites those vectors block by block; the vector stream between blocks is the
*residual stream*. :func:`extract_activations` runs the model once over the texts and
keeps the stream after every block (hook sites are named as in :mod:`probing.models`),
pooled to one vector per text, one per token, or the one at a marked token:

* layer ``0`` (named ``"embeddings"``) is the embedding output, before any block,
* layer ``k`` (named ``"block_k"``) is the output of block ``k`` (for a decoder's last block,
  before the final norm),

so the bundled all-MiniLM-L6-v2 (6 blocks, width 384) gives ``(n, 7, 384)``.
``steer=(layer, vector, alpha)`` adds ``alpha * vector`` to one hidden state inside the
forward pass and ``ablate=(layer, directions)`` projects directions out of it, so every
later block sees the change (:mod:`probing.hooks`).

torch and transformers are imported inside the functions, so ``import probing``
stays light.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from contextlib import ExitStack
from typing import Callable

import numpy as np
import pandas as pd

from probing import budget
from probing.data import ActivationSet
from probing.errors import ProbingInputError
from probing.hooks import ablation_hook, eraser_hook, record_sites, resolve_layer, steering_hook
from probing.models import DEFAULT_MODEL_NAME, SITES, default_model_dir, load_model, resolve_model

POOLINGS = ("mean", "first", "cls", "last", "tokens", "marked")
MARK = re.compile(r"<<(.+?)>>", re.S)
"""A marked token in a text: ``The <<cat>> sat`` takes the activation at the last token of ``cat``."""
EXTRACTOR = "probing.extract.extract_activations"
"""``attrs["extractor"]`` of every set :func:`extract_activations` makes."""

__all__ = ["DEFAULT_MODEL_NAME", "POOLINGS", "default_model_dir", "extract_activations", "layer_names",
           "load_model", "parse_lines", "rerun_model", "split_table", "steering_hook"]


def layer_names(n_blocks: int) -> list[str]:
    """Names of the ``n_blocks + 1`` hidden states: ``"embeddings"``, ``"block_1"``, ..., ``"block_<n_blocks>"``."""
    return ["embeddings"] + [f"block_{k}" for k in range(1, n_blocks + 1)]


def split_marks(texts: list[str]) -> tuple[list[str], list[int]]:
    """Texts with their ``<<...>>`` mark removed, and the character offset where each mark ends.

    Raises
    ------
    ProbingInputError
        When a text has no mark or more than one.
    """
    clean, ends = [], []
    for i, text in enumerate(texts):
        marks = list(MARK.finditer(text))
        if len(marks) != 1:
            raise ProbingInputError(f"Text {i} ({text[:60]!r}) has {len(marks)} marks; with pooling='marked' every "
                                    "text marks exactly one token of interest, e.g. 'The <<cat>> sat'.")
        mark = marks[0]
        clean.append(text[:mark.start()] + mark.group(1) + text[mark.end():])
        ends.append(mark.start() + len(mark.group(1)))
    return clean, ends


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ProbingInputError("texts must be a list of strings, not one string; wrap it: [text].")
    try:
        texts = list(texts)
    except TypeError as exc:
        raise ProbingInputError(f"texts must be a list of strings; got {type(texts).__name__}.") from exc
    if not texts:
        raise ProbingInputError("texts is empty; pass at least one string.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ProbingInputError(
            f"texts must all be strings; item {bad[0]} is {type(texts[bad[0]]).__name__} "
            f"({len(bad)} non-strings in all). Convert them with str() or drop them."
        )
    return texts


def _pool(states: dict, mask, pooling: str, selected: list[int], positions=None):
    """Pool the recorded states ``{layer: [batch, pos, d]}`` to ``[batch, n_sel, d]`` (tokens: ``[n_tok, n_sel, d]``).

    ``positions`` ``[batch]`` is the marked token of each text (``pooling="marked"``).
    """
    import torch

    if pooling == "mean":
        weights = mask.to(states[selected[0]].dtype)[:, None, :]  # [batch, 1, pos]
        counts = weights.sum(-1)  # [batch, 1]
        return torch.stack([torch.bmm(weights, states[i]).squeeze(1) / counts for i in selected], 1)
    if pooling == "tokens":
        keep = mask.bool()  # [batch, pos]
        return torch.stack([states[i][keep] for i in selected], 1)
    if pooling in ("first", "cls"):
        positions = mask.argmax(1)  # first real token (also with left padding)
    elif pooling == "last":
        positions = mask.shape[1] - 1 - mask.flip(1).argmax(1)  # last real token
    rows = torch.arange(mask.shape[0], device=mask.device)
    return torch.stack([states[i][rows, positions] for i in selected], 1)


def _output(out, shape: tuple) -> np.ndarray:
    """Where the pooled activations go: ``out`` (a ``.npy`` memory map), a temporary ``.npy`` when they would
    take more than half the memory budget, else memory."""
    nbytes = int(np.prod(shape)) * 4
    if out is None and nbytes <= budget.memory_budget() // 2:
        return np.empty(shape, np.float32)
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="probing-extract-")) / "acts.npy"
    if path.suffix != ".npy":
        raise ProbingInputError(f"out={str(path)!r}: extraction streams into a .npy file; use a name ending in .npy.")
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)


def _marked_positions(encoded, ends: list[int]) -> np.ndarray:
    """The index of the last token whose characters start before each mark's end."""
    positions = np.empty(len(ends), np.int64)
    for i, (offsets, end) in enumerate(zip(encoded["offset_mapping"], ends)):
        inside = [t for t, (start, stop) in enumerate(offsets) if stop > start and start < end]
        if not inside:
            raise ProbingInputError(f"Text {i}: the marked token was cut off by max_length; raise max_length.")
        positions[i] = inside[-1]
    return positions


def _labels(labels, n: int) -> dict:
    labels = dict(labels or {})
    for key, values in labels.items():
        if len(np.asarray(values)) != n:
            raise ProbingInputError(f"Label {key!r} has {len(np.asarray(values))} values for {n} texts; one per text.")
    return {key: np.asarray(values) for key, values in labels.items()}


def _extra_meta(meta, n: int) -> pd.DataFrame:
    if meta is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if not isinstance(meta, pd.DataFrame) or len(meta) != n:
        raise ProbingInputError(f"meta must be a DataFrame with one row per text ({n}); "
                                f"got {type(meta).__name__} with {len(meta) if hasattr(meta, '__len__') else '?'} rows.")
    return meta.drop(columns=[c for c in ("text", "text_id", "position", "token") if c in meta]).reset_index(drop=True)


def extract_activations(texts, model=None, pooling: str = "mean", batch_size: int = 64, max_length: int = 128,
                        layers=None, steer=None, progress: Callable[[float, str], None] | None = None,
                        labels=None, meta: pd.DataFrame | None = None, name: str | None = None, site: str = "resid",
                        ablate=None, device: str = "auto", dtype: str | None = None, out=None) -> ActivationSet:
    """Run a transformer over ``texts`` and return its pooled hidden states at every layer.

    Parameters
    ----------
    texts : list of str, length n_texts
    model : None, str, Path, LoadedModel or (model, tokenizer)
        ``None`` for the bundled all-MiniLM-L6-v2, a local Hugging Face model folder or a
        model id (loaded once per process, see :func:`probing.models.load_model`), or an
        already loaded model. Encoders (BERT-like) and decoders (GPT-2, Pythia, Llama,
        Mistral, Qwen2, Gemma) work the same way.
    pooling : {"mean", "first", "cls", "last", "tokens", "marked"}
        ``"mean"``: attention-mask-weighted mean over all tokens, special tokens included
        (as sentence-transformers does); ``"first"`` (alias ``"cls"``): the first token;
        ``"last"``: the last non-pad token (what a decoder predicts from); ``"tokens"``: every
        token its own row; ``"marked"``: the last token of the ``<<...>>`` mark in each text
        (``"The <<cat>> sat"``; the mark's brackets are removed before tokenising).
    batch_size, max_length : int
        Texts per forward pass (texts are sorted by length so batches carry little
        padding; the output keeps the input order) and tokens kept per text. Batches are
        padded on the right, so a text's activations do not depend on its batch.
    layers : list of int, optional
        Hidden states to keep (0 = embeddings, k = block k, negative from the end); default all.
    steer : (layer, vector, alpha), optional
        Add ``alpha * vector`` to the residual stream after block ``layer`` during the forward
        pass (:func:`probing.hooks.steering_hook`); the returned states at and after ``layer``
        include it.
    progress : callable(fraction, message), optional
        Called after every batch with the fraction of texts done.
    labels : dict of str to array_like, optional
        One value per text (repeated per token for ``"tokens"``).
    meta : pandas.DataFrame, optional
        Extra columns, one row per text (e.g. group ids), added to the output ``meta``
        (repeated per token for ``"tokens"``).
    name : str, optional
        Dataset name; default names model, pooling and size.
    site : {"resid", "attn_out", "mlp_out"}
        What to read at each layer: the residual stream (default) or what block ``k``'s
        attention or MLP writes into it (layers ``1..n_blocks``).
    ablate : (layer, directions) or (layer, eraser), optional
        Project the span of ``directions`` ``(k, d)`` out of the residual stream after block
        ``layer`` at every token, or apply a fitted LEACE eraser there, inside the forward
        pass, so every later layer sees the change (does the model *use* the direction?).
    device, dtype : str
        Where and in which precision to load a model given by name (see :func:`load_model`).
    out : str or Path, optional
        A ``.npy`` file to stream the activations into, batch by batch (they come back
        memory-mapped). Without it, a result bigger than half the memory budget
        (``PROBING_MEMORY_BUDGET``) is streamed to a ``.npy`` file in a new temporary folder,
        and the batch size shrinks so one batch's hidden states fit in the budget. Token
        activations (``"tokens"``) are kept in memory.

    Returns
    -------
    ActivationSet
        ``acts`` float32 of shape ``(n_texts, n_layers, d)`` (``(n_tokens, n_layers, d)`` for
        ``"tokens"``), ``layers`` named ``"embeddings"``, ``"block_1"``, ...; ``meta`` has
        ``text`` (and ``text_id``, ``position``, ``token`` for ``"tokens"``; ``position`` and
        ``token`` for ``"marked"``). ``attrs`` says how it was made (:data:`EXTRACTOR`, model
        name and source, pooling, site, max_length, the hidden states kept, the steering or
        ablation applied), which :func:`rerun_model` reads.

    Examples
    --------
    >>> aset = extract_activations(["The film was great.", "The film was awful."])
    >>> aset.shape
    (2, 7, 384)
    """
    texts = _check_texts(texts)
    if pooling not in POOLINGS:
        raise ProbingInputError(f"Unknown pooling {pooling!r}; choose one of {POOLINGS}.")
    if pooling != "tokens" and len(texts) < 2:
        raise ProbingInputError(f"Need at least 2 texts for pooling={pooling!r}; got {len(texts)}.")
    if site not in SITES:
        raise ProbingInputError(f"Unknown site {site!r}; choose one of {SITES}.")
    for what, value, low in (("batch_size", batch_size, 1), ("max_length", max_length, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ProbingInputError(f"{what} must be an integer >= {low}; got {value!r}.")
    labels = _labels(labels, len(texts))
    extra = _extra_meta(meta, len(texts))
    loaded = resolve_model(model, device, dtype)
    n_states = loaded.n_blocks + 1
    default = range(n_states) if site == "resid" else range(1, n_states)
    selected = list(default) if layers is None else [resolve_layer(i, n_states) for i in layers]
    if not selected or len(set(selected)) != len(selected):
        raise ProbingInputError(f"layers must list distinct hidden states; got {layers!r}.")
    interventions = []
    for what, spec, size in (("steer", steer, 3), ("ablate", ablate, 2)):
        if spec is not None and (not isinstance(spec, (tuple, list)) or len(spec) != size):
            expected = "(layer, vector, alpha)" if what == "steer" else "(layer, directions) or (layer, eraser)"
            raise ProbingInputError(f"{what} must be {expected}; got {type(spec).__name__}.")
    if steer is not None:
        interventions.append(steering_hook(loaded, *steer))
    if ablate is not None:
        layer, target = ablate
        interventions.append(eraser_hook(loaded, layer, target) if callable(target)
                             else ablation_hook(loaded, layer, target))

    import torch

    tokenizer = loaded.tokenizer
    ends = None
    if pooling == "marked":
        texts_in, ends = split_marks(texts)
    else:
        texts_in = texts
    encoded = tokenizer(texts_in, truncation=True, max_length=int(max_length),
                        return_offsets_mapping=pooling == "marked")
    marked = _marked_positions(encoded, ends) if pooling == "marked" else None
    encoded = {key: values for key, values in encoded.items() if key != "offset_mapping"}
    lengths = np.fromiter(map(len, encoded["input_ids"]), dtype=np.int64, count=len(texts))
    order = np.argsort(-lengths, kind="stable")  # longest first: peak memory shows up in the first batch
    d, widest = loaded.hidden_size, int(lengths.max())
    batch_size = int(min(batch_size, max(1, budget.memory_budget() // (8 * widest * d * 4 * len(selected)))))
    n_batches = -(-len(texts) // batch_size)
    pooled, rows = [], []
    acts = None if pooling == "tokens" else _output(out, (len(texts), len(selected), d))
    with ExitStack() as stack, torch.inference_mode():
        for intervention in interventions:
            stack.enter_context(intervention)
        states = stack.enter_context(record_sites(loaded, selected, site))
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = tokenizer.pad({key: [values[i] for i in idx] for key, values in encoded.items()},
                                  padding_side="right", return_tensors="pt").to(loaded.device)
            loaded.model(**batch)
            mask = batch["attention_mask"]  # [batch, pos]
            positions = None if marked is None else torch.as_tensor(marked[idx], device=mask.device)
            values = _pool(states, mask, pooling, selected, positions).float().cpu().numpy()
            if acts is not None:
                acts[idx] = values  # each text's row at its place in the input order
            else:
                pooled.append(values)
            if pooling == "tokens":
                text_pos = mask.nonzero().cpu().numpy()  # [n_tok, 2]: (row in batch, position)
                rows.append(np.column_stack([idx[text_pos[:, 0]], text_pos[:, 1],
                                             batch["input_ids"][mask.bool()].cpu().numpy()]))
            if progress is not None:
                progress((b * batch_size + len(idx)) / len(texts), f"batch {b + 1}/{n_batches}")

    if pooling == "tokens":
        acts = np.concatenate(pooled)
        text_id, position, token_id = np.concatenate(rows).T
        back = np.lexsort((position, text_id))
        acts, text_id, position, token_id = acts[back], text_id[back], position[back], token_id[back]
        out_meta = pd.DataFrame({"text_id": text_id, "position": position,
                                 "token": tokenizer.convert_ids_to_tokens(token_id.tolist()),
                                 "text": np.asarray(texts, dtype=object)[text_id]})
        out_meta = pd.concat([out_meta, extra.iloc[text_id].reset_index(drop=True)], axis=1)
        labels = {key: values[text_id] for key, values in labels.items()}
    else:
        if isinstance(acts, np.memmap):
            acts.flush()
        out_meta = pd.DataFrame({"text": texts})
        if marked is not None:
            out_meta["position"] = marked
            out_meta["token"] = [tokenizer.convert_ids_to_tokens(ids[at]) for ids, at in
                                 zip(encoded["input_ids"], marked)]
        out_meta = pd.concat([out_meta, extra], axis=1)
    all_names = layer_names(n_states - 1)
    if name is None:
        name = f"{loaded.name} {pooling} ({len(texts)} texts)"
    attrs = {"extractor": EXTRACTOR, "model": loaded.name,
             "model_path": None if loaded.name == DEFAULT_MODEL_NAME else loaded.source,
             "pooling": pooling, "site": site, "max_length": int(max_length), "hidden_states": selected,
             "n_blocks": n_states - 1,
             "steer": None if steer is None else {"layer": int(steer[0]), "alpha": float(steer[2]),
                                                  "vector": np.asarray(steer[1], dtype=np.float64).tolist()},
             "ablate": None if ablate is None else {"layer": int(ablate[0]),
                                                    "eraser": callable(ablate[1]),
                                                    "directions": None if callable(ablate[1]) else
                                                    np.atleast_2d(np.asarray(ablate[1], np.float64)).tolist()}}
    return ActivationSet(acts, [all_names[i] for i in selected], labels, out_meta, name, attrs=attrs)


def rerun_model(aset: ActivationSet) -> dict:
    """How to run the model that made ``aset`` again (for steering), read from its ``attrs``.

    Returns
    -------
    dict
        ``model`` (``None`` for the bundled MiniLM, else a local model folder or a Hugging
        Face id) and ``pooling`` for :func:`extract_activations`, and ``hidden_states``: the
        model's hidden-state index of each of ``aset``'s layers.

    Raises
    ------
    ProbingInputError
        When ``aset`` was not made by :func:`extract_activations` from texts kept in
        ``meta["text"]``, was pooled per token, or its model folder is not on this machine.
    """
    attrs = aset.attrs
    if attrs.get("extractor") != EXTRACTOR or "text" not in aset.meta.columns:
        raise ProbingInputError(f"{aset.name!r} does not say which model made it from which texts (its attrs have no "
                                "extraction record), so it cannot be re-run through the model. Open a bundled "
                                "dataset or extract your own sentences on the Extract page.")
    if attrs.get("pooling") in ("tokens", "marked"):
        raise ProbingInputError(f"{aset.name!r} has {attrs['pooling']} pooling; steering through the model reads one "
                                "vector per text. Extract the texts again with mean, first or last pooling.")
    path = attrs.get("model_path")
    if path is not None and path.startswith(("/", ".", "~")) and not (Path(path) / "config.json").is_file():
        raise ProbingInputError(f"{aset.name!r} was extracted with the model at {path!r}, which is not on this "
                                "machine. Copy the model folder there to steer through it.")
    return {"model": path, "pooling": attrs["pooling"], "hidden_states": list(attrs["hidden_states"])}


def parse_lines(text: str, separator: str = "|") -> pd.DataFrame:
    """Pasted text to a table: one sentence per non-empty line, optionally ``sentence | label``.

    Returns
    -------
    pandas.DataFrame
        A ``text`` column, plus ``label`` when every line carries one (split at the
        last ``separator``).
    """
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        raise ProbingInputError("No sentences found: paste one sentence per line.")
    parts = [line.rsplit(separator, 1) for line in lines]
    labelled = [len(p) == 2 and p[1].strip() != "" for p in parts]
    if not any(labelled):
        return pd.DataFrame({"text": lines})
    if not all(labelled):
        first = labelled.index(False)
        raise ProbingInputError(
            f"Line {first + 1} ({lines[first][:60]!r}) has no label, but other lines end with "
            f"'{separator} label'. Label every line or none."
        )
    return pd.DataFrame({"text": [p[0].strip() for p in parts], "label": [p[1].strip() for p in parts]})


def split_table(df: pd.DataFrame, text_column: str = "text", max_classes: int = 50) -> dict:
    """Split a table of texts into ``extract_activations`` keyword arguments.

    Columns with at most ``max_classes`` distinct values become string labels, float
    columns numeric labels; the rest (ids, free text) go to ``meta``.

    Returns
    -------
    dict
        ``texts`` (list of str), ``labels`` (dict of arrays), ``meta`` (DataFrame).
    """
    if text_column not in df.columns:
        raise ProbingInputError(f"No column {text_column!r} in the table; columns are {list(df.columns)}. "
                                "Name the column that holds the sentences.")
    texts = df[text_column]
    if texts.isna().any():
        raise ProbingInputError(f"Column {text_column!r} has {int(texts.isna().sum())} empty cells "
                                f"(first at row {int(np.flatnonzero(texts.isna())[0])}); fill or drop those rows.")
    labels, meta = {}, {}
    for column in df.columns.drop(text_column):
        values = df[column]
        if values.dtype.kind == "f" and values.notna().all():
            labels[str(column)] = values.to_numpy()
        elif values.nunique(dropna=False) <= max_classes:
            labels[str(column)] = values.fillna("").astype(str).to_numpy()
        else:
            meta[str(column)] = values.to_numpy()
    return {"texts": texts.astype(str).tolist(), "labels": labels, "meta": pd.DataFrame(meta, index=df.index)}

