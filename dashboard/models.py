"""Which transformers the pages may run, loaded once per server and shared by every session.

The bundled all-MiniLM-L6-v2 is always there. Whoever hosts the dashboard lists more in
``PROBING_MODELS`` (comma-separated local folders or Hugging Face ids, e.g.
``gpt2,/models/pythia-160m``). On a laptop (no login configured) the user may also type
any folder or id; on a hosted server only the listed models run, so nobody can make the
server read an arbitrary folder or download a model. A tiny random-weight GPT-2 is offered
as a demo of the decoder tools that needs no download (its text is gibberish by design).
"""

from __future__ import annotations

import os
import tempfile

import streamlit as st

from dashboard import auth, widgets
from probing import ProbingInputError
from probing.models import DEFAULT_MODEL_NAME, LoadedModel, load_model
from probing.tiny import make_tiny_model

MODELS_ENV = "PROBING_MODELS"
BUNDLED = f"{DEFAULT_MODEL_NAME} (bundled encoder)"
TINY = "tiny GPT-2 (random weights, offline demo)"
CUSTOM = "another model (folder or Hugging Face id) ..."


def listed_models() -> list[str]:
    """The folders and ids in ``PROBING_MODELS``."""
    return [part.strip() for part in os.environ.get(MODELS_ENV, "").split(",") if part.strip()]


@st.cache_resource(show_spinner="Loading the model (once per server) ...")
def shared_model(source: str | None) -> LoadedModel:
    """The model behind a choice, loaded once per process (``None``: the bundled MiniLM)."""
    if source == TINY:
        return load_model(make_tiny_model(tempfile.mkdtemp(prefix="probing-tiny-"), "gpt2", n_blocks=4, width=64))
    return load_model(source)


def pick_source(key: str, causal_only: bool = False) -> tuple[bool, str | None]:
    """A model picker that loads nothing: ``(chosen, source)``, ``source`` as :func:`shared_model` takes it.

    ``chosen`` is ``False`` while the user still has to type a folder or id.
    """
    options = ([] if causal_only else [BUNDLED]) + listed_models() + [TINY]
    if auth.mode() == auth.OPEN:
        options.append(CUSTOM)
    choice = st.selectbox("Model", options, key=key,
                          help=f"The server's models: the bundled encoder, those listed in `{MODELS_ENV}` by whoever "
                               "hosts the dashboard, and a tiny random-weight demo decoder.")
    if choice != CUSTOM:
        return True, None if choice == BUNDLED else choice
    source = st.text_input("Model folder or Hugging Face id", key=f"{key}_custom",
                           placeholder="/models/pythia-160m or gpt2").strip()
    if not source:
        st.info("Type a local folder (saved with `save_pretrained`) or a Hugging Face id from the local cache.")
    return bool(source), source


def open_model(source: str | None, causal_only: bool = False) -> LoadedModel | None:
    """The model :func:`pick_source` chose, loaded once per server; ``None`` with the reason shown if it cannot be."""
    try:
        loaded = shared_model(source)
    except ProbingInputError as exc:
        widgets.show_input_error(exc)
        return None
    if causal_only and not loaded.is_causal_lm:
        st.error(f"{widgets.escape(loaded.name)} is an encoder; this needs a causal language model (GPT-2, Pythia, "
                 "Llama, ...).")
        return None
    return loaded
