"""Shared fixtures: a throwaway workspace for every test, and an AppTest runner for pages.

Under ``CI=true`` a skipped test fails with its reason (a CI run that silently drops the browser or
model tests is not green); elsewhere, e.g. on a laptop without Chromium, it skips and says why.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dashboard.local_server import CHROMIUM  # noqa: E402


def skips_fail() -> bool:
    """True under CI (``CI=true``), where every skip is a failure."""
    return os.environ.get("CI") == "true"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)


def _fail_skip(report) -> None:
    if report.skipped and skips_fail() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"CI=true does not allow skips: {_skip_reason(report)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    _fail_skip(report)
    return report


@pytest.fixture(autouse=True)
def _workspace(tmp_path, monkeypatch):
    """Every test gets its own empty workspace directory."""
    monkeypatch.setenv("PROBING_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("PROBING_ACCESS_TOKEN", raising=False)
    return tmp_path / "workspace"


def run_page(page: str, timeout: float = 180, setup=None):
    """Run ``app.py``, switch to ``dashboard/views/<page>.py`` and return the finished ``AppTest``.

    ``setup(at)`` may change session state before the page runs. Fails on any
    exception or error box.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    if setup is not None:
        setup(at)
    at.switch_page(f"dashboard/views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def chart_frames(at) -> list:
    """The data of every Altair chart on a finished ``AppTest`` page, one DataFrame per dataset, in page order."""
    import pyarrow as pa

    return [pa.ipc.open_stream(dataset.data.data).read_pandas()
            for chart in [*at.get("arrow_vega_lite_chart"), *at.get("vega_lite_chart")]
            for dataset in chart.proto.datasets]


@pytest.fixture
def page_runner():
    return run_page


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory):
    """The app served by ``streamlit run`` on a free loopback port (for browser tests)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is missing: install Debian's chromium (apt-get install chromium) to run browser tests")
    from dashboard.local_server import served_app

    with served_app({"PROBING_WORKSPACE": str(tmp_path_factory.mktemp("browser-workspace"))}) as (url, _):
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is missing: install Debian's chromium (apt-get install chromium) to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield b
        b.close()


def wait_for_app(page, timeout_ms: int = 180_000) -> None:
    """Wait until the Streamlit script has started and finished its run."""
    try:
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=3_000)
    except Exception:
        pass
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


def open_page(page, url: str, title: str) -> None:
    """Open the app at ``url`` (its first run is ``app.py``), then go to the page titled ``title`` in the sidebar."""
    page.goto(url)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_app(page)


@pytest.fixture
def downloads(monkeypatch):
    """The data of every download button drawn, by key (AppTest has no media server to fetch it from)."""
    import streamlit as st

    captured = {}
    original = st.download_button

    def recording(label, data, *args, **kwargs):
        captured[kwargs.get("key")] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    return captured
