"""Hooks on named sites of a transformer: read a hidden state, or change it inside the forward pass.

Sites are named as in :mod:`probing.models`: ``("resid", k)`` is the residual stream after
block ``k`` (``0`` = embeddings), ``("attn_out", k)`` / ``("mlp_out", k)`` what block ``k``'s
attention / MLP writes (``k >= 1``). Every hook acts only on forward passes of the thread
that opened its context, so other sessions sharing the model are unaffected, and it is
removed on exit, also on error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import numpy as np

from probing.errors import ProbingInputError
from probing.models import SITES, LoadedModel


def resolve_layer(layer, n_states: int, what: str = "layer") -> int:
    """A hidden-state index in ``[0, n_states)`` from ``layer`` (negative counts from the end)."""
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
        raise ProbingInputError(f"{what} must be an integer hidden-state index; got {layer!r}.")
    if not -n_states <= int(layer) < n_states:
        raise ProbingInputError(
            f"{what} {int(layer)} is out of range: the model has {n_states} hidden states "
            f"(0 = embeddings, 1..{n_states - 1} = blocks; negative counts from the end)."
        )
    return int(layer) % n_states


def _site_module(loaded: LoadedModel, site: str, layer: int):
    """``(module, is_pre_hook)`` where ``site`` at hidden-state ``layer`` can be read or changed."""
    if site not in SITES:
        raise ProbingInputError(f"Unknown site {site!r}; choose one of {SITES}.")
    if site == "resid":
        return (loaded.blocks[0], True) if layer == 0 else (loaded.blocks[layer - 1], False)
    if layer == 0:
        raise ProbingInputError(f"{site} exists for blocks 1..{loaded.n_blocks}; layer 0 is the embeddings (resid only).")
    return loaded.block_part(layer - 1, "attn" if site == "attn_out" else "mlp"), False


@contextmanager
def edit_site(loaded: LoadedModel, layer: int, edit: Callable, site: str = "resid",
              prepend: bool = True) -> Iterator[None]:
    """Replace the tensor ``[batch, pos, d]`` at ``site``/``layer`` by ``edit(tensor)`` while the context is open.

    By default the hook runs before any other hook of the module (``prepend``), so what a
    recording hook (or Hugging Face's own output recording) sees includes the edit, and
    every later block computes from the edited stream; recording hooks run after the edits.
    """
    layer = resolve_layer(layer, loaded.n_blocks + 1, f"{site} layer")
    module, pre = _site_module(loaded, site, layer)
    owner = threading.get_ident()

    if pre:
        def hook(module, args, kwargs):
            if threading.get_ident() != owner:
                return None
            if args:
                return (edit(args[0]), *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": edit(kwargs["hidden_states"])}

        handle = module.register_forward_pre_hook(hook, with_kwargs=True, prepend=prepend)
    else:
        def hook(module, args, output):
            if threading.get_ident() != owner:
                return None
            if isinstance(output, tuple):  # (hidden [batch, pos, d], extras...)
                return (edit(output[0]), *output[1:])
            return edit(output)

        handle = module.register_forward_hook(hook, prepend=prepend)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def record_sites(loaded: LoadedModel, layers: list[int], site: str = "resid") -> Iterator[dict]:
    """Record the tensors ``[batch, pos, d]`` at ``site`` for each hidden-state index in ``layers``.

    Yields a dict ``{layer: tensor}`` refilled by every forward pass in this thread.
    """
    store: dict[int, object] = {}
    with ExitStack() as stack:
        for layer in layers:
            def keep(tensor, layer=layer):
                store[layer] = tensor
                return tensor

            stack.enter_context(edit_site(loaded, layer, keep, site, prepend=False))  # after any edit
        yield store


def check_vector(loaded: LoadedModel, vector, what: str) -> np.ndarray:
    """``vector`` as float64 ``(d,)`` of the model's hidden size, finite; else a :class:`ProbingInputError`."""
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (loaded.hidden_size,):
        raise ProbingInputError(
            f"The {what} must have shape ({loaded.hidden_size},), the model's hidden size; got shape {vector.shape}. "
            "Take it from a layer of activations extracted with the same model."
        )
    if not np.all(np.isfinite(vector)):
        raise ProbingInputError(f"The {what} must be finite (no NaN/Inf).")
    return vector


def steering_hook(loaded: LoadedModel, layer: int, vector, alpha: float):
    """Add ``alpha * vector`` to the residual stream after block ``layer`` at every token (a context manager).

    Layer ``0`` shifts the embedding output; layer ``k`` the output of block ``k``, so the
    blocks after it see the change. The vector is used as given (not renormalised).
    """
    import torch

    vector = check_vector(loaded, vector, "steering vector")
    if not np.isfinite(alpha):
        raise ProbingInputError(f"alpha must be finite; got {alpha!r}.")
    param = next(loaded.model.parameters())
    shift = torch.as_tensor(float(alpha) * vector, dtype=param.dtype, device=param.device)  # [d]
    return edit_site(loaded, layer, lambda hidden: hidden + shift)


def ablation_hook(loaded: LoadedModel, layer: int, directions):
    """Project the span of ``directions`` ``(k, d)`` out of the residual stream after block ``layer`` (a context
    manager): ``h - (h Q) Q^T`` with ``Q`` an orthonormal basis of the span, at every token."""
    import torch

    directions = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    for row in directions:
        check_vector(loaded, row, "ablated direction")
    u, s, _ = np.linalg.svd(directions.T, full_matrices=False)
    basis = u[:, s > s.max() * max(directions.shape) * np.finfo(np.float64).eps] if s.size and s.max() > 0 else None
    if basis is None or basis.shape[1] == 0:
        raise ProbingInputError("The directions to ablate are all zero; there is nothing to project out.")
    param = next(loaded.model.parameters())
    Q = torch.as_tensor(basis, dtype=param.dtype, device=param.device)  # [d, k]
    return edit_site(loaded, layer, lambda hidden: hidden - (hidden @ Q) @ Q.T)


def eraser_hook(loaded: LoadedModel, layer: int, eraser):
    """Apply a fitted LEACE eraser (:func:`probing.erasure.fit_eraser`) to the residual stream after ``layer``."""
    import torch

    def erase(hidden):
        flat = hidden.reshape(-1, hidden.shape[-1]).detach().cpu().numpy()
        return torch.as_tensor(eraser(flat), dtype=hidden.dtype, device=hidden.device).reshape(hidden.shape)

    return edit_site(loaded, layer, erase)
