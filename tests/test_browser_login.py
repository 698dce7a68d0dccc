"""End to end in headless Chromium: the OIDC login against a local provider (``tests/oidc_provider.py``).

The server gets its own ``secrets.toml`` (``--secrets.files``) with an ``[auth]`` section
pointing at the provider; the browser starts with no cookie, sees only the login screen,
clicks "Log in", goes through the provider's real code + PKCE flow and lands back in the
app logged in, with the provider's user name in the sidebar. The server is ``serve.py`` (as
hosted), so the logged-in upload also passes its gate: session admitted and identity cookie valid.
"""

import io
import secrets

import numpy as np
import pytest

from conftest import wait_for_app
from oidc_provider import OIDCProvider
from dashboard.local_server import free_port, served_app

pytestmark = pytest.mark.browser
USER = {"sub": "u-1815", "name": "Ada Lovelace", "email": "ada@example.org"}


@pytest.fixture(scope="module")
def oidc_app(tmp_path_factory, browser):
    """The app behind an OIDC login (fresh server, no run yet), with its provider."""
    tmp = tmp_path_factory.mktemp("oidc")
    port = free_port()
    with OIDCProvider(user=USER) as provider:
        secrets_toml = tmp / "secrets.toml"
        secrets_toml.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            f'client_id = "{provider.client_id}"\n'
            f'client_secret = "{provider.client_secret}"\n'
            f'server_metadata_url = "{provider.server_metadata_url}"\n')
        env = {"PROBING_WORKSPACE": str(tmp / "workspace"), "PROBING_ACCESS_TOKEN": ""}
        with served_app(env, "--secrets.files", str(secrets_toml), port=port, script="serve.py") as (url, _):
            yield url, provider


def body_text(page) -> str:
    return page.inner_text("[data-testid='stApp']")


def test_a_fresh_server_gates_a_deep_link_too(oidc_app, browser):
    url, _ = oidc_app
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/data")
    wait_for_app(page)
    try:
        assert page.get_by_role("button", name="Log in").is_visible()
        assert "ActivationSet" not in body_text(page)
    finally:
        context.close()


def test_nothing_before_login_then_the_provider_user_in_the_sidebar(oidc_app, browser):
    url, provider = oidc_app
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        wait_for_app(page)
        login = page.get_by_role("button", name="Log in")
        login.wait_for(timeout=60_000)
        text = body_text(page)
        assert "private to your team" in text
        for leak in ("Active dataset", "sentiment", "fingerprint", "Overview", "Data"):
            assert leak not in text, f"{leak!r} is visible before login"
        assert page.locator("[data-testid='stSidebarNav']").count() == 0

        login.click()
        page.wait_for_selector("text=Logged in as", timeout=60_000)
        wait_for_app(page)
        page.locator("[data-testid='stSidebar']").get_by_text("Active dataset").wait_for(timeout=60_000)
        assert "Ada Lovelace" in page.inner_text("[data-testid='stSidebar']")
        assert page.url.startswith(url)
        assert {"/authorize", "/token", "/jwks"} <= set(provider.requests)
    finally:
        context.close()


def test_a_logged_in_user_uploads_through_the_gate_and_owns_it_by_identity(oidc_app, browser, tmp_path):
    url, provider = oidc_app
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(1).standard_normal((25, 3)).astype(np.float32))
    path = tmp_path / "ada.npy"
    path.write_bytes(buffer.getvalue())
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{url}/data")
        wait_for_app(page)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("text=Logged in as", timeout=60_000)
        page.goto(f"{url}/data")  # the provider sends the user back to the app's front page
        wait_for_app(page)
        page.get_by_role("tab", name="Upload").click()
        page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
        page.get_by_text("is now active and saved in the workspace").wait_for(timeout=60_000)
        page.get_by_role("tab", name="Workspace").click()
        owner = f"{USER['sub']} ({provider.issuer})"
        page.get_by_text(owner).first.wait_for(state="attached", timeout=30_000)  # a cell of the data grid
    finally:
        context.close()
