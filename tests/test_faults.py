"""Faults at the server level: ``streamlit run`` killed while it saves, and a damaged workspace file.

``tests/test_store.py`` kills a plain process at chosen points inside ``Workspace``; here
the real server is SIGKILLed while a browser session's "Generate and open" is writing a
large dataset, then a fresh server must show exactly what was saved before, and a file
damaged on disk must be reported on the Data page without breaking the rest.
"""

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import wait_for_app
from probing.store import Workspace
from dashboard.local_server import free_port, served_app

pytestmark = pytest.mark.browser


def open_generate_tab(page, url: str) -> None:
    page.goto(url)  # a fresh server's first run must be app.py (see test_browser_login.py)
    wait_for_app(page)
    page.goto(f"{url}/data")
    wait_for_app(page)
    page.get_by_role("tab", name="Generate").click()


def generate(page, seed: int, big: bool = False) -> None:
    """Fill the Generate form (all sliders at their maximum when ``big``) and submit it."""
    form = page.locator("[data-testid='stForm']")
    if big:
        for thumb in form.get_by_role("slider").all()[:4]:  # samples, dims, concepts, layers
            thumb.focus()
            thumb.press("End")
    seed_box = form.get_by_label("Seed")
    seed_box.fill(str(seed))
    seed_box.press("Tab")
    form.get_by_role("button", name="Generate and open").click()


def workspace_tab(page):
    page.get_by_role("tab", name="Workspace").click()
    return page.get_by_role("tabpanel", name="Workspace")


def open_button(page):
    """The workspace's "Open" button (not the selectbox's arrow, also labelled "Open")."""
    return workspace_tab(page).get_by_test_id("stBaseButton-primary").filter(has_text="Open")


def catalogue(root: Path) -> list[str]:
    with sqlite3.connect(root / "catalogue.sqlite") as db:
        return [fp for (fp,) in db.execute("SELECT fingerprint FROM datasets")]


def kill_when_writing(server, datasets_dir: Path, timeout_s: float = 120) -> threading.Thread:
    """SIGKILL ``server`` as soon as a temporary dataset file appears (a write in progress)."""
    def watch():
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and server.poll() is None:
            if any(p.suffix == ".tmp" for p in datasets_dir.iterdir()):
                os.kill(server.pid, signal.SIGKILL)
                return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_server_killed_while_saving_loses_nothing_and_leaves_no_half_entry(tmp_path, browser):
    root = tmp_path / "workspace"
    env = {"PROBING_WORKSPACE": str(root), "PROBING_ACCESS_TOKEN": ""}
    context = browser.new_context()
    page = context.new_page()
    try:
        with served_app(env) as (url, server):
            open_generate_tab(page, url)
            generate(page, seed=1)
            page.get_by_text("is now active and saved").wait_for(timeout=60_000)
            saved = catalogue(root)
            assert len(saved) == 1

            watcher = kill_when_writing(server, root / "datasets")
            generate(page, seed=2, big=True)
            watcher.join(timeout=150)
            assert server.wait(timeout=30) == -signal.SIGKILL, "the server was killed mid-write"

        assert catalogue(root) == saved, "no entry for the write that was cut off"
        final = {p.name for p in (root / "datasets").iterdir() if not p.name.startswith(".")}
        assert final == {f"{saved[0]}.safetensors", f"{saved[0]}.json"}, "no half-written file under a final name"
        assert Workspace(root).load_dataset(saved[0]).fingerprint == saved[0], "the saved dataset is intact"

        with served_app(env) as (url, _):
            open_generate_tab(page, url)
            open_button(page).click()
            page.get_by_text("is now active.").wait_for(timeout=60_000)
            assert page.locator("[data-testid='stException']").count() == 0
        leftovers = [p for p in (root / "datasets").iterdir() if p.suffix == ".tmp"]
        assert leftovers, "the kill left the cut-off temporary file behind (else the cleanup below checks nothing)"
        Workspace(root, orphan_age_s=0)
        assert [p for p in leftovers if p.exists()] == [], "the cut-off temporary file is cleaned up"
    finally:
        context.close()


def test_damaged_workspace_file_is_reported_and_the_rest_still_works(tmp_path, browser):
    root = tmp_path / "workspace"
    env = {"PROBING_WORKSPACE": str(root), "PROBING_ACCESS_TOKEN": ""}
    context = browser.new_context()
    page = context.new_page()
    try:
        with served_app(env, port=free_port()) as (url, _):
            open_generate_tab(page, url)
            generate(page, seed=3)
            page.get_by_text("is now active and saved").wait_for(timeout=60_000)
            (damaged,) = catalogue(root)
            path = root / "datasets" / f"{damaged}.safetensors"
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

            page.reload()
            wait_for_app(page)
            assert open_button(page).is_disabled(), "a damaged entry cannot be opened"
            page.get_by_role("tab", name="Generate").click()
            generate(page, seed=4)
            page.get_by_text("is now active and saved").wait_for(state="attached", timeout=60_000)
            assert len(catalogue(root)) == 2
            assert page.locator("[data-testid='stException']").count() == 0
            assert [e.ok for e in Workspace(root).list_datasets()] == [True, False]
    finally:
        context.close()
