"""Widgets the pages share: pickers, a progress bar, downloads, error boxes and escaping typed text.

Pages stay thin: read widgets (helpers here), call one ``probing`` function, draw the result.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st
from safetensors.numpy import save as safetensors_bytes

from probing import ActivationSet, ProbingInputError

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def escape(text) -> str:
    """Text a person typed (a dataset, label, layer, result or user name) shown literally inside markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def dataset_caption(aset: ActivationSet) -> None:
    """One line naming the active dataset, its shape and fingerprint."""
    n, n_layers, d = aset.shape
    st.caption(f"Dataset **{escape(aset.name)}**: {n:,} samples x {n_layers} layers x {d} dims "
               f"({aset.acts.dtype}), fingerprint `{aset.fingerprint}`. Change it in the sidebar or on the Data page.")


def pick_layer(aset: ActivationSet, key: str, label: str = "Layer", default: int = -1) -> int:
    """A layer selectbox that follows the dataset's current layer (one per dataset, shared by all pages).

    Returns the layer index; choosing a layer here makes it the current layer.
    """
    from dashboard import state

    current = state.current_layer(aset)
    if current is not None:
        st.session_state[key] = current
    options = list(range(aset.n_layers))
    index = 0 if current is not None else default % aset.n_layers  # the session value rules; 0 keeps Streamlit quiet
    layer = st.selectbox(label, options, index=index, key=key,
                         format_func=lambda i: f"{i}: {aset.layers[i]}",
                         on_change=lambda: state.set_current_layer(aset, st.session_state[key]))
    state.set_current_layer(aset, layer)
    return layer


def pick_label(aset: ActivationSet, key: str, label: str = "Label", categorical: bool = True) -> str | None:
    """A label selectbox (categorical labels only by default); ``None`` with a note when there are none."""
    names = aset.categorical_labels() if categorical else list(aset.labels)
    if not names:
        st.info("This dataset has no categorical labels. Add labels on the Data page (a CSV side file) to probe it.")
        return None
    default = names.index("label") if "label" in names else 0
    return st.selectbox(label, names, index=default, key=key)


@contextmanager
def progress(text: str) -> Iterator[Callable[[float, str], None]]:
    """A progress bar for one long call; yields its ``progress(fraction, message)`` callback.

    The bar is removed when the block ends, also on error, so no finished job stays on screen.
    """
    slot = st.empty()
    bar = slot.progress(0.0, text=text)

    def report(fraction: float, message: str = "") -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{text} {message}".strip())

    try:
        yield report
    finally:
        slot.empty()


def download_csv(df: pd.DataFrame, filename: str, label: str = "Download data (CSV)", key: str | None = None) -> None:
    """A download button with ``df`` as CSV: every chart's data can be downloaded."""
    st.download_button(label, df.to_csv(index=False).encode(), file_name=filename, mime="text/csv",
                       key=key or f"dl-{filename}")


def download_npy(array: np.ndarray, filename: str, label: str = "Download (.npy)", key: str | None = None) -> None:
    """A download button with ``array`` saved as ``.npy`` (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    st.download_button(label, buffer.getvalue(), file_name=filename, mime="application/octet-stream",
                       key=key or f"dl-{filename}")


def download_safetensors(tensors: dict[str, np.ndarray], filename: str, label: str = "Download (.safetensors)",
                         key: str | None = None) -> None:
    """A download button with named arrays saved as ``.safetensors``."""
    data = safetensors_bytes({name: np.ascontiguousarray(array) for name, array in tensors.items()})
    st.download_button(label, data, file_name=filename, mime="application/octet-stream", key=key or f"dl-{filename}")


def show_input_error(exc: ProbingInputError) -> None:
    """Show a :class:`ProbingInputError` as an error box with its fix, never a traceback."""
    st.error(str(exc))
