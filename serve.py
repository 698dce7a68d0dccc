"""Serve the dashboard for a team: Streamlit's ASGI app behind an upload gate.

``make serve`` and the Docker image run ``streamlit run serve.py``: Streamlit finds the
``st.App`` below and serves it with uvicorn (``uvicorn serve:app`` works too). The pages are
the same as ``streamlit run app.py``; what changes is the HTTP side. Streamlit's upload route
(``PUT``/``DELETE /_stcore/upload_file/<session id>/<file id>``) never runs the script, so the
login gate in ``app.py`` cannot protect it. :class:`UploadGate` does:

- with a login configured, an upload from a session the gate has not admitted (token mode:
  :func:`dashboard.auth.is_admitted`; OIDC: that, plus Streamlit's signed identity cookie) is
  refused with 403 before a byte of its body is read; a broken login configuration refuses all;
- every upload must state its size (``Content-Length``, 411 otherwise) within
  ``server.maxUploadSize`` (413), and a session may send at most :data:`UPLOADS_PER_MINUTE`
  files and :data:`UPLOAD_MB_PER_MINUTE` MB a minute (429 with the wait).

With no login configured (a laptop) uploads pass the login check but keep the bounds. Run it
without a file watcher (``--server.fileWatcherType none``, as ``make serve`` does): a watcher
that reloads ``dashboard.auth`` after an edit would leave this gate reading the old registry, so
uploads are refused (it fails closed) until the server restarts.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from streamlit import config
from streamlit.auth_util import get_cookie_with_chunks
from streamlit.web.server.server_util import get_cookie_secret
from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
from streamlit.web.server.starlette.starlette_server_config import USER_COOKIE_NAME

from dashboard import auth

UPLOADS_PER_MINUTE = int(os.environ.get("PROBING_UPLOADS_PER_MINUTE", "30"))
"""Files one session may upload per minute (``PROBING_UPLOADS_PER_MINUTE``)."""
UPLOAD_MB_PER_MINUTE = float(os.environ.get("PROBING_UPLOAD_MB_PER_MINUTE", "2048"))
"""Megabytes one session may upload per minute (``PROBING_UPLOAD_MB_PER_MINUTE``)."""
MULTIPART_OVERHEAD = 2**20
"""Bytes a multipart body may carry beyond its file (boundaries, part headers), as Streamlit allows."""
UPLOAD_PATH = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)/[^/]+/?$")


def identity_cookie_valid(request: Request) -> bool:
    """Whether ``request`` carries Streamlit's signed identity cookie of a logged-in user."""
    secret = get_cookie_secret()

    def signed(name: str) -> bytes | None:
        raw = request.cookies.get(name)
        return None if raw is None else decode_signed_value(secret, name, raw.encode("latin-1"))

    try:
        value = get_cookie_with_chunks(signed, USER_COOKIE_NAME)
        return value is not None and json.loads(value).get("is_logged_in") is True
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


class UploadRate:
    """Uploads per session in a sliding window: how many files and bytes, and how long until the next fits.

    Parameters
    ----------
    max_files, max_bytes : int
        What one session may upload per ``window_s``.
    window_s : float
        The window, seconds.
    clock : callable
        Seconds, monotonic.
    """

    def __init__(self, max_files: int, max_bytes: int, window_s: float = 60.0, clock=time.monotonic):
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.window_s = window_s
        self.clock = clock
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def admit(self, session_id: str, n_bytes: int) -> float:
        """Record an upload of ``n_bytes`` and return 0, or return the seconds to wait (nothing recorded)."""
        now = self.clock()
        with self._lock:
            for key in [k for k, events in self._events.items() if not events or now - events[-1][0] >= self.window_s]:
                del self._events[key]
            events = self._events.setdefault(session_id, deque())
            while events and now - events[0][0] >= self.window_s:
                events.popleft()
            used = sum(size for _, size in events)
            if len(events) < self.max_files and used + n_bytes <= self.max_bytes:
                events.append((now, n_bytes))
                return 0.0
            return max(events[0][0] + self.window_s - now, 1.0) if events else self.window_s


class UploadGate:
    """ASGI middleware: upload ``PUT``/``DELETE`` only from sessions past the login gate, within size and rate.

    Parameters
    ----------
    app : ASGI app
        Streamlit's app.
    rate : UploadRate, optional
        The per-session bounds (default: :data:`UPLOADS_PER_MINUTE`, :data:`UPLOAD_MB_PER_MINUTE`).
    """

    def __init__(self, app, rate: UploadRate | None = None):
        self.app = app
        self.rate = rate or UploadRate(UPLOADS_PER_MINUTE, int(UPLOAD_MB_PER_MINUTE * 2**20))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in ("PUT", "DELETE") and "upload_file" in scope["path"]:
            refusal = self.refusal(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> PlainTextResponse | None:
        """The response refusing this upload request, or ``None`` to pass it on (its body still unread)."""
        match = UPLOAD_PATH.search(request.url.path)
        if match is None:
            return PlainTextResponse("Not an upload address.", status_code=404)
        session_id = match["session"]
        login = auth.gate()
        if login == auth.LOCKED:
            return PlainTextResponse("The login is misconfigured, so nobody may upload; the dashboard says how to "
                                     "fix it.", status_code=403)
        if login != auth.OPEN and not auth.is_admitted(session_id):
            return PlainTextResponse("Log in first: this session has not passed the login.", status_code=403)
        if login == auth.OIDC and not identity_cookie_valid(request):
            return PlainTextResponse("Log in first: no valid login cookie came with this upload.", status_code=403)
        if request.method == "DELETE":
            return None
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return PlainTextResponse("An upload must state its size (Content-Length).", status_code=411)
        limit_mb = config.get_option("server.maxUploadSize")
        if int(length) > limit_mb * 2**20 + MULTIPART_OVERHEAD:
            return PlainTextResponse(f"The upload is over the {limit_mb} MB limit.", status_code=413)
        wait = self.rate.admit(session_id, int(length))
        if wait > 0:
            return PlainTextResponse(
                f"Too many uploads from this session (at most {self.rate.max_files} files and "
                f"{self.rate.max_bytes / 2**20:.0f} MB per {self.rate.window_s:.0f} s): wait {wait:.0f} s.",
                status_code=429, headers={"Retry-After": f"{wait:.0f}"})
        return None


app = st.App("app.py", middleware=[Middleware(UploadGate)])
