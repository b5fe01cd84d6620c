"""Auth (SECURITY.md P25): tokens and keys verified strictly, revocation immediate,
the tenant from the credential, ``X-Tenant-ID`` only among the caller's memberships."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from jeex.auth import keys
from jeex.auth import service as auth_service
from jeex.db.session import Database
from jeex.tenants.service import ensure_membership
from support.api import PASSWORD, PROJECT, SECRET, Caller, assert_error, create_project

ME = "/api/v1/auth/me"


def _claims(caller: Caller, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": "jeex",
        "aud": "jeex-api",
        "sub": str(caller.user_id),
        "tid": str(caller.tenant_id),
        "ver": 0,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(document: dict[str, object]) -> str:
    raw = json.dumps(document, default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_token_and_key_both_identify_the_caller(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    by_token = (await client.get(ME, headers=alice.headers)).json()
    by_key = (await client.get(ME, headers=alice.key_headers)).json()
    assert by_token["email"] == by_key["email"] == alice.email
    assert by_token["tenant_slug"] == alice.tenant_slug
    assert by_token["role"] == "owner"
    assert (by_token["authenticated_by"], by_key["authenticated_by"]) == ("token", "api_key")


async def test_wrong_password_and_unknown_user_are_the_same_401(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": alice.email, "password": "nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "who@x.test", "password": PASSWORD}
    )
    assert_error(wrong, 401, "Unauthorized")
    assert wrong.json() == unknown.json()
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert_error(await client.post("/api/v1/auth/token", data={"username": alice.email}), 422)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c: jwt.encode(_claims(c), "x" * 40, algorithm="HS256"), id="wrong-key"),
        pytest.param(
            lambda c: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(c))}.", id="alg-none"
        ),
        pytest.param(
            lambda c: jwt.encode(_claims(c), SECRET, algorithm="HS512"),
            id="other-algorithm",
            marks=pytest.mark.filterwarnings("ignore:The HMAC key"),
        ),
        pytest.param(
            lambda c: jwt.encode(
                _claims(c, exp=datetime.now(UTC) - timedelta(seconds=5)), SECRET, algorithm="HS256"
            ),
            id="expired",
        ),
        pytest.param(
            lambda c: jwt.encode(_claims(c, aud="other"), SECRET, algorithm="HS256"), id="aud"
        ),
        pytest.param(
            lambda c: jwt.encode(_claims(c, iss="other"), SECRET, algorithm="HS256"), id="iss"
        ),
        pytest.param(
            lambda c: jwt.encode(_claims(c, typ="refresh"), SECRET, algorithm="HS256"), id="typ"
        ),
        pytest.param(
            lambda c: jwt.encode(_claims(c, exp=None), SECRET, algorithm="HS256"), id="no-exp"
        ),
        pytest.param(lambda c: "not.a.jwt", id="garbage"),
        pytest.param(lambda c: c.key[:-2] + "xx", id="key-wrong-secret"),
        pytest.param(lambda c: f"jeex_{uuid.uuid4().hex}_{c.key.split('_')[2]}_x", id="key-tenant"),
    ],
)
async def test_forged_expired_or_malformed_credentials_are_401(
    client: httpx.AsyncClient, alice: Caller, forge: object
) -> None:
    token = forge(alice)  # type: ignore[operator]
    assert_error(await client.get(ME, headers=_bearer(token)), 401, "Unauthorized")


async def test_a_correctly_minted_token_is_accepted(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    """The forgery cases above fail for their flaw, not for a mistake in _claims."""
    token = jwt.encode(_claims(alice), SECRET, algorithm="HS256")
    assert (await client.get(ME, headers=_bearer(token))).status_code == 200


async def test_missing_credentials_are_401(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(ME), 401, "Unauthorized")
    assert_error(await client.get(ME, headers={"Authorization": "Basic abc"}), 401)
    assert_error(await client.get("/api/v1/projects"), 401)


async def test_logout_revokes_tokens_at_once_but_not_keys(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    assert (await client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204
    assert_error(await client.get(ME, headers=alice.headers), 401)
    assert (await client.get(ME, headers=alice.key_headers)).status_code == 200
    fresh = await client.post(
        "/api/v1/auth/token", data={"username": alice.email, "password": PASSWORD}
    )
    assert (await client.get(ME, headers=_bearer(fresh.json()["access_token"]))).status_code == 200


async def test_a_revoked_key_fails_on_the_next_request(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    key, key_id = await auth_service.create_api_key(
        db, tenant_slug=alice.tenant_slug, email=alice.email
    )
    assert (await client.get(ME, headers=_bearer(key))).status_code == 200
    assert await auth_service.revoke_api_key(db, tenant_id=alice.tenant_id, key_id=key_id)
    assert_error(await client.get(ME, headers=_bearer(key)), 401, "Unauthorized")


async def test_keys_are_stored_hashed(db: Database, alice: Caller) -> None:
    parsed = keys.parse(alice.key)
    assert parsed is not None
    async with db.tenant_session(alice.tenant_id) as session:
        from sqlalchemy import select

        from jeex.tenants.models import ApiKey

        stored = (await session.scalars(select(ApiKey.key_hash))).all()
    assert keys.hash_secret(parsed.secret) in stored
    assert all(parsed.secret not in h for h in stored)


async def test_x_tenant_id_chooses_only_among_memberships(
    client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    await create_project(client, bob, name="Bob's")
    into_bob = {**alice.headers, "X-Tenant-ID": str(bob.tenant_id)}
    assert_error(await client.get("/api/v1/projects", headers=into_bob), 403, "Forbidden")
    unknown = {**alice.headers, "X-Tenant-ID": str(uuid.uuid4())}
    assert (await client.get("/api/v1/projects", headers=unknown)).json() == (
        await client.get("/api/v1/projects", headers=into_bob)
    ).json()
    assert_error(await client.get(ME, headers={**alice.headers, "X-Tenant-ID": "nope"}), 422)
    key_elsewhere = {**alice.key_headers, "X-Tenant-ID": str(bob.tenant_id)}
    assert_error(await client.get(ME, headers=key_elsewhere), 403)

    async with db.tenant_session(bob.tenant_id) as session:
        await ensure_membership(session, user_id=alice.user_id, tenant_id=bob.tenant_id)
    listed = (await client.get("/api/v1/projects", headers=into_bob)).json()
    assert [p["name"] for p in listed["items"]] == ["Bob's"]
    me = (await client.get(ME, headers=into_bob)).json()
    assert me["tenant_slug"] == bob.tenant_slug


async def test_login_can_name_the_tenant(client: httpx.AsyncClient, alice: Caller) -> None:
    form = {"username": alice.email, "password": PASSWORD, "tenant": alice.tenant_slug}
    token = (await client.post("/api/v1/auth/token", data=form)).json()
    assert token["token_type"] == "bearer"
    assert token["tenant_id"] == str(alice.tenant_id)
    assert 0 < token["expires_in"] <= 3600
    form["tenant"] = "no-such-tenant"
    assert_error(await client.post("/api/v1/auth/token", data=form), 401)


async def test_login_into_a_tenant_without_membership_is_401(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    form = {"username": alice.email, "password": PASSWORD, "tenant": bob.tenant_slug}
    assert_error(await client.post("/api/v1/auth/token", data=form), 401, "Unauthorized")


async def test_viewers_read_but_cannot_change(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    project = await create_project(client, alice)
    email = f"viewer-{uuid.uuid4().hex[:8]}@x.test"
    await auth_service.create_user(
        db, email=email, password=PASSWORD, tenant_slug=alice.tenant_slug, role="viewer"
    )
    form = {"username": email, "password": PASSWORD}
    token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
    viewer = _bearer(token)
    url = f"/api/v1/projects/{project['id']}"
    assert (await client.get(url, headers=viewer)).status_code == 200
    assert_error(await client.patch(url, json={"name": "x"}, headers=viewer), 403, "Forbidden")
    assert_error(await client.post(f"{url}/step1", headers=viewer), 403)
    assert_error(await client.delete(url, headers=viewer), 403)
    assert_error(await client.post("/api/v1/projects", json=PROJECT, headers=viewer), 403)
