"""The login gate: who may see the dashboard, and who they are.

Three modes, chosen from the configuration (first match wins):

``"oidc"``
    An ``[auth]`` section in ``.streamlit/secrets.toml`` (``redirect_uri``, ``cookie_secret``,
    ``client_id``, ``client_secret``, ``server_metadata_url``): Streamlit's ``st.login`` sends
    the user to the team's OpenID Connect provider; ``st.user`` holds who came back.
``"token"``
    A shared access token for a small lab, from the ``PROBING_ACCESS_TOKEN`` environment
    variable or ``access_token`` under ``[probing]`` in ``secrets.toml`` (at least
    :data:`MIN_TOKEN_CHARS` characters, else nobody can log in). The user types a name and the
    token; the name is recorded with what they save (it is not verified: everyone who has the
    token is trusted). Wrong tokens back off exponentially, per session and per client address.
``"open"``
    Nothing configured: no login, as on a laptop, and the sidebar says so.

``app.py`` calls :func:`require_login` before any session state or page exists, so with a
login configured nobody sees a page or data before logging in. Pages call
:func:`current_user` to record who uploaded or saved something: in OIDC mode the verified
identity (a verified email, else subject and issuer), never the display name.

The gate records the Streamlit sessions it admitted in a process-wide registry
(:func:`is_admitted`); ``serve.py`` reads it to refuse uploads from sessions that never
logged in, since Streamlit's upload route does not run the script.
"""

from __future__ import annotations

import hmac
import importlib.util
import os
import re
import threading
import time

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from dashboard.text import escape

OPEN, TOKEN, OIDC, LOCKED = "open", "token", "oidc", "locked"
OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
OPEN_NOTE = "open: no login configured (fine on a laptop; configure login before hosting)"
_USER_KEY = "auth_user"
_NAME = re.compile(r"[\w .@'-]{1,64}")
_EMAIL = re.compile(r"[^\s()<>@]+@[^\s()<>@]+")
MIN_TOKEN_CHARS = 32
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class LoginThrottle:
    """Failed logins per key (a session id, a client address) and how long each key must wait.

    The first ``free_attempts`` failures cost nothing (typos happen); after that every failure
    doubles the wait, from 1 s up to ``max_wait_s``. A success clears the key; keys idle for
    ``forget_after_s`` are dropped.

    Parameters
    ----------
    free_attempts : int
        Failures allowed before any wait.
    max_wait_s : float
        The longest wait.
    forget_after_s : float
        Keys with no failure for this long are forgotten.
    clock : callable
        Seconds, monotonic (tests pass a fake clock).
    """

    def __init__(self, free_attempts: int = 3, max_wait_s: float = 300.0, forget_after_s: float = 3600.0,
                 clock=time.monotonic):
        self.free_attempts = free_attempts
        self.max_wait_s = max_wait_s
        self.forget_after_s = forget_after_s
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, *keys: str) -> float:
        """Seconds any of ``keys`` must still wait before its next attempt is even checked (0: none)."""
        now = self.clock()
        with self._lock:
            entries = [self._failures[key] for key in keys if key in self._failures]
        return max([0.0] + [self._wait_after(failures) - (now - last) for failures, last in entries])

    def fail(self, *keys: str) -> None:
        """Count one failed attempt against each key."""
        now = self.clock()
        with self._lock:
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.forget_after_s}
            for key in keys:
                self._failures[key] = (self._failures.get(key, (0, now))[0] + 1, now)

    def succeed(self, *keys: str) -> None:
        """Forget the failures of each key."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def clear(self) -> None:
        """Forget every failure."""
        with self._lock:
            self._failures.clear()

    def _wait_after(self, failures: int) -> float:
        if failures < self.free_attempts:
            return 0.0
        return min(2.0 ** (failures - self.free_attempts), self.max_wait_s)


THROTTLE = LoginThrottle()
"""Token login failures of this server process, per session and per client address."""
_ADMITTED: dict[str, str] = {}
_ADMITTED_LOCK = threading.Lock()


def session_id() -> str | None:
    """The Streamlit session this run belongs to (the id its upload URLs carry); ``None`` outside a run."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


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


def configuration_problem() -> str | None:
    """Why the configured login cannot work (so nobody may log in), or ``None`` when it can."""
    broken = _unreadable_secrets()
    if broken:
        return (f"The secrets file {', '.join(broken)} cannot be read (is it valid TOML?), so the login it may "
                "configure cannot be checked. Fix the file and restart the server.")
    current = mode()
    missing = [key for key in OIDC_KEYS if key not in _secrets_section("auth")] if current == OIDC else []
    if missing:
        return ("Login is configured (an `[auth]` section in `.streamlit/secrets.toml`) but cannot work: the section "
                f"lacks {', '.join(missing)}. Add them (see README, *Host it for your team*).")
    if current == OIDC and (importlib.util.find_spec("authlib") is None or importlib.util.find_spec("httpx") is None):
        return ("Login is configured (an `[auth]` section in `.streamlit/secrets.toml`) but cannot work: Authlib and "
                "httpx are not installed. Run `pip install 'streamlit[auth]'`.")
    if current == TOKEN and len(access_token() or "") < MIN_TOKEN_CHARS:
        return (f"The shared access token (`PROBING_ACCESS_TOKEN` or `[probing] access_token` in secrets.toml) is "
                f"shorter than {MIN_TOKEN_CHARS} characters, so it could be guessed. Make a long random one with "
                f"`{MAKE_TOKEN}`, set it and restart the server.")
    return None


