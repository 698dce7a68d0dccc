"""Widgets the pages share: pickers, a progress bar, downloads, error boxes and escaping typed text.

Pages stay thin: read widgets (helpers here), call one ``probing`` function, draw the result.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.auth import session_id
from dashboard.text import escape
from probing import ActivationSet, ProbingInputError
from probing.directions import drop_zero
from probing.io import csvsafe
from probing.io.writers import safetensors_bytes

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


class Busy:
    """Which sessions have a heavy computation running, and in which thread (re-entrant per thread)."""

    def __init__(self):
        self._owners: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def claim(self, session: str, thread: int) -> bool:
        """Mark ``session`` busy in ``thread``; ``False`` if another thread of that session holds it."""
        with self._lock:
            owner, depth = self._owners.get(session, (thread, 0))
            if owner != thread:
                return False
            self._owners[session] = (thread, depth + 1)
            return True

    def release(self, session: str) -> None:
        """Undo one :meth:`claim`."""
        with self._lock:
            owner, depth = self._owners[session]
            if depth > 1:
                self._owners[session] = (owner, depth - 1)
            else:
                del self._owners[session]


BUSY = Busy()
"""Heavy computations running in this server process, per session."""
BUSY_WAIT_S = 2.0
"""How long a new run waits for the session's previous computation to stop before saying it is running."""


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """At most one heavy computation per session: run the block, or say one is running and stop the run.

    A click while a computation runs starts a new script run in a new thread (Streamlit's fast
    reruns) while the old one finishes its numpy call; without this each click would add one
    more computation. The new run waits :data:`BUSY_WAIT_S` for the old one to stop at its next
    progress report, then gives up with a message. :func:`progress` calls it, so every long call
    with a progress bar is covered.
    """
    session, thread = session_id() or "no session", threading.get_ident()
    deadline = time.monotonic() + BUSY_WAIT_S
    while not BUSY.claim(session, thread):
        if time.monotonic() >= deadline:
            st.warning("A computation you started is still running (one at a time per session, so the server "
                       "stays usable for everyone). Wait until it finishes, then try again.")
            st.stop()
        time.sleep(0.05)
    try:
        yield
    finally:
        BUSY.release(session)


@contextmanager
def progress(text: str) -> Iterator[Callable[[float, str], None]]:
    """A progress bar for one long call (one at a time per session); yields its ``progress(fraction, message)``.

    The bar is removed when the block ends, also on error, so no finished job stays on screen.
    """
    with one_at_a_time():
        slot = st.empty()
        bar = slot.progress(0.0, text=text)

        def report(fraction: float, message: str = "") -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{text} {message}".strip())

        try:
            yield report
        finally:
            slot.empty()


def download_csv(df: pd.DataFrame, filename: str, label: str = "Download data (CSV)", key: str | None = None) -> None:
    """A download button with ``df`` as CSV (formula-like text neutralised): every chart's data can be downloaded."""
    st.download_button(label, csvsafe.to_csv(df).encode(), file_name=filename, mime="text/csv",
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
    data = safetensors_bytes(tensors)
    st.download_button(label, data, file_name=filename, mime="application/octet-stream", key=key or f"dl-{filename}")


def drop_zero_directions(directions: dict) -> dict:
    """``directions`` without its zero vectors (:func:`probing.directions.drop_zero`), with a note naming them."""
    kept, zero = drop_zero(directions)
    if zero:
        st.info(f"Left out {len(zero)} zero vector(s), which have no direction (e.g. the class means coincide in this "
                f"layer): {escape(', '.join(zero[:5]))}{' ...' if len(zero) > 5 else ''}.")
    return kept


def show_input_error(exc: ProbingInputError) -> None:
    """Show a :class:`ProbingInputError` as an error box with its fix, never a traceback.

    The message is escaped as a whole: it often quotes what a user typed or uploaded (a file,
    dataset, label or path name), which must show literally.
    """
    st.error(escape(str(exc)))


def asked_for(key: str, label: str, what: str) -> bool:
    """A switch for work a page does not do on opening; ``True`` once the user has turned it on.

    While it is off the page shows ``what`` (what the switch computes, and about how long it
    takes) under it. It is a widget: declare ``key`` in the page's :func:`dashboard.links.share`,
    so a share link opens with the result drawn and the page keeps the switch for the dataset
    when the user comes back; a changed setting then recomputes at once.
    """
    on = st.toggle(label, value=False, key=key)
    if not on:
        st.caption(what)
    return on
