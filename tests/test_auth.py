"""The login gate through AppTest: open mode, shared-token mode and the OIDC gate (st.user seeded)."""

import pytest
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from dashboard import auth
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
    assert auth._check_token_login("Ada", TOKEN) is None
    assert "Wrong access token" in auth._check_token_login("Ada", TOKEN + " ")
    assert "Wrong access token" in auth._check_token_login("Ada", "ünïcode")
