"""Start ``streamlit run app.py`` (or the hosted ``serve.py``) on a free loopback port with its own environment.

Also where the tests and benchmarks find Debian's Chromium for Playwright (:data:`CHROMIUM`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PROBING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's Chromium, driven headless by Playwright (its own browser download is not used);
``PROBING_CHROMIUM`` overrides the path."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, env: dict, *args: str, log: Path | None = None, script: str = "app.py") -> subprocess.Popen:
    """``streamlit run <script>`` on ``127.0.0.1:port`` (not yet healthy); ``args`` are extra CLI options.

    ``script="serve.py"`` serves the app as ``make serve`` hosts it (behind the upload gate).
    """
    out = open(log, "wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         *args], cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, server: subprocess.Popen, timeout_s: float = 120) -> None:
    """Wait until ``url``'s health check answers ``ok``; raise if the server exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode} before it was healthy")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit at {url} never became healthy in {timeout_s} s")


@contextmanager
def served_app(env: dict, *args: str, port: int | None = None, log: Path | None = None, script: str = "app.py"):
    """The app served on loopback by ``streamlit run <script>`` with ``env`` added; yields ``(url, process)``."""
    port = port or free_port()
    server = start_server(port, env, *args, log=log, script=script)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
