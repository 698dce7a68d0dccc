"""The login gate: who may see the dashboard, and who they are.

Three modes, chosen from the configuration (first match wins):

``"oidc"``
    An ``[auth]`` section in ``.streamlit/secrets.toml`` (``redirect_uri``, ``cookie_secret``,
    ``client_id``, ``client_secret``, ``server_metadata_url``): Streamlit's ``st.login`` sends
    the user to the team's OpenID Connect provider; ``st.user`` holds who came back.
``"token"``
    A shared access token for a small lab, from the ``PROBING_ACCESS_TOKEN`` environment
    variable or ``access_token`` under ``[probing]`` in ``secrets.toml``. The user types a
    name and the token; the name is recorded with what they save (it is not verified:
    everyone who has the token is trusted).
``"open"``
    Nothing configured: no login, as on a laptop, and the sidebar says so.

``app.py`` calls :func:`require_login` before any session state or page exists, so with a
login configured nobody sees a page or data before logging in. Pages call
:func:`current_user` to record who uploaded or saved something.
"""

from __future__ import annotations

import hmac
import importlib.util
import os
import re

import streamlit as st

from dashboard.widgets import escape

OPEN, TOKEN, OIDC = "open", "token", "oidc"
OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
OPEN_NOTE = "open: no login configured (fine on a laptop; configure login before hosting)"
_USER_KEY = "auth_user"
_NAME = re.compile(r"[\w .@'-]{1,64}")


def _secrets_section(name: str) -> dict:
    """One section of ``secrets.toml`` as a dict; empty when there is no secrets file or section."""
    section = st.secrets.get(name) if st.secrets.load_if_toml_exists() else None
    return section.to_dict() if hasattr(section, "to_dict") else dict(section or {})


def _unreadable_secrets() -> list[str]:
    """Secrets files that exist but could not be parsed (the login they configure must not fail open)."""
    if st.secrets.load_if_toml_exists():
        return []
    return [path for path in st.get_option("secrets.files") if os.path.isfile(path)]


def access_token() -> str | None:
    """The shared token: ``PROBING_ACCESS_TOKEN``, else ``[probing] access_token`` in secrets; ``None`` if unset."""
    token = os.environ.get("PROBING_ACCESS_TOKEN") or _secrets_section("probing").get("access_token")
    return str(token) if token else None


def mode() -> str:
    """``"oidc"`` when an ``[auth]`` section exists, else ``"token"`` when a token is set, else ``"open"``."""
    if _secrets_section("auth"):
        return OIDC
    return TOKEN if access_token() else OPEN


def is_logged_in() -> bool:
    """Whether this session may see the pages (always true in open mode)."""
    current = mode()
    if current == OIDC:
        return bool(st.user.get("is_logged_in", False))
    if current == TOKEN:
        return bool(st.session_state.get(_USER_KEY))
    return True


def current_user() -> str | None:
    """Who is logged in, for the ``owner`` of what they save; ``None`` in open mode or before login.

    OIDC: the provider's ``name`` claim, else ``email``, else ``sub``. Token mode: the name
    typed at login.
    """
    current = mode()
    if current == OIDC:
        if not st.user.get("is_logged_in", False):
            return None
        for claim in ("name", "email", "preferred_username", "sub"):
            if st.user.get(claim):
                return str(st.user.get(claim))
        return None
    if current == TOKEN:
        return st.session_state.get(_USER_KEY)
    return None


def navigation_position() -> str:
    """Where ``st.navigation`` draws its menu: hidden until the user is logged in."""
    return "sidebar" if is_logged_in() else "hidden"


def require_login() -> None:
    """Show the login screen and stop the run unless the session is logged in; else draw who is logged in.

    Call it in ``app.py`` after ``st.navigation`` (so a shared link keeps its page and query
    through the login) and before any session state, sidebar or page is drawn.
    """
    broken = _unreadable_secrets()
    if broken:
        st.title("probing")
        st.error(f"The secrets file {', '.join(broken)} cannot be read (is it valid TOML?), so the login it may "
                 "configure cannot be checked. Fix the file and restart the server; until then nobody can log in.")
        st.stop()
    current = mode()
    if current == OIDC:
        _oidc_gate()
    elif current == TOKEN:
        _token_gate()
    else:
        st.sidebar.caption(OPEN_NOTE)


def _oidc_gate() -> None:
    missing = [key for key in OIDC_KEYS if key not in _secrets_section("auth")]
    if missing or importlib.util.find_spec("authlib") is None or importlib.util.find_spec("httpx") is None:
        st.title("probing")
        st.error("Login is configured (an `[auth]` section in `.streamlit/secrets.toml`) but cannot work: "
                 + (f"the section lacks {', '.join(missing)}. Add them (see README, *Host it for your team*)."
                    if missing else "Authlib and httpx are not installed. Run `pip install 'streamlit[auth]'`.")
                 + " Until then nobody can log in.")
        st.stop()
    if not st.user.get("is_logged_in", False):
        st.title("probing")
        st.markdown("This dashboard is private to your team. Log in with your organisation's account to see "
                    "the datasets and results.")
        st.button("Log in", type="primary", on_click=st.login, key="auth_login")
        st.stop()
    st.sidebar.markdown(f"Logged in as **{escape(current_user() or 'unknown')}**")
    st.sidebar.button("Log out", key="auth_logout", on_click=st.logout)


def _token_gate() -> None:
    if st.session_state.get(_USER_KEY):
        st.sidebar.markdown(f"Logged in as **{escape(st.session_state[_USER_KEY])}**")
        st.sidebar.button("Log out", key="auth_logout", on_click=_token_logout)
        return
    st.title("probing")
    st.markdown("This dashboard is private to your lab. Enter your name (it is recorded with what you upload "
                "or save) and the access token your team shares.")
    with st.form("auth_login_form"):
        st.text_input("Your name", key="auth_name", max_chars=64)
        st.text_input("Access token", type="password", key="auth_token")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        error = _check_token_login(st.session_state.get("auth_name", ""), st.session_state.get("auth_token", ""))
        if error is None:
            st.session_state[_USER_KEY] = st.session_state["auth_name"].strip()
            del st.session_state["auth_token"]
            st.rerun()
        st.error(error)
    st.stop()


def _check_token_login(name: str, token: str) -> str | None:
    """``None`` when ``token`` matches (compared in constant time) and ``name`` is usable, else what is wrong."""
    expected = access_token() or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return "Wrong access token. Ask whoever hosts this dashboard for the current one."
    if not _NAME.fullmatch(name.strip()):
        return ("Enter your name (1-64 letters, digits, spaces or . @ ' - _): it is recorded as the owner of what "
                "you upload or save.")
    return None


def _token_logout() -> None:
    """Forget everything this session held, so the next person at this browser starts from nothing."""
    st.session_state.clear()

