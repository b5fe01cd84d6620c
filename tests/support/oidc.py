"""A real OpenID Connect provider on loopback for the sign-in tests: ``oidc-provider-mock``
(a Flask app built on Authlib's server side) in a thread of the test process.

It serves discovery, JWKS, an authorization form (a ``sub`` field and an Authorize
button; ``action=deny`` refuses) and a token endpoint that signs RS256 ID tokens; a
user's claims are set with ``PUT /users/<sub>``. It is started with ``require_nonce``.

Two switches make it misbehave the way a misconfigured or hostile provider would, for
the refusal tests (each test that sets one resets it):

- ``token_host``: the Host its token endpoint believes it was reached at. The mock
  names itself after the Host of each request, so the ID token then carries another
  ``iss`` than the discovery document did.
- ``client_alias``: the client id the provider sees instead of ours, at the
  authorization and token endpoints alike. The mock accepts any client and puts the
  id of the client that asked in ``aud``, so this is how it issues an ID token for
  another audience: as a provider would where our client is registered under another id.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import httpx
import oidc_provider_mock
import werkzeug.serving

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Provider:
    """The running provider; ``issuer`` is what JEEX's settings name."""

    issuer: str
    token_host: str | None = None
    client_alias: dict[str, str] = field(default_factory=dict)

    def set_user(self, sub: str, **claims: Any) -> None:
        response = httpx.put(f"{self.issuer}/users/{quote(sub)}", json=claims, timeout=5)
        assert response.status_code == 204, response.text

    def reset(self) -> None:
        self.token_host = None
        self.client_alias = {}

    def _alias_query(self, environ: dict[str, Any]) -> None:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        swapped = [(k, self.client_alias.get(v, v) if k == "client_id" else v) for k, v in pairs]
        environ["QUERY_STRING"] = urlencode(swapped)

    def _alias_basic(self, environ: dict[str, Any]) -> None:
        scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "basic":
            return
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        client_id = quote(self.client_alias.get(unquote(client_id), unquote(client_id)))
        raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        environ["HTTP_AUTHORIZATION"] = f"Basic {raw}"

    def wrap(self, app: Wsgi) -> Wsgi:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if self.client_alias and path == "/oauth2/authorize":
                self._alias_query(environ)
            if path == "/oauth2/token":
                if self.client_alias:
                    self._alias_basic(environ)
                if self.token_host:
                    environ["HTTP_HOST"] = self.token_host
            return app(environ, start_response)

        return middleware


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider on 127.0.0.1 and a free port, until the block ends."""
    provider = Provider(issuer="")
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider.wrap(app), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
