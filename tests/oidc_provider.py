"""A minimal OpenID Connect provider for tests, on loopback only.

It knows one client and one user and consents at once: ``/authorize`` redirects straight
back with a code, ``/token`` trades the code (checking the client secret, redirect URI and
PKCE verifier) for an access token and an RS256-signed ID token, ``/jwks`` publishes the
public key and ``/userinfo`` answers for the access token. Enough for Streamlit's
``st.login`` (Authlib) to run its real flow end to end; not a provider to deploy.

>>> with OIDCProvider(user={"sub": "1", "name": "Ada"}) as provider:
...     provider.server_metadata_url  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64url(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class OIDCProvider:
    """An OIDC provider on ``127.0.0.1`` serving from a thread; use as a context manager.

    Parameters
    ----------
    user : dict
        The claims of the one user (``sub`` required; ``name``, ``email`` ...).
    client_id, client_secret : str
        The one registered client.
    """

    def __init__(self, user: dict, client_id: str = "probing-test", client_secret: str | None = None):
        self.user = dict(user)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(4)
        self.codes: dict[str, dict] = {}
        self.access_tokens: set[str] = set()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def server_metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def __enter__(self) -> OIDCProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"], "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}]}

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {**self.user, "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 600}
        if nonce:
            claims["nonce"] = nonce
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def authorize(self, query: dict) -> tuple[int, dict, bytes]:
        """Auto-consent: redirect back to the client's ``redirect_uri`` with a fresh code."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, b"unknown client or response_type"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": query.get("redirect_uri"), "nonce": query.get("nonce"),
                            "code_challenge": query.get("code_challenge")}
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": target}, b""

    def token(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        """Trade a code for tokens, once, checking the client, redirect URI and PKCE verifier."""
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        grant = self.codes.pop(form.get("code", ""), None)
        if (client_id, client_secret) != (self.client_id, self.client_secret) or grant is None:
            return 400, {"error": "invalid_grant"}
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        if grant["code_challenge"]:
            verifier = form.get("code_verifier", "")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access_token = secrets.token_urlsafe(24)
        self.access_tokens.add(access_token)
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 600,
                     "id_token": self.id_token(grant["nonce"]), "scope": "openid email profile"}


def _handler(provider: OIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            for name, value in {"Content-Type": content_type, **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: dict) -> None:
            self._send(status, json.dumps(obj).encode())

        def do_GET(self) -> None:
            url = urlparse(self.path)
            provider.requests.append(url.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.metadata())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                status, headers, body = provider.authorize(query)
                self._send(status, body, headers, "text/plain")
            elif url.path == "/userinfo":
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token in provider.access_tokens:
                    self._json(200, provider.user)
                else:
                    self._json(401, {"error": "invalid_token"})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            provider.requests.append(url.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if url.path == "/token":
                self._json(*provider.token(form, self.headers.get("Authorization")))
            else:
                self._json(404, {"error": "not_found"})

    return Handler
