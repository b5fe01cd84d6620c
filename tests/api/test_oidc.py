"""OpenID Connect sign-in end to end: the API app on the test database, a real provider
(``oidc-provider-mock``) on loopback, and the browser's part played by hand: GET login →
POST the provider's authorization form → GET the callback it redirects to.

Each refusal the service promises is provoked for real: an unverified email, a domain not
allowed, a replayed, expired or foreign state, a nonce that is not this sign-in's, an ID
token from another issuer or for another audience, the provider's own ``error``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import SecretStr
from sqlalchemy import text

from jeex.auth import id_tokens
from jeex.auth import service as auth_service
from jeex.config import OidcProvider, Settings
from jeex.db.session import Database
from jeex.main import create_app
from support.api import PASSWORD, SECRET, assert_error
from support.oidc import Provider, query_of, running_provider

ME = "/api/v1/auth/me"
JSON = {"Accept": "application/json"}
CLIENT_SECRET = "client-secret-of-jeex-1234"
AppWith = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def idp(provider: Provider) -> Iterator[Provider]:
    """The module's provider with no misbehaviour left over from another test."""
    provider.reset()
    yield provider
    provider.reset()


def _providers(issuer: str) -> list[OidcProvider]:
    return [
        OidcProvider(
            id="corp",
            name="Corp SSO",
            issuer=issuer,
            client_id="jeex",
            client_secret=SecretStr(CLIENT_SECRET),
            allowed_domains=["Corp.test"],
        ),
        OidcProvider(
            id="open",
            name="Open ID",
            issuer=issuer,
            client_id="jeex",
            client_secret=SecretStr(CLIENT_SECRET),
        ),
        # Nothing listens there: discovery fails.
        OidcProvider(id="down", name="Down", issuer="http://127.0.0.1:9", client_id="jeex"),
    ]


@pytest.fixture
def api_settings(settings: Settings, idp: Provider) -> Settings:
    return settings.model_copy(
        update={
            "auth_secret_key": SecretStr(SECRET),
            "log_level": "ERROR",
            "oidc_providers": _providers(idp.issuer),
        }
    )


def _email(domain: str = "corp.test") -> str:
    return f"u-{uuid.uuid4().hex[:10]}@{domain}"


async def _login(client: httpx.AsyncClient, provider: str = "corp") -> str:
    """The provider's authorization URL our login route redirects to."""
    response = await client.get(f"/api/v1/auth/oidc/{provider}/login")
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _authorize(authorize_url: str, sub: str, *, deny: bool = False) -> str:
    """Submit the provider's form as the person would: the callback URL (path and query)."""
    form = {"action": "deny"} if deny else {"sub": sub}
    async with httpx.AsyncClient() as browser:
        response = await browser.post(authorize_url, data=form)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    return f"{back.path}?{back.query}"


async def _sign_in(
    client: httpx.AsyncClient, sub: str, *, provider: str = "corp", headers: dict[str, str] = JSON
) -> httpx.Response:
    callback = await _authorize(await _login(client, provider), sub)
    return await client.get(callback, headers=headers)


def _person(idp: Provider, email: str, *, verified: bool = True, name: str = "Ana Lima") -> str:
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    idp.set_user(sub, email=email, email_verified=verified, name=name)
    return sub


