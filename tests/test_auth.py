"""The login gate through AppTest: open mode, shared-token mode and the OIDC gate (st.user seeded)."""

import hmac

import pytest
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from dashboard import auth, widgets
from conftest import ROOT

TOKEN = "correct horse battery staple, 32+ chars"
SECRETS_TOKEN = "from-secrets-" + "x" * 32



@pytest.fixture(autouse=True)
def _no_failed_logins():
    """Failed logins of earlier tests (all from the same loopback 'address') do not make this one wait."""
    auth.THROTTLE.clear()
    yield
    auth.THROTTLE.clear()


def app(page: str | None = None) -> AppTest:
    """The app (on ``dashboard/views/<page>.py`` if given, else its default page), before anything is submitted.

    AppTest drops the sidebar drawn by ``app.py`` after ``switch_page``, so tests of the
    sidebar stay on the default page.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if page is not None:
        at.switch_page(f"dashboard/views/{page}.py")
    return at


def sees_data(at: AppTest) -> bool:
    """Whether anything of the app past the gate ran: session state, sidebar picker, page widgets."""
    return ("dataset" in at.session_state or bool(at.metric) or bool(at.dataframe) or bool(at.tabs)
            or bool(at.sidebar.selectbox))


def token_login(at: AppTest, name: str, token: str) -> AppTest:
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_token").input(token)
    return at.button[0].click().run()


def test_open_mode_says_so_in_the_sidebar(monkeypatch):
    monkeypatch.delenv("PROBING_ACCESS_TOKEN", raising=False)
    at = app().run()
    assert not at.exception and sees_data(at)
    assert auth.OPEN_NOTE in [c.value for c in at.sidebar.caption]
    assert "auth_user" not in at.session_state


def test_token_mode_wrong_token_shows_an_error_and_no_page(monkeypatch):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    at = app().run()
    assert not at.exception and not sees_data(at)
    assert at.text_input(key="auth_token").proto.type == TextInputProto.PASSWORD
    token_login(at, "Ada", TOKEN[:-1] + "X")
    assert not at.exception and not sees_data(at)
    assert [e.value for e in at.error] == ["Wrong access token. Ask whoever hosts this dashboard for the current one."]
    token_login(at, "Ada", "")
    assert not sees_data(at) and "Wrong access token" in at.error[0].value


def test_token_mode_right_token_renders_the_page_and_records_the_name(monkeypatch):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    at = token_login(app("data").run(), "Ada", TOKEN)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sees_data(at) and at.metric, "the Data page rendered"

    at = token_login(app().run(), "  Ada Lovelace ", TOKEN)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["auth_user"] == "Ada Lovelace"
    assert "auth_token" not in at.session_state, "the token is not kept in session state"
    assert any("Ada Lovelace" in m.value for m in at.sidebar.markdown)

    at.sidebar.button(key="auth_logout").click().run()
    assert not sees_data(at) and "auth_user" not in at.session_state
    assert at.text_input(key="auth_token")


@pytest.mark.parametrize("name", ["", "   ", "../../etc", "<script>alert(1)</script>"])
def test_token_mode_needs_a_usable_name(monkeypatch, name):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    at = app()
    at.run()
    at.text_input(key="auth_name").set_value(name)
    at.text_input(key="auth_token").input(TOKEN)
    at.button[0].click().run()
    assert not sees_data(at) and "Enter your name" in at.error[0].value


def test_token_from_secrets_toml(monkeypatch):
    monkeypatch.delenv("PROBING_ACCESS_TOKEN", raising=False)
    at = app()
    at.secrets["probing"] = {"access_token": SECRETS_TOKEN}
    at.run()
    assert not sees_data(at) and at.text_input(key="auth_token")
    token_login(at, "Grace", SECRETS_TOKEN)
    assert sees_data(at) and at.session_state["auth_user"] == "Grace"


OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "a" * 32, "client_id": "probing",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


def test_oidc_mode_shows_only_a_login_button_until_the_provider_says_who_you_are(monkeypatch):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)  # OIDC wins over the shared token
    at = app("data")
    at.secrets["auth"] = dict(OIDC)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception and not sees_data(at)
    assert [b.label for b in at.button] == ["Log in"] and not at.text_input

    at.user = {"is_logged_in": True, "name": "Ada Lovelace", "email": "ada@example.org", "sub": "1"}
    at.run()
    assert not at.exception and sees_data(at) and at.metric

    at = app()
    at.secrets["auth"] = dict(OIDC)
    at.user = {"is_logged_in": True, "name": "Ada Lovelace", "email": "ada@example.org", "sub": "1"}
    at.run()
    assert any("Ada Lovelace" in m.value for m in at.sidebar.markdown)
    assert at.sidebar.button(key="auth_logout").label == "Log out"


def test_oidc_mode_with_a_missing_key_fails_closed(monkeypatch):
    monkeypatch.delenv("PROBING_ACCESS_TOKEN", raising=False)
    at = app()
    at.secrets["auth"] = {k: v for k, v in OIDC.items() if k != "cookie_secret"}
    at.user = {"is_logged_in": True, "name": "Ada"}
    at.run()
    assert not sees_data(at)
    assert "cookie_secret" in at.error[0].value


def test_constant_time_token_check(monkeypatch):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert auth._check_token_login("Ada", TOKEN) is None
    assert "Wrong access token" in auth._check_token_login("Ada", TOKEN + " ")
    assert "Wrong access token" in auth._check_token_login("Ada", "ünïcode")
    # every check, right or wrong, went through hmac.compare_digest on the bytes (no early-exit ==)
    expected = TOKEN.encode()
    assert calls == [(TOKEN.encode(), expected), ((TOKEN + " ").encode(), expected), ("ünïcode".encode(), expected)]


@pytest.mark.parametrize("token", ["short", "x" * (auth.MIN_TOKEN_CHARS - 1)])
def test_a_short_token_locks_the_dashboard_and_says_how_to_make_one(monkeypatch, token):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", token)
    at = app().run()
    assert not at.exception and not sees_data(at) and not at.text_input
    assert "shorter than 32 characters" in at.error[0].value and auth.MAKE_TOKEN in at.error[0].value
    assert auth.gate() == auth.LOCKED and not auth.is_logged_in()


def test_wrong_tokens_back_off_and_even_the_right_token_waits(monkeypatch):
    monkeypatch.setenv("PROBING_ACCESS_TOKEN", TOKEN)
    at = app().run()
    messages = []
    for _ in range(auth.THROTTLE.free_attempts + 1):
        token_login(at, "Mallory", "guess")
        messages.append(at.error[0].value)
    assert all(m.startswith("Wrong access token") for m in messages[:-1]), messages
    assert messages[-1].startswith("Too many wrong tokens: wait") and messages[-1].endswith(" s before trying again.")
    token_login(at, "Ada", TOKEN)
    assert not sees_data(at) and "Too many wrong tokens" in at.error[0].value, "the token is not even checked"

    fresh = app().run()  # a new session from the same address waits too
    token_login(fresh, "Ada", TOKEN)
    assert not sees_data(fresh) and "Too many wrong tokens" in fresh.error[0].value


def test_login_throttle_doubles_the_wait_and_forgets_on_success():
    now = [0.0]
    throttle = auth.LoginThrottle(free_attempts=3, max_wait_s=300, clock=lambda: now[0])
    waits = []
    for _ in range(14):
        throttle.fail("session:a", "address:1.2.3.4")
        waits.append(throttle.wait_s("session:a"))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    now[0] = 100.0
    assert throttle.wait_s("session:b", "address:1.2.3.4") == 200, "another session from that address waits"
    assert throttle.wait_s("session:b", "address:5.6.7.8") == 0
    throttle.succeed("session:a", "address:1.2.3.4")
    assert throttle.wait_s("session:a", "address:1.2.3.4") == 0


def test_oidc_owner_is_the_verified_identity_not_the_display_name(monkeypatch):
    monkeypatch.delenv("PROBING_ACCESS_TOKEN", raising=False)
    iss = "https://idp.example.org"
    alice_1 = {"is_logged_in": True, "name": "Alice Smith", "sub": "1", "iss": iss}
    alice_2 = {"is_logged_in": True, "name": "Alice Smith", "sub": "2", "iss": iss,
               "email": "alice2@example.org", "email_verified": True}
    assert auth.identity(alice_1) == f"1 ({iss})"
    assert auth.identity(alice_2) == "alice2@example.org"
    assert auth.identity({**alice_2, "email_verified": False}) == f"2 ({iss})", "an unverified email owns nothing"
    assert auth.identity({**alice_2, "email": "x (y)@z"}) == f"2 ({iss})"

    at = app()
    at.secrets["auth"] = dict(OIDC)
    at.user = alice_1
    at.run()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Alice Smith" in sidebar
    assert widgets.escape(f"1 ({iss})") in sidebar, sidebar
