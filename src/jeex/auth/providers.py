"""The OpenID Connect providers of this installation and what each says about itself.

A provider is configured by its issuer alone (``JEEX_OIDC_PROVIDERS``); its endpoints come
from its discovery document, ``<issuer>/.well-known/openid-configuration``, read once per
process (endpoints do not move while we run). Its signing keys (JWKS) are read at every
sign-in instead: providers rotate keys, and a sign-in is rare enough to afford the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2

from jeex.config import OidcProvider, Settings
from jeex.errors import NotFound, ServiceUnavailable

#: Asymmetric algorithms only: with ``HS256`` allowed, a token "signed" with the provider's
#: public key (which anyone can read) would verify (algorithm confusion).
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
TIMEOUT_SECONDS = 10.0


class ProviderUnavailable(ServiceUnavailable):
    """The sign-in provider could not be reached or answered something unusable; try again."""


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document a sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


_discovered: dict[str, ProviderMetadata] = {}


def get_or_raise(settings: Settings, provider_id: str) -> OidcProvider:
    """The configured provider with this id; 404 for any other."""
    for provider in settings.oidc_providers:
        if provider.id == provider_id:
            return provider
    raise NotFound(f"no sign-in provider {provider_id!r}")


async def _get_json(http: httpx2.AsyncClient, url: str, what: str) -> dict[str, Any]:
    try:
        response = await http.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
    except (httpx2.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(
            f"the sign-in provider's {what} could not be read ({type(exc).__name__}); "
            "try again later"
        ) from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"the sign-in provider's {what} is not a JSON object")
    return body


async def metadata(provider: OidcProvider, http: httpx2.AsyncClient) -> ProviderMetadata:
    """The provider's endpoints, discovered on first use and then kept for the process.

    The document's ``issuer`` must be exactly the configured one (OpenID Connect
    Discovery §4.3): otherwise another provider could be speaking for this one.
    """
    known = _discovered.get(provider.issuer)
    if known is not None:
        return known
    url = f"{provider.issuer}/.well-known/openid-configuration"
    document = await _get_json(http, url, "discovery document")
    if document.get("issuer") != provider.issuer:
        raise ProviderUnavailable(
            f"the discovery document of {provider.issuer} names another issuer "
            f"({document.get('issuer')!r}); check the provider's issuer setting"
        )
    try:
        found = ProviderMetadata(
            issuer=provider.issuer,
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            algorithms=tuple(
                alg
                for alg in document.get("id_token_signing_alg_values_supported", ["RS256"])
                if alg in SIGNING_ALGORITHMS
            ),
        )
    except KeyError as exc:
        raise ProviderUnavailable(
            f"the discovery document of {provider.issuer} has no {exc.args[0]}"
        ) from None
    _discovered[provider.issuer] = found
    return found


async def signing_keys(meta: ProviderMetadata, http: httpx2.AsyncClient) -> dict[str, Any]:
    """The provider's current public keys (a JWK set)."""
    return await _get_json(http, meta.jwks_uri, "signing keys")
