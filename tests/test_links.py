"""Share links: the URL carries the dataset and a page's widget values; a link reopens the view."""

import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import links
from probing.store import Workspace
from probing.synthetic import make_concept_embeddings

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_link(params: dict, page: str | None = "steering") -> AppTest:
    """Open the app with a link's query parameters, then (optionally) go to ``page`` as the link's path would."""
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"dashboard/views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_writes_its_view_into_the_url(page_runner):
    at = page_runner("steering")
    at.selectbox(key="steer_layer").set_value(1).run()
    assert at.query_params["dataset"] == at.session_state["dataset"].fingerprint
    assert at.query_params["steer_layer"] == "1"


def test_link_reopens_a_saved_dataset_and_view(_workspace):
    aset, _ = make_concept_embeddings(n_samples=200, d=8, n_layers=3, seed=11, name="linked synthetic")
    Workspace(_workspace).add_dataset(aset)
    at = open_link({"dataset": aset.fingerprint, "steer_layer": "2", "steer_method": '"probe"'})
    assert at.session_state["dataset"].fingerprint == aset.fingerprint
    assert at.selectbox(key="steer_layer").value == 2
    assert at.selectbox(key="steer_method").value == "probe"
    assert not at.warning


def test_unknown_dataset_in_a_link_gives_a_clear_message():
    at = open_link({"dataset": "0123456789abcdef"}, page=None)
    assert any("not in this workspace" in w.value for w in at.warning)
    assert not at.error


_OPENED = []  # paths opened while a test listens (audit hooks cannot be removed, so one hook appends here)


def _record_open(event, args):
    if event == "open" and _LISTENING:
        _OPENED.append(str(args[0]))


_LISTENING = False
sys.addaudithook(_record_open)


def test_malformed_dataset_id_is_refused_without_touching_files(monkeypatch, _workspace):
    global _LISTENING
    looked_up = []
    monkeypatch.setattr(links, "find_dataset", lambda fingerprint: looked_up.append(fingerprint))
    before = sorted(p.relative_to(_workspace) for p in _workspace.rglob("*")) if _workspace.exists() else []
    _OPENED.clear()
    _LISTENING = True
    try:
        at = open_link({"dataset": "../../etc/passwd"}, page=None)
    finally:
        _LISTENING = False
    assert any("not a dataset fingerprint" in w.value for w in at.warning)
    assert looked_up == [], "the malformed id reached the dataset lookup"
    touched = [p for p in _OPENED if "passwd" in p]
    assert not touched, touched
    after = sorted(p.relative_to(_workspace) for p in _workspace.rglob("*")) if _workspace.exists() else []
    assert after == before


def test_values_that_do_not_fit_are_reset_with_a_message():
    at = open_link({"steer_alpha_range": "[-40, 99]"})
    assert any("reset to defaults" in w.value for w in at.warning)
    assert at.select_slider(key="steer_alpha_range").value == (-2, 2)
