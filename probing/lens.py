"""The logit lens: read every layer's residual stream through the model's own unembedding.

A decoder predicts the next token by applying its final norm and the unembedding matrix
``W_U`` to the residual stream after the last block. Applying the same two maps to the
stream after an earlier block asks "what would the model say if it stopped here?"
(nostalgebraist 2020). The stream is read raw (:mod:`probing.models`), so the final norm is
applied exactly once at every layer and the last layer's decoding equals the model's own
next-token logits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.extract import layer_names
from probing.hooks import check_vector, record_sites, resolve_layer
from probing.models import LoadedModel, resolve_model


def decode(loaded: LoadedModel, hidden):
    """Logits ``[..., vocab]`` from residual-stream vectors ``[..., d]``: final norm, then unembedding."""
    logits = loaded.model.get_output_embeddings()(loaded.final_norm()(hidden))
    cap = getattr(loaded.model.config, "final_logit_softcapping", None)
    if cap:  # Gemma 2/3 squash their logits; the lens must too to match the model
        logits = cap * (logits / cap).tanh()
    return logits


def token_texts(loaded: LoadedModel, token_ids: list[int]) -> list[str]:
    """Each token as the text it writes (byte-level BPE markers decoded: ``"Ġis"`` is ``" is"``)."""
    return [loaded.tokenizer.decode([token_id]) for token_id in token_ids]


def logit_lens(texts, model=None, k: int = 10, layers=None, position=-1) -> pd.DataFrame:
    """The top-``k`` next tokens read from each layer of a causal language model.

    Parameters
    ----------
    texts : list of str
    model : str, Path, LoadedModel or (model, tokenizer)
        A causal language model (GPT-2, Pythia, Llama, Mistral, Qwen2, Gemma).
    k : int
        Tokens kept per layer and position.
    layers : list of int, optional
        Hidden states to read (0 = embeddings, k = block k, negative from the end); default all.
    position : int or "all"
        Token position to read (negative from the end of each text), or every position.

    Returns
    -------
    pandas.DataFrame
        Columns ``text, position, layer, rank, token_id, token, logit, prob``, where ``token``
        is the text the token writes and ``prob`` the softmax probability at that layer. The last layer's row equals the model's own
        next-token logits.
    """
    import torch

    loaded = resolve_model(model)
    loaded.final_norm()  # refuses encoders with a clear message
    if isinstance(texts, str) or not len(texts):
        raise ProbingInputError("texts must be a non-empty list of strings; wrap one text as [text].")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ProbingInputError(f"k must be a positive integer; got {k!r}.")
    n_states = loaded.n_blocks + 1
    selected = list(range(n_states)) if layers is None else [resolve_layer(i, n_states) for i in layers]
    names = layer_names(loaded.n_blocks)
    k = min(int(k), loaded.model.get_output_embeddings().weight.shape[0])
    rows = []
    with torch.inference_mode(), record_sites(loaded, selected) as states:
        for text in texts:
            ids = loaded.tokenizer(text, return_tensors="pt").to(loaded.device)
            n_tokens = ids["input_ids"].shape[1]
            loaded.model(**ids)
            if position == "all":
                positions = list(range(n_tokens))
            elif isinstance(position, (int, np.integer)) and -n_tokens <= position < n_tokens:
                positions = [int(position) % n_tokens]
            else:
                raise ProbingInputError(f"position {position!r} is outside {text[:40]!r}, which has {n_tokens} "
                                        "tokens; use an index in range (negative from the end) or 'all'.")
            for layer in selected:
                logits = decode(loaded, states[layer][0, positions]).float()  # [n_pos, vocab]
                probs = logits.softmax(-1)
                top = logits.topk(k, dim=-1)
                for p, at in enumerate(positions):
                    token_ids = top.indices[p].tolist()
                    tokens = token_texts(loaded, token_ids)
                    for rank, (token_id, token) in enumerate(zip(token_ids, tokens)):
                        rows.append((text, at, names[layer], rank, token_id, token, float(top.values[p, rank]),
                                     float(probs[p, token_id])))
    return pd.DataFrame(rows, columns=["text", "position", "layer", "rank", "token_id", "token", "logit", "prob"])


def direction_tokens(direction, model=None, k: int = 10) -> pd.DataFrame:
    """The tokens a residual-stream direction promotes and suppresses through the unembedding.

    Scores are ``W_U @ direction`` (the direct effect on each token's logit, before the
    final norm rescales the stream).

    Returns
    -------
    pandas.DataFrame
        Columns ``effect`` (``"promotes"`` / ``"suppresses"``), ``rank``, ``token_id``,
        ``token``, ``score``: the ``k`` highest and the ``k`` lowest scores.
    """
    import torch

    loaded = resolve_model(model)
    W_U = loaded.model.get_output_embeddings().weight  # [vocab, d]
    direction = check_vector(loaded, direction, "direction")
    with torch.inference_mode():
        scores = (W_U.float() @ torch.as_tensor(direction, dtype=torch.float32, device=W_U.device)).cpu().numpy()
    k = min(int(k), len(scores))
    order = np.argsort(-scores, kind="stable")
    rows = []
    for effect, ids in (("promotes", order[:k]), ("suppresses", order[::-1][:k])):
        tokens = token_texts(loaded, [int(i) for i in ids])
        rows += [(effect, rank, int(i), token, float(scores[i])) for rank, (i, token) in enumerate(zip(ids, tokens))]
    return pd.DataFrame(rows, columns=["effect", "rank", "token_id", "token", "score"])
