"""Checking an OpenID Connect ID token: signature, issuer, audience, nonce, expiry, email.

The signature is checked with joserfc against the provider's published keys, and the
claims with Authlib's ``CodeIDToken`` (iss, aud, exp, iat, nonce, azp, at_hash), as
Authlib's own OpenID client does since ``authlib.jose`` was deprecated in favour of
joserfc. Every refusal is a ``SignInRefused`` whose sentence says what was wrong, so a
person (or an operator reading the log) knows which side to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from jeex.config import OidcProvider
from jeex.errors import Forbidden, Unauthorized

#: Clock difference tolerated between us and the provider.
LEEWAY_SECONDS = 60

#: What a failed claim means, for the sentence the person sees.
_CLAIM_SENTENCES = {
    "iss": "the ID token was issued by another issuer than the one configured for {name}",
    "aud": "the ID token was issued for another client (audience) than this one",
    "azp": "the ID token was issued for another client (authorized party) than this one",
    "nonce": "the ID token's nonce does not match this sign-in; start again",
    "exp": "the ID token has expired; start again",
    "iat": "the ID token's issue time is not valid",
    "nbf": "the ID token is not valid yet",
    "sub": "the ID token names no subject",
    "at_hash": "the ID token does not belong to the access token it came with",
}


class SignInRefused(Unauthorized):
    """The provider's answer could not be trusted; the sign-in was refused."""


class SignInForbidden(Forbidden):
    """The provider vouched for this person, but this installation does not let them in."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, once every check passed."""

    subject: str
    email: str
    name: str


def _claim_sentence(error: ClaimError, provider: OidcProvider) -> str:
    claim = error.claim.split(",")[0]
    template = _CLAIM_SENTENCES.get(claim, "the ID token's {claim} claim is not valid")
    return template.format(name=provider.name, claim=claim)


def verify(
    id_token: str,
    *,
    provider: OidcProvider,
    keys: dict[str, Any],
    algorithms: tuple[str, ...],
    nonce: str,
    access_token: str | None,
) -> dict[str, Any]:
    """The ID token's claims once its signature and its claims are valid for this sign-in."""
    try:
        key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        token = jwt.decode(
            id_token, key_set, registry=JWSRegistry(algorithms=list(algorithms) or ["RS256"])
        )
    except JoseError as exc:
        raise SignInRefused(
            f"the ID token's signature could not be verified ({exc.error})"
        ) from None
    options = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
        # Required, not just compared when present: we always send one.
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(leeway=LEEWAY_SECONDS)
    except ExpiredTokenError:
        raise SignInRefused(_CLAIM_SENTENCES["exp"]) from None
    except ClaimError as exc:
        raise SignInRefused(_claim_sentence(exc, provider)) from None
    return dict(claims)


def identity(claims: dict[str, Any], provider: OidcProvider) -> Identity:
    """The person the claims name, if their email is verified and its domain allowed."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInForbidden(
            f"{provider.name} did not share an email address; allow the email scope"
        )
    email = email.strip().lower()
    if claims.get("email_verified") is not True:
        raise SignInForbidden(
            f"{provider.name} has not verified the email address {email}; verify it there "
            "and sign in again"
        )
    domain = email.rsplit("@", 1)[1]
    if provider.allowed_domains and domain not in provider.allowed_domains:
        raise SignInForbidden(
            f"email addresses at {domain} may not sign in with {provider.name}; allowed: "
            + ", ".join(provider.allowed_domains)
        )
    name = claims.get("name")
    return Identity(str(claims["sub"]), email, name.strip() if isinstance(name, str) else "")