async def _me(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_providers_are_listed_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/providers")
    assert response.status_code == 200
    body = response.json()
    assert body["passwords"] is True
    assert body["providers"][0] == {
        "id": "corp",
        "name": "Corp SSO",
        "login_url": "/api/v1/auth/oidc/corp/login",
    }


async def test_login_redirects_with_pkce_state_and_nonce(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    location = await _login(client)
    assert location.startswith(f"{idp.issuer}/oauth2/authorize?")
    query = query_of(location)
    assert query["response_type"] == "code"
    assert query["client_id"] == "jeex"
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 40
    assert len(query["nonce"]) >= 40
    assert query["redirect_uri"] == "http://api.test/api/v1/auth/oidc/corp/callback"
    # The challenge is the S256 of the verifier kept for this state (the mock does not
    # verify PKCE, so this is where it is checked).
    async with db.global_session() as session:
        verifier = await session.scalar(
            text("select code_verifier from oidc_logins where state = :s"), {"s": query["state"]}
        )
    digest = hashlib.sha256(verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_first_sign_in_creates_the_user_and_a_personal_tenant(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    email = _email()
    response = await _sign_in(client, _person(idp, email.upper(), name="Ana Lima"))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    me = await _me(client, response.json()["access_token"])
    assert me["email"] == email  # lower-cased
    assert me["role"] == "owner"
    assert me["tenant_slug"].startswith(email.split("@")[0] + "-")
    async with db.global_session() as session:
        row = (
            await session.execute(
                text(
                    "select u.display_name, t.name from users u "
                    "join tenants t on t.id = u.default_tenant_id where u.email = :e"
                ),
                {"e": email},
            )
        ).one()
    assert tuple(row) == ("Ana Lima", "Ana Lima's workspace")


async def test_a_second_sign_in_lands_in_the_same_tenant(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    sub = _person(idp, _email())
    first = await _sign_in(client, sub)
    second = await _sign_in(client, sub)
    assert first.json()["tenant_id"] == second.json()["tenant_id"]
    assert first.json()["access_token"] != second.json()["access_token"]


async def test_a_local_account_with_the_same_email_signs_in_to_its_tenant(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    email = _email()
    slug = f"local-{uuid.uuid4().hex[:8]}"
    local = await auth_service.create_user(db, email=email, password=PASSWORD, tenant_slug=slug)
    response = await _sign_in(client, _person(idp, email))
    me = await _me(client, response.json()["access_token"])
    assert (me["user_id"], me["tenant_slug"]) == (str(local.user_id), slug)
    password = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert password.status_code == 200  # the password keeps working beside the provider


async def test_a_browser_gets_the_token_in_the_url_fragment(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    response = await _sign_in(client, _person(idp, _email()), headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith("/#signed-in&token=")
    fragment = dict(part.split("=", 1) for part in location.split("#", 1)[1].split("&")[1:])
    assert fragment["expires_in"] == "1800"
    assert (await _me(client, fragment["token"]))["role"] == "owner"


async def test_logout_revokes_a_provider_token(client: httpx.AsyncClient, idp: Provider) -> None:
    token = (await _sign_in(client, _person(idp, _email()))).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204
    assert_error(await client.get(ME, headers=bearer), 401)


async def test_a_disabled_account_is_refused(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    email = _email()
    sub = _person(idp, email)
    assert (await _sign_in(client, sub)).status_code == 200
    async with db.global_session() as session:
        await session.execute(
            text("update users set is_active = false where email = :e"), {"e": email}
        )
    response = await _sign_in(client, sub)
    assert_error(response, 401, "Unauthorized")
    assert response.json()["detail"] == "this account is disabled"


async def test_an_unverified_email_is_refused(client: httpx.AsyncClient, idp: Provider) -> None:
    email = _email()
    response = await _sign_in(client, _person(idp, email, verified=False))
    assert_error(response, 403, "SignInForbidden")
    assert f"has not verified the email address {email}" in response.json()["detail"]


async def test_an_email_without_its_verification_claim_is_refused(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    idp.set_user(sub, email=_email())  # no email_verified at all
    assert_error(await _sign_in(client, sub), 403, "SignInForbidden")


async def test_no_email_is_refused(client: httpx.AsyncClient, idp: Provider) -> None:
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    idp.set_user(sub, name="No Mail")
    response = await _sign_in(client, sub)
    assert_error(response, 403, "SignInForbidden")
    assert "did not share an email address" in response.json()["detail"]


async def test_a_domain_not_allowed_is_refused(client: httpx.AsyncClient, idp: Provider) -> None:
    response = await _sign_in(client, _person(idp, _email("elsewhere.test")))
    assert_error(response, 403, "SignInForbidden")
    assert response.json()["detail"] == (
        "email addresses at elsewhere.test may not sign in with Corp SSO; allowed: corp.test"
    )
    # A provider without a domain list takes any verified email.
    other = await _sign_in(client, _person(idp, _email("elsewhere.test")), provider="open")
    assert other.status_code == 200, other.text


async def test_a_replayed_state_is_refused(client: httpx.AsyncClient, idp: Provider) -> None:
    callback = await _authorize(await _login(client), _person(idp, _email()))
    first = await client.get(callback, headers=JSON)
    assert first.status_code == 200, first.text
    replayed = await client.get(callback, headers=JSON)
    assert_error(replayed, 401, "SignInRefused")
    assert replayed.json()["detail"] == (
        "this sign-in link was already used or has expired; start again"
    )


async def test_one_state_used_twice_at_once_signs_in_once(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    callback = await _authorize(await _login(client), _person(idp, _email()))
    answers = await asyncio.gather(*(client.get(callback, headers=JSON) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401], [a.text for a in answers]


async def test_a_sign_in_is_in_the_tenants_security_log(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    email = _email()
    signed_in = await _sign_in(client, _person(idp, email))
    assert signed_in.status_code == 200, signed_in.text
    owner = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    log = await client.get("/api/v1/audit-events?action=signin.succeeded", headers=owner)
    assert [(e["actor_email"], e["detail"]) for e in log.json()] == [
        (email, {"method": "oidc", "provider": "corp"})
    ]


async def test_an_unknown_or_missing_state_is_refused(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/v1/auth/oidc/corp/callback?code=x&state=nope", headers=JSON)
    assert "already used or has expired" in unknown.json()["detail"]
    missing = await client.get("/api/v1/auth/oidc/corp/callback?code=x", headers=JSON)
    assert_error(missing, 401, "SignInRefused")
    assert "has no state" in missing.json()["detail"]


async def test_an_expired_state_is_refused(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    authorize = await _login(client)
    async with db.global_session() as session:
        await session.execute(
            text(
                "update oidc_logins set created_at = now() - interval '11 minutes' where state = :s"
            ),
            {"s": query_of(authorize)["state"]},
        )
    response = await client.get(await _authorize(authorize, _person(idp, _email())), headers=JSON)
    assert "already used or has expired" in response.json()["detail"]


async def test_a_state_of_another_provider_is_refused(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    callback = await _authorize(await _login(client, "open"), _person(idp, _email()))
    response = await client.get(callback.replace("/oidc/open/", "/oidc/corp/"), headers=JSON)
    assert_error(response, 401, "SignInRefused")
    assert "started with another provider" in response.json()["detail"]


async def test_a_nonce_that_is_not_this_sign_ins_is_refused(
    client: httpx.AsyncClient, idp: Provider, db: Database
) -> None:
    # The provider signs the nonce it was sent into the ID token; the one we stored for the
    # state is changed, as if the token had been obtained for another sign-in.
    authorize = await _login(client)
    async with db.global_session() as session:
        await session.execute(
            text("update oidc_logins set nonce = 'another-sign-in' where state = :s"),
            {"s": query_of(authorize)["state"]},
        )
    response = await client.get(await _authorize(authorize, _person(idp, _email())), headers=JSON)
    assert_error(response, 401, "SignInRefused")
    assert response.json()["detail"] == (
        "the ID token's nonce does not match this sign-in; start again"
    )


async def test_an_id_token_from_another_issuer_is_refused(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    authorize = await _login(client)  # discovery is the right issuer's
    # The token endpoint reached as localhost names itself so in the ID token's iss; the
    # configured issuer (and discovery) is 127.0.0.1.
    idp.token_host = idp.issuer.replace("127.0.0.1", "localhost").removeprefix("http://")
    response = await client.get(await _authorize(authorize, _person(idp, _email())), headers=JSON)
    assert_error(response, 401, "SignInRefused")
    assert response.json()["detail"] == (
        "the ID token was issued by another issuer than the one configured for Corp SSO"
    )


async def test_an_id_token_for_another_audience_is_refused(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    idp.client_alias = {"jeex": "someone-else"}  # aud: someone-else; we are jeex
    response = await _sign_in(client, _person(idp, _email()))
    assert_error(response, 401, "SignInRefused")
    assert response.json()["detail"] == (
        "the ID token was issued for another client (audience) than this one"
    )


async def test_the_providers_refusal_is_passed_on(client: httpx.AsyncClient, idp: Provider) -> None:
    authorize = await _login(client)
    callback = await _authorize(authorize, "nobody", deny=True)
    assert "error=access_denied" in callback
    response = await client.get(callback, headers=JSON)
    assert_error(response, 401, "SignInRefused")
    assert response.json()["detail"].startswith("Corp SSO did not sign you in (access_denied")
    # The mock sends no state with its error; a provider that does spends it.
    state = query_of(authorize)["state"]
    with_state = await client.get(
        f"/api/v1/auth/oidc/corp/callback?error=login_required&error_description=Sign+in+first"
        f"&state={state}",
        headers=JSON,
    )
    assert with_state.json()["detail"] == (
        "Corp SSO did not sign you in (login_required: Sign in first)"
    )
    again = await client.get(f"/api/v1/auth/oidc/corp/callback?code=x&state={state}", headers=JSON)
    assert "already used" in again.json()["detail"]


async def test_a_refusal_sends_a_browser_back_to_the_sign_in_page(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    callback = await _authorize(await _login(client), _person(idp, _email(), verified=False))
    response = await client.get(callback, headers={"Accept": "text/html"})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/#signed-in-failed&reason=")
    assert "has not verified the email address" in unquote(location.split("reason=", 1)[1])


async def test_a_code_the_provider_does_not_know_is_refused(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    callback = await _authorize(await _login(client), _person(idp, _email()))
    forged = callback.replace("code=", "code=forged")
    response = await client.get(forged, headers=JSON)
    assert_error(response, 401, "SignInRefused")
    assert "Corp SSO did not sign you in (invalid_grant" in response.json()["detail"]


async def test_unknown_and_unreachable_providers(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/auth/oidc/nope/login"), 404, "NotFound")
    assert_error(await client.get("/api/v1/auth/oidc/nope/callback", headers=JSON), 404)
    down = await client.get("/api/v1/auth/oidc/down/login", headers=JSON)
    assert_error(down, 503, "ProviderUnavailable")
    assert "discovery document could not be read" in down.json()["detail"]
    browser = await client.get("/api/v1/auth/oidc/down/login")
    assert browser.headers["location"].startswith("/#signed-in-failed&reason=")


@pytest.fixture
async def app_with(api_settings: Settings, empty_queue: None) -> AsyncIterator[AppWith]:
    """``app_with(**settings)``: a client of an app with those settings changed."""
    opened: list[tuple[contextlib.AbstractAsyncContextManager[None], httpx.AsyncClient]] = []

    async def make(**changes: object) -> httpx.AsyncClient:
        application: FastAPI = create_app(api_settings.model_copy(update=changes), workers=0)
        lifespan = application.router.lifespan_context(application)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://api.test"
        )
        opened.append((lifespan, client))
        return client

    yield make
    for lifespan, client in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_passwords_off(app_with: AppWith, db: Database) -> None:
    client = await app_with(auth_passwords=False)
    email = _email()
    await auth_service.create_user(db, email=email, password=PASSWORD, tenant_slug=email[:12])
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert_error(response, 403, "Forbidden")
    assert "password sign-in is off" in response.json()["detail"]
    providers = (await client.get("/api/v1/auth/providers")).json()
    assert providers["passwords"] is False
    assert [p["id"] for p in providers["providers"]] == ["corp", "open", "down"]


async def test_the_public_url_makes_the_redirect_uri(app_with: AppWith) -> None:
    client = await app_with(public_url="https://plan.example.com")
    location = await _login(client)
    assert query_of(location)["redirect_uri"] == (
        "https://plan.example.com/api/v1/auth/oidc/corp/callback"
    )


async def test_callbacks_count_against_the_sign_in_limit(app_with: AppWith) -> None:
    client = await app_with(rate_limit_signin_ip="2/minute")
    url = "/api/v1/auth/oidc/corp/callback?code=x&state=y"
    for _ in range(2):
        assert (await client.get(url, headers=JSON)).status_code == 401
    assert_error(await client.get(url, headers=JSON), 429)


def test_providers_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "JEEX_OIDC_PROVIDERS",
        '[{"id": "corp", "name": "Corp SSO", "issuer": "https://sso.corp.test/",'
        ' "client_id": "jeex", "client_secret": "s3cret-of-the-client",'
        ' "allowed_domains": ["@Corp.test"]}]',
    )
    monkeypatch.setenv("JEEX_AUTH_PASSWORDS", "false")
    monkeypatch.setenv("JEEX_PUBLIC_URL", "https://plan.example.com/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    (corp,) = settings.oidc_providers
    assert (corp.issuer, corp.allowed_domains) == ("https://sso.corp.test", ["corp.test"])
    assert corp.client_secret.get_secret_value() == "s3cret-of-the-client"
    assert settings.auth_passwords is False
    assert settings.public_url == "https://plan.example.com"


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        pytest.param(
            [{"id": "a", "name": "A", "issuer": "http://sso.corp.test", "client_id": "j"}],
            "must be an https:// URL",
            id="http-off-loopback",
        ),
        pytest.param(
            [{"id": "a", "name": "A", "issuer": "https://a.test", "client_id": "j"}] * 2,
            "two providers have the same id",
            id="duplicate-id",
        ),
        pytest.param(
            [{"id": "Not A Slug", "name": "A", "issuer": "https://a.test", "client_id": "j"}],
            "should match pattern",
            id="id-not-a-slug",
        ),
    ],
)
def test_bad_provider_settings_are_refused(providers: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, oidc_providers=providers)  # type: ignore[call-arg, arg-type]
    with pytest.raises(ValueError, match="must start with http"):
        Settings(_env_file=None, public_url="plan.example.com")  # type: ignore[call-arg]


# The ID token's checks on tokens the provider would not send: signed here with a key of
# our own (real RS256), verified against its public JWK set.
ISSUER = "https://sso.corp.test"
SIGNER = RSAKey.generate_key(2048, parameters={"kid": "k1"})
PUBLISHED = KeySet([SIGNER]).as_dict(private=False)


def _id_token(key: RSAKey | OctKey = SIGNER, alg: str = "RS256", **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": "jeex",
        "sub": "s1",
        "iat": now,
        "exp": now + 300,
        "nonce": "n1",
        "email": "ana@corp.test",
        "email_verified": True,
    }
    claims.update(overrides)
    present = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": "k1"}, present, key)


def _verify(token: str) -> dict[str, object]:
    provider = OidcProvider(id="corp", name="Corp SSO", issuer=ISSUER, client_id="jeex")
    return id_tokens.verify(
        token, provider=provider, keys=PUBLISHED, algorithms=("RS256",), nonce="n1",
        access_token=None,
    )  # fmt: skip


def test_a_valid_id_token_passes() -> None:
    assert _verify(_id_token())["email"] == "ana@corp.test"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(lambda: _id_token(nonce=None), "nonce does not match", id="no-nonce"),
        pytest.param(lambda: _id_token(exp=int(time.time()) - 600), "expired", id="expired"),
        pytest.param(
            lambda: _id_token(aud=["jeex", "other"], azp="other"),
            "authorized party",
            id="azp-other",
        ),  # fmt: skip
        pytest.param(lambda: _id_token(OctKey.generate_key(256), "HS256"), "signature", id="hs256"),
        pytest.param(
            lambda: _id_token(RSAKey.generate_key(2048, parameters={"kid": "k1"})),
            "signature",
            id="another-key",
        ),
        pytest.param(lambda: _id_token(sub=None), "names no subject", id="no-sub"),
    ],
)
def test_bad_id_tokens_are_refused(token: Callable[[], str], message: str) -> None:
    with pytest.raises(id_tokens.SignInRefused, match=message):
        _verify(token())


async def test_a_provider_account_makes_a_team_and_a_colleague_joins_it(
    client: httpx.AsyncClient, idp: Provider
) -> None:
    """The issue's story through the provider: sign in, create a team, switch to it,
    invite a colleague who signs in with the provider too, accepts, and sees only the
    team's projects."""
    lead = await _sign_in(client, _person(idp, _email()))
    lead_auth = {"Authorization": f"Bearer {lead.json()['access_token']}"}
    team = await client.post("/api/v1/tenants", json={"name": "Groceries team"}, headers=lead_auth)
    assert team.status_code == 201, team.text
    switched = await client.post(f"/api/v1/tenants/{team.json()['id']}/token", headers=lead_auth)
    in_team = {"Authorization": f"Bearer {switched.json()['access_token']}"}
    project = await client.post(
        "/api/v1/projects",
        json={"name": "Shared list", "idea_description": "A shared grocery list for families"},
        headers=in_team,
    )
    assert project.status_code == 201, project.text
    colleague_email = _email()
    invitation = await client.post(
        "/api/v1/invitations", json={"email": colleague_email}, headers=in_team
    )
    colleague = await _sign_in(client, _person(idp, colleague_email, name="Bo"))
    colleague_auth = {"Authorization": f"Bearer {colleague.json()['access_token']}"}
    # Their own first sign-in gave them a personal tenant, with nothing of the team's.
    assert (await client.get("/api/v1/projects", headers=colleague_auth)).json()["total"] == 0
    joined = await client.post(
        "/api/v1/invitations/accept",
        json={"token": invitation.json()["token"]},
        headers=colleague_auth,
    )
    assert joined.status_code == 200, joined.text
    in_team_too = {"Authorization": f"Bearer {joined.json()['access_token']}"}
    listed = (await client.get("/api/v1/projects", headers=in_team_too)).json()["items"]
    assert [p["id"] for p in listed] == [project.json()["id"]]
    assert (await _me(client, joined.json()["access_token"]))["role"] == "editor"
