"""What a language model writes, with and without a steering vector in its residual stream.

:func:`generate` is Hugging Face generation with an optional ``steer=(layer, vector, alpha)``
added at every position (prompt and new tokens) while the model writes.
:func:`generation_sweep` judges a vector by what it makes the model write: for each prompt
and alpha the steered text beside a control (a random vector of the same norm), scored by a
readout of the texts (e.g. the sentiment probe on the bundled encoder), so the dose-response
of the vector can be told apart from the effect of any push of that size.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.hooks import steering_hook
from probing.models import resolve_model

MAX_PROMPTS = 64
MAX_NEW_TOKENS = 256


def generate(prompts, model=None, max_new_tokens: int = 32, steer=None, seed: int = 0,
             do_sample: bool = False) -> list[str]:
    """Continue each prompt with a causal language model, optionally steered.

    Parameters
    ----------
    prompts : list of str
    model : str, Path, LoadedModel or (model, tokenizer)
        A causal language model (GPT-2, Pythia, Llama, Mistral, Qwen2, Gemma).
    max_new_tokens : int
    steer : (layer, vector, alpha), optional
        Add ``alpha * vector`` to the residual stream after block ``layer`` at every position
        while generating; the hook is removed afterwards, also when generation fails.
    seed : int
        Seeds sampling (``do_sample=True``); greedy decoding does not draw.
    do_sample : bool
        Sample instead of greedy decoding.

    Returns
    -------
    list of str
        The continuation of each prompt (new tokens only, decoded). With ``steer=None`` and
        greedy decoding this equals Hugging Face's ``model.generate``.
    """
    import torch

    loaded = resolve_model(model)
    loaded.final_norm()  # refuses encoders with a clear message
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ProbingInputError("prompts must be a non-empty list of non-empty strings.")
    if len(prompts) > MAX_PROMPTS:
        raise ProbingInputError(f"{len(prompts)} prompts is more than {MAX_PROMPTS} per call; split them.")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
            or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ProbingInputError(f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}; got {max_new_tokens!r}.")
    hook = steering_hook(loaded, *steer) if steer is not None else nullcontext()
    tokenizer, out = loaded.tokenizer, []
    with hook, torch.inference_mode():
        for prompt in prompts:  # one at a time: no padding, so the result does not depend on the batch
            ids = tokenizer(prompt, return_tensors="pt").to(loaded.device)
            torch.manual_seed(seed)
            tokens = loaded.model.generate(**ids, max_new_tokens=int(max_new_tokens), do_sample=do_sample,
                                           pad_token_id=tokenizer.pad_token_id)
            out.append(tokenizer.decode(tokens[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def random_control(vector, seed: int = 0) -> np.ndarray:
    """A random direction with the same norm as ``vector`` (the control of a steering experiment)."""
    vector = np.asarray(vector, dtype=np.float64)
    draw = np.random.default_rng(seed).normal(size=vector.shape)
    return draw / np.linalg.norm(draw) * np.linalg.norm(vector)


def generation_sweep(prompts, model, layer: int, vector, alphas, readout: Callable[[list[str]], np.ndarray] | None
                     = None, max_new_tokens: int = 24, seed: int = 0, progress=None) -> pd.DataFrame:
    """Steered and control continuations of every prompt at every alpha, scored by ``readout``.

    Parameters
    ----------
    prompts : list of str
    model : a causal language model (see :func:`generate`)
    layer : int
        Residual-stream layer to steer (0 = embeddings, k = after block k).
    vector : array_like of shape (d,)
    alphas : sequence of float
        Include 0 for the unsteered baseline.
    readout : callable(texts) -> scores, optional
        Scores the full texts (prompt + continuation), e.g. a sentiment probe on an encoder.
    max_new_tokens, seed : int
    progress : callable(fraction, message), optional

    Returns
    -------
    pandas.DataFrame
        One row per (prompt, alpha, vector): ``prompt``, ``alpha``, ``vector`` (``"steering"``
        or ``"random control"``), ``continuation`` and, with a readout, ``score``.
    """
    alphas = [float(a) for a in np.atleast_1d(alphas)]
    if not alphas:
        raise ProbingInputError("Give at least one alpha.")
    control = random_control(vector, seed)
    rows, jobs = [], [(a, kind, v) for a in alphas for kind, v in (("steering", vector), ("random control", control))
                      if a != 0 or kind == "steering"]
    for i, (alpha, kind, v) in enumerate(jobs):
        texts = generate(prompts, model, max_new_tokens, steer=(layer, v, alpha), seed=seed)
        rows += [{"prompt": p, "alpha": alpha, "vector": kind, "continuation": t} for p, t in zip(prompts, texts)]
        if progress:
            progress((i + 1) / len(jobs), f"alpha = {alpha:g} ({kind})")
    frame = pd.DataFrame(rows)
    baseline = frame[frame["alpha"] == 0].assign(vector="random control")  # alpha 0 is the same text for both
    frame = pd.concat([frame, baseline], ignore_index=True)
    if readout is not None:
        frame["score"] = np.asarray(readout((frame["prompt"] + frame["continuation"]).tolist()), dtype=np.float64)
    return frame.sort_values(["vector", "alpha", "prompt"], kind="stable").reset_index(drop=True)
