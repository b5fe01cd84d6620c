"""OpenID Connect sign-in: the authorization code flow with PKCE, state and nonce.

``start`` stores a new sign-in (state, nonce, PKCE code verifier) in ``oidc_logins`` and
returns the provider's authorization URL. ``finish`` takes the provider's answer: it
deletes the state's row while reading it (so a state works once, and only for
``STATE_TTL``), exchanges the code with the verifier (Authlib's client), checks the ID
token (``id_tokens``) and lands the person in their account and tenant (``landing``).
``sign_in`` is ``finish`` as an ``Outcome`` that never raises for a refusal: the one place
every attempt, good or bad, passes through (the security audit log's call point).

No HTTP framework here: the route turns an outcome into a redirect or a JSON answer.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import delete, func

from jeex.auth import id_tokens, landing, providers
from jeex.auth.id_tokens import SignInRefused
from jeex.auth.models import OidcLogin
from jeex.config import OidcProvider
from jeex.db.session import Database
from jeex.errors import AppError

SCOPE = "openid email profile"
#: How long a started sign-in may take at the provider before its state is refused.
STATE_TTL = timedelta(minutes=10)
#: At most this much of a provider's error description is passed on to the person.
DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class Pending:
    """What ``start`` stored for the callback to check."""

    provider: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Outcome:
    """One callback's result: who signed in and where, or why not.

    Everything the security audit log needs to record the attempt; ``failure`` is the
    refusal (its status and sentence are what the person is told).
    """

    provider: str
    user_id: uuid.UUID | None = None
    email: str | None = None
    tenant_id: uuid.UUID | None = None
    token_version: int = 0
    failure: AppError | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _client(provider: OidcProvider, redirect_uri: str) -> AsyncOAuth2Client:
    secret = provider.client_secret.get_secret_value()
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=secret or None,
        # A public client (no secret) authenticates by PKCE alone.
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=providers.TIMEOUT_SECONDS,
    )


async def start(db: Database, provider: OidcProvider, *, redirect_uri: str) -> str:
    """A new sign-in at ``provider``: the URL of its authorization endpoint to send the
    browser to. Sign-ins older than ``STATE_TTL`` are pruned on the way."""
    async with httpx2.AsyncClient() as http:
        meta = await providers.metadata(provider, http)
    login = OidcLogin(
        state=secrets.token_urlsafe(32),
        provider=provider.id,
        nonce=secrets.token_urlsafe(32),
        # RFC 7636 §4.1: 43 to 128 characters; 64 bytes of randomness give 86.
        code_verifier=secrets.token_urlsafe(64),
    )
    async with db.global_session() as session:
        await session.execute(
            delete(OidcLogin).where(OidcLogin.created_at < func.now() - STATE_TTL)
        )
        session.add(login)
    async with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta.authorization_endpoint,
            state=login.state,
            code_verifier=login.code_verifier,
            nonce=login.nonce,
        )
    return str(url)


async def consume(db: Database, *, state: str, provider: OidcProvider) -> Pending:
    """The sign-in ``state`` names, deleted in the same statement: a replayed, unknown
    or expired state finds no row."""
    statement = (
        delete(OidcLogin)
        .where(OidcLogin.state == state, OidcLogin.created_at > func.now() - STATE_TTL)
        .returning(OidcLogin.provider, OidcLogin.nonce, OidcLogin.code_verifier)
    )
    async with db.global_session() as session:
        row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise SignInRefused("this sign-in link was already used or has expired; start again")
    if row.provider != provider.id:
        raise SignInRefused("this sign-in was started with another provider; start again")
    return Pending(row.provider, row.nonce, row.code_verifier)


def _provider_error(provider: OidcProvider, error: str, description: str | None) -> AppError:
    said = f": {description[:DESCRIPTION_CHARS]}" if description else ""
    return SignInRefused(f"{provider.name} did not sign you in ({error[:64]}{said})")


async def _exchange(
    provider: OidcProvider, token_endpoint: str, *, code: str, pending: Pending, redirect_uri: str
) -> dict[str, str]:
    """The provider's tokens for the code, proving the sign-in with the PKCE verifier."""
    async with _client(provider, redirect_uri) as client:
        try:
            token = await client.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
            )
        except OAuthError as exc:
            raise _provider_error(provider, str(exc.error), exc.description) from None
        except httpx2.HTTPError as exc:
            raise providers.ProviderUnavailable(
                f"{provider.name} could not be reached to finish the sign-in "
                f"({type(exc).__name__}); try again"
            ) from None
    return dict(token)


async def finish(
    db: Database,
    provider: OidcProvider,
    *,
    redirect_uri: str,
    state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> Outcome:
    """The provider's answer to a sign-in, checked end to end (see the module docstring)."""
    if error:
        # Said before the state is checked: some providers send no state with an error.
        # The state is spent all the same, so the link cannot be tried again.
        if state:
            with contextlib.suppress(SignInRefused):
                await consume(db, state=state, provider=provider)
        raise _provider_error(provider, error, error_description)
    if not state:
        raise SignInRefused("the provider's answer has no state; start the sign-in again")
    pending = await consume(db, state=state, provider=provider)
    if not code:
        raise SignInRefused("the provider's answer has no authorization code; start again")
    async with httpx2.AsyncClient() as http:
        meta = await providers.metadata(provider, http)
        token = await _exchange(
            provider, meta.token_endpoint, code=code, pending=pending, redirect_uri=redirect_uri
        )
        if not token.get("id_token"):
            raise SignInRefused(f"{provider.name} sent no ID token; is the openid scope allowed?")
        keys = await providers.signing_keys(meta, http)
    claims = id_tokens.verify(
        token["id_token"],
        provider=provider,
        keys=keys,
        algorithms=meta.algorithms,
        nonce=pending.nonce,
        access_token=token.get("access_token"),
    )
    person = id_tokens.identity(claims, provider)
    user = await landing.upsert_user(db, email=person.email, name=person.name)
    tenant_id = await landing.tenant_for(db, user=user, name=person.name or user.display_name)
    return Outcome(provider.id, user.id, user.email, tenant_id, user.token_version)


async def sign_in(
    db: Database,
    provider: OidcProvider,
    *,
    redirect_uri: str,
    state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> Outcome:
    """``finish``, with a refusal returned as the outcome's ``failure`` instead of raised.

    The route writes a sign-in to the tenant's security log (``jeex.audit``). A refusal
    carries no email: before the ID token is checked none is known, and an unverified
    one must not decide whose log a line lands in, so refusals go to the server log.
    """
    try:
        return await finish(
            db,
            provider,
            redirect_uri=redirect_uri,
            state=state,
            code=code,
            error=error,
            error_description=error_description,
        )
    except AppError as exc:
        return Outcome(provider.id, failure=exc)