def gate() -> str:
    """The login the HTTP routes enforce: :func:`mode`, or ``"locked"`` when :func:`configuration_problem` says one."""
    return LOCKED if configuration_problem() else mode()


def is_logged_in() -> bool:
    """Whether this session may see the pages (always true in open mode, never with a broken login)."""
    current = gate()
    return current == OPEN or (current != LOCKED and current_user() is not None)


def identity(claims) -> str | None:
    """The owner key of an OIDC user: a verified email, else ``"<sub> (<iss>)"``; ``None`` without a subject.

    Display names are not unique (two accounts may both be "Alice Smith"), so they never own anything.
    """
    email = str(claims.get("email") or "")
    if claims.get("email_verified") is True and _EMAIL.fullmatch(email):
        return email
    subject = claims.get("sub")
    return f"{subject} ({claims.get('iss') or 'unknown issuer'})" if subject else None


def current_user() -> str | None:
    """Who is logged in, for the ``owner`` of what they save; ``None`` in open mode or before login.

    OIDC: the verified identity (:func:`identity`). Token mode: the name typed at login.
    """
    current = mode()
    if current == OIDC:
        return identity(st.user) if st.user.get("is_logged_in", False) else None
    if current == TOKEN:
        return st.session_state.get(_USER_KEY)
    return None


def display_name() -> str | None:
    """The name to greet the user with: OIDC ``name`` (else ``preferred_username``), else :func:`current_user`."""
    if mode() == OIDC and st.user.get("is_logged_in", False):
        for claim in ("name", "preferred_username"):
            if st.user.get(claim):
                return str(st.user.get(claim))
    return current_user()


def is_admitted(session: str) -> bool:
    """Whether the Streamlit session with id ``session`` passed the login gate in this server process."""
    with _ADMITTED_LOCK:
        return session in _ADMITTED


def _admit(user: str) -> None:
    """Record this session as logged in (and drop sessions the runtime no longer knows)."""
    current = session_id()
    if current is None:
        return
    runtime = Runtime.instance() if Runtime.exists() else None
    with _ADMITTED_LOCK:
        if runtime is not None:
            for gone in [s for s in _ADMITTED if s != current and not runtime.is_active_session(s)]:
                del _ADMITTED[gone]
        _ADMITTED[current] = user


def _forget() -> None:
    with _ADMITTED_LOCK:
        _ADMITTED.pop(session_id(), None)


def navigation_position() -> str:
    """Where ``st.navigation`` draws its menu: hidden until the user is logged in."""
    return "sidebar" if is_logged_in() else "hidden"


def require_login() -> None:
    """Show the login screen and stop the run unless the session is logged in; else draw who is logged in.

    Call it in ``app.py`` after ``st.navigation`` (so a shared link keeps its page and query
    through the login) and before any session state, sidebar or page is drawn.
    """
    problem = configuration_problem()
    if problem:
        _locked(problem)
    current = mode()
    if current == OIDC:
        _oidc_gate()
    elif current == TOKEN:
        _token_gate()
    else:
        st.sidebar.caption(OPEN_NOTE)


def _locked(why: str) -> None:
    """Nobody can log in until the host fixes the configuration: say why and stop the run."""
    _forget()
    st.title("probing")
    st.error(f"{why} Until then nobody can log in.")
    st.stop()


def _oidc_gate() -> None:
    user = current_user()
    if user is None:
        _forget()
        st.title("probing")
        st.markdown("This dashboard is private to your team. Log in with your organisation's account to see "
                    "the datasets and results.")
        st.button("Log in", type="primary", on_click=st.login, key="auth_login")
        st.stop()
    _admit(user)
    name = display_name() or user
    shown = f"**{escape(name)}**" + (f" ({escape(user)})" if name != user else "")
    st.sidebar.markdown(f"Logged in as {shown}")
    st.sidebar.button("Log out", key="auth_logout", on_click=_oidc_logout)


def _oidc_logout() -> None:
    _forget()
    st.logout()


def _token_gate() -> None:
    if st.session_state.get(_USER_KEY):
        _admit(st.session_state[_USER_KEY])
        st.sidebar.markdown(f"Logged in as **{escape(st.session_state[_USER_KEY])}**")
        st.sidebar.button("Log out", key="auth_logout", on_click=_token_logout)
        return
    _forget()
    st.title("probing")
    st.markdown("This dashboard is private to your lab. Enter your name (it is recorded with what you upload "
                "or save) and the access token your team shares.")
    with st.form("auth_login_form"):
        st.text_input("Your name", key="auth_name", max_chars=64)
        st.text_input("Access token", type="password", key="auth_token")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        error = _attempt_token_login(st.session_state.get("auth_name", ""), st.session_state.get("auth_token", ""))
        if error is None:
            st.session_state[_USER_KEY] = st.session_state["auth_name"].strip()
            del st.session_state["auth_token"]
            st.rerun()
        st.error(error)
    st.stop()


def _attempt_token_login(name: str, token: str) -> str | None:
    """Check one login unless this session or client address must still wait; count a wrong token against both."""
    keys = (f"session:{session_id()}", f"address:{st.context.ip_address or 'loopback'}")
    wait = THROTTLE.wait_s(*keys)
    if wait > 0:
        return f"Too many wrong tokens: wait {wait:.0f} s before trying again."
    error = _check_token_login(name, token)
    if error is None:
        THROTTLE.succeed(*keys)
    elif error.startswith("Wrong access token"):
        THROTTLE.fail(*keys)
    return error


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
    _forget()
    st.session_state.clear()
