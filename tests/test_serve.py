"""The hosted server (``serve.py``): uploads only from sessions past the login, bounded in size and rate.

The attack from issue 15: a visitor who never logs in opens a websocket, reads its session id
from the first message and ``PUT``s files to ``/_stcore/upload_file/<session id>/<file id>`` with
a self-made XSRF cookie + header pair. Behind ``serve.py`` that is refused before the body is read.
"""

import io
import secrets
import socket
import time
import uuid
from contextlib import contextmanager

import httpx
import numpy as np
import psutil
import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from conftest import wait_for_app
from dashboard.local_server import served_app
from serve import UploadRate

TOKEN = secrets.token_urlsafe(32)
XSRF = "2|00000000|" + secrets.token_hex(32) + "|1700000000"
"""A self-made XSRF token (mask 0): Streamlit only checks that the cookie and the header decode to the same bytes."""


@contextmanager
def visitor_session(url: str):
    """A websocket session of a visitor who never logs in, open while the block runs; yields its session id."""
    with connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], origin=url) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        ws.send(back.SerializeToString())
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv(timeout=60))
        assert msg.WhichOneof("type") == "new_session"
        session_id = msg.new_session.initialize.session_id
        while msg.WhichOneof("type") != "script_finished":  # the first run (the login form) has done its imports
            msg.ParseFromString(ws.recv(timeout=120))
        yield session_id


def put_upload(url: str, session_id: str, data: bytes, name: str = "x.npy") -> httpx.Response | None:
    """``PUT`` one file as the Streamlit frontend does; ``None`` when the server closed the connection mid-body."""
    try:
        return httpx.put(f"{url}/_stcore/upload_file/{session_id}/{uuid.uuid4()}", files={"file": (name, data)},
                         headers={"X-Xsrftoken": XSRF}, cookies={"_streamlit_xsrf": XSRF}, timeout=120)
    except httpx.TransportError:
        return None


def rss_mb(server) -> float:
    return psutil.Process(server.pid).memory_info().rss / 2**20


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    env = {"PROBING_WORKSPACE": str(tmp_path_factory.mktemp("serve-ws")), "PROBING_ACCESS_TOKEN": TOKEN}
    with served_app(env, script="serve.py") as served:
        yield served


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    env = {"PROBING_WORKSPACE": str(tmp_path_factory.mktemp("serve-open")), "PROBING_ACCESS_TOKEN": "",
           "PROBING_UPLOADS_PER_MINUTE": "3"}
    with served_app(env, script="serve.py") as served:
        yield served


def test_a_visitor_who_never_logged_in_cannot_upload_and_the_server_does_not_grow(token_server):
    url, server = token_server
    with visitor_session(url) as session_id:
        before = rss_mb(server)
        statuses = []
        for _ in range(4):
            response = put_upload(url, session_id, bytes(64 * 2**20))
            statuses.append(None if response is None else response.status_code)
        delete = httpx.delete(f"{url}/_stcore/upload_file/{session_id}/x", headers={"X-Xsrftoken": XSRF},
                              cookies={"_streamlit_xsrf": XSRF})
        time.sleep(1)
        grown = rss_mb(server) - before
    assert set(statuses) <= {403, None} and 403 in statuses, statuses
    assert delete.status_code == 403 and "Log in first" in delete.text
    assert grown < 32, f"the server grew by {grown:.0f} MB on 256 MB of refused uploads"


def test_the_same_upload_passes_in_open_mode_and_the_rate_is_bounded(open_server):
    """Control: the self-made XSRF pair is good (open mode accepts it); a fourth file in a minute gets 429."""
    url, _ = open_server
    with visitor_session(url) as session_id, visitor_session(url) as other_session:
        statuses = [put_upload(url, session_id, b"small").status_code for _ in range(3)]
        refused = put_upload(url, session_id, b"small")
        other = put_upload(url, other_session, b"small")
    assert statuses == [204, 204, 204]
    assert refused.status_code == 429 and "Too many uploads from this session" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60 and "wait" in refused.text
    assert other.status_code == 204, "the bound is per session"


def test_upload_rate_window():
    now = [0.0]
    rate = UploadRate(max_files=2, max_bytes=100, window_s=60, clock=lambda: now[0])
    assert rate.admit("a", 40) == 0 and rate.admit("a", 40) == 0
    assert rate.admit("a", 1) == 60, "a third file waits for the first to leave the window"
    assert rate.admit("b", 90) == 0 and rate.admit("b", 20) == 60, "110 bytes > 100 per window"
    now[0] = 30.0
    assert rate.admit("a", 1) == 30
    now[0] = 60.0
    assert rate.admit("a", 40) == 0, "the first upload left the window"


def npy_bytes(n: int = 30, d: int = 5) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).standard_normal((n, d)).astype(np.float32))
    return buffer.getvalue()


@pytest.mark.browser
def test_a_logged_in_session_still_uploads(token_server, browser, tmp_path):
    url, _ = token_server
    path = tmp_path / "mine.npy"
    path.write_bytes(npy_bytes())
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{url}/data")
        wait_for_app(page)
        page.get_by_label("Your name").fill("Ada")
        page.get_by_label("Access token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("text=Logged in as", timeout=60_000)
        wait_for_app(page)
        page.get_by_role("tab", name="Upload").click()
        page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
        page.get_by_text("is now active and saved in the workspace").wait_for(timeout=60_000)
        assert "30 samples · 1 layers · d = 5" in page.inner_text("[data-testid='stSidebar']")
    finally:
        context.close()


def test_identity_cookie_must_be_signed_with_the_secret_and_say_logged_in(monkeypatch):
    import json

    from starlette.requests import Request
    from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

    import serve

    monkeypatch.setattr(serve, "get_cookie_secret", lambda: "the-secret")

    def request(cookie: bytes | None) -> Request:
        headers = [] if cookie is None else [(b"cookie", b"_streamlit_user=" + cookie)]
        return Request({"type": "http", "method": "PUT", "path": "/", "headers": headers})

    def signed(payload: dict, secret: str = "the-secret") -> bytes:
        return create_signed_value(secret, "_streamlit_user", json.dumps(payload))

    ada = {"is_logged_in": True, "sub": "u-1", "origin": "http://x"}
    assert serve.identity_cookie_valid(request(signed(ada)))
    assert not serve.identity_cookie_valid(request(None))
    assert not serve.identity_cookie_valid(request(signed(ada, secret="forged")))
    assert not serve.identity_cookie_valid(request(signed({**ada, "is_logged_in": False})))
    cookie = signed(ada)
    assert not serve.identity_cookie_valid(request(cookie[:5] + bytes([cookie[5] ^ 1]) + cookie[6:])), "tampered"


def raw_put_status(url: str, path: str, headers: str) -> int:
    """The status line's code for a ``PUT`` with hand-written headers and no body (what a script can send)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
        return int(sock.recv(1024).split(b" ")[1])


def test_an_upload_must_state_its_size_within_the_limit(open_server):
    url, _ = open_server
    with visitor_session(url) as session_id:
        path = f"/_stcore/upload_file/{session_id}/f1"
        assert raw_put_status(url, path, "Transfer-Encoding: chunked\r\n") == 411
        assert raw_put_status(url, path, f"Content-Length: {5 * 2**30}\r\n") == 413
