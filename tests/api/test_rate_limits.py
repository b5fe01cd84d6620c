"""Rate limits as a client meets them: exactly N requests, then 429 with ``Retry-After``,
the ``RateLimit-*`` headers and the uniform error body; per address, account and project,
on sign-in, behind a trusted proxy; and one budget shared by two ``jeex serve`` processes
through the Redis on 127.0.0.1:6379."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from jeex.auth import service as auth_service
from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.main import create_app
from support.api import PASSWORD, assert_error, create_project, make_caller
from support.fakellm import ScriptedLLM
from support.servers import serve_env, start_server

REDIS_URL = "redis://127.0.0.1:6379/0"


def limited(settings: Settings, **rates: str) -> Settings:
    return settings.model_copy(update={f"rate_limit_{k}": v for k, v in rates.items()})


@pytest.fixture
async def make_client(
    empty_queue: None,
) -> AsyncIterator[Any]:
    """An app (lifespan included) with the given settings, and an httpx client on it."""
    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(settings: Settings) -> tuple[FastAPI, httpx.AsyncClient]:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        opened.append((lifespan, client))
        return app, client

    yield make
    for lifespan, client in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


def assert_limited(response: httpx.Response, limit: int, words: str) -> None:
    assert_error(response, 429, "RateLimited")
    assert words in response.json()["detail"]
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]


async def test_the_default_address_limit_is_100_a_minute(
    api_settings: Settings, make_client: Any
) -> None:
    defaults = Settings.model_fields
    assert defaults["rate_limit_ip"].default == "100/minute"
    assert defaults["rate_limit_user"].default == "1000/hour"
    assert defaults["rate_limit_project"].default == "500/hour"
    _, client = await make_client(limited(api_settings, ip="100/minute"))
    before = _limited_count(await client.get("/metrics"), "ip")
    remaining = []
    for _ in range(100):
        response = await client.get("/api/v1/kinds")
        assert response.status_code == 401  # counted before credentials are even read
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == list(range(99, -1, -1))
    refused = await client.get("/api/v1/kinds")
    assert_limited(refused, 100, "too many requests from your address: the limit is 100 per minute")
    assert (await client.get("/api/v1/ready")).status_code == 200  # probes are not limited
    # The counter is the process's: other tests in this worker may have been limited too.
    assert _limited_count(await client.get("/metrics"), "ip") == before + 1


def _limited_count(metrics: Any, scope: str) -> float:
    line = f'jeex_rate_limited_total{{scope="{scope}"}} '
    found = [row for row in metrics.text.splitlines() if row.startswith(line)]
    return float(found[0][len(line) :]) if found else 0.0


async def test_accounts_and_projects_have_budgets_of_their_own(
    api_settings: Settings, make_client: Any, db: Database
) -> None:
    _, client = await make_client(limited(api_settings, user="7/minute", project="3/minute"))
    alice, bob = await make_caller(db, client, "alice"), await make_caller(db, client, "bob")
    first = await create_project(client, alice)  # 1 request of alice's 6
    second = await create_project(client, alice)  # 2
    for _ in range(3):  # 3, 4, 5: the first project's 3
        assert (
            await client.get(f"/api/v1/projects/{first['id']}", headers=alice.headers)
        ).is_success
    over_project = await client.get(f"/api/v1/projects/{first['id']}", headers=alice.headers)
    assert_limited(over_project, 3, "too many requests on this project: the limit is 3 per minute")
    # 6 was that refusal; 7: the other project still answers, then alice is out.
    assert (await client.get(f"/api/v1/projects/{second['id']}", headers=alice.headers)).is_success
    over_user = await client.get("/api/v1/projects", headers=alice.headers)
    assert_limited(over_user, 7, "too many requests of this account: the limit is 7 per minute")
    assert (await client.get("/api/v1/projects", headers=bob.headers)).is_success


async def test_sign_in_attempts_are_limited_per_account_even_with_the_right_password(
    api_settings: Settings, make_client: Any, db: Database
) -> None:
    _, client = await make_client(limited(api_settings, signin_account="3/minute"))
    alice = await make_caller(db, client, "alice")  # attempt 1
    bob = await make_caller(db, client, "bob")
    for _ in range(2):  # attempts 2 and 3
        wrong = await client.post(
            "/api/v1/auth/token", data={"username": alice.email, "password": "not-the-password"}
        )
        assert wrong.status_code == 401
    right = await client.post(
        "/api/v1/auth/token", data={"username": alice.email.upper(), "password": PASSWORD}
    )
    assert_limited(right, 3, "too many sign-in attempts for this account")
    other = await client.post(
        "/api/v1/auth/token", data={"username": bob.email, "password": PASSWORD}
    )
    assert other.status_code == 200


async def test_sign_in_attempts_are_limited_per_address(
    api_settings: Settings, make_client: Any
) -> None:
    _, client = await make_client(limited(api_settings, signin_ip="2/minute"))
    for n in range(2):
        wrong = await client.post(
            "/api/v1/auth/token", data={"username": f"u{n}@example.com", "password": "x" * 8}
        )
        assert wrong.status_code == 401
    refused = await client.post(
        "/api/v1/auth/token", data={"username": "u9@example.com", "password": "x" * 8}
    )
    assert_limited(refused, 2, "too many sign-in attempts from your address")


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    api_settings: Settings, make_client: Any
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    _, direct = await make_client(limited(api_settings, ip="2/minute"))
    for n in range(2):
        await direct.get("/api/v1/kinds", headers={"X-Forwarded-For": f"203.0.113.{n}"})
    # A client that writes another address into the header is still itself.
    assert_limited(await direct.get("/api/v1/kinds", headers=spoofed), 2, "your address")

    trusting = limited(api_settings, ip="2/minute").model_copy(
        update={"trusted_proxies": ["127.0.0.0/8"], "rate_limit_prefix": uuid.uuid4().hex}
    )
    _, proxied = await make_client(trusting)
    for _ in range(2):
        assert (await proxied.get("/api/v1/kinds", headers=spoofed)).status_code == 401
    assert_limited(await proxied.get("/api/v1/kinds", headers=spoofed), 2, "your address")
    # Behind the proxy, another client has its own budget; its left-hand claims do not count.
    other = {"X-Forwarded-For": "198.51.100.1, 203.0.113.8"}
    assert (await proxied.get("/api/v1/kinds", headers=other)).status_code == 401


def test_a_rate_that_does_not_parse_is_refused_at_start(api_settings: Settings) -> None:
    with pytest.raises(ValueError, match="'lots' is not a rate: write it like 100/minute"):
        Settings(**{**api_settings.model_dump(), "rate_limit_user": "lots"})
    with pytest.raises(ValueError, match="'10.0.0.300' is not an address or a CIDR network"):
        Settings(**{**api_settings.model_dump(), "trusted_proxies": ["10.0.0.300"]})


async def test_two_servers_share_one_budget_through_redis(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, db: Database
) -> None:
    prefix = f"jeex-test-{secrets.token_hex(6)}"
    env = serve_env(
        database_urls.owner.render_as_string(hide_password=False),
        llm_server.base_url,
        tmp_path / "data",
        secrets.token_urlsafe(48),
    )
    env.update(
        JEEX_REDIS_URL=REDIS_URL,
        JEEX_RATE_LIMIT_PREFIX=prefix,
        JEEX_RATE_LIMIT_IP="off",
        JEEX_RATE_LIMIT_USER="6/minute",
    )
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    await auth_service.create_user(
        db, email=email, password=PASSWORD, tenant_slug=f"t-{uuid.uuid4().hex[:8]}"
    )
    servers = [start_server(env, tmp_path), start_server(env, tmp_path)]
    store = redis.Redis.from_url(REDIS_URL)
    try:
        token = httpx.post(
            f"{servers[0].url}/api/v1/auth/token",
            data={"username": email, "password": PASSWORD},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            httpx.get(f"{servers[n % 2].url}/api/v1/auth/me", headers=headers) for n in range(7)
        ]
        assert [a.status_code for a in answers] == [200] * 6 + [429]
        assert [a.headers.get("RateLimit-Remaining") for a in answers] == [
            "5", "4", "3", "2", "1", "0", "0",
        ]  # fmt: skip
        assert_limited(answers[6], 6, "too many requests of this account")
        assert store.keys(f"{prefix}*")  # the counters are in Redis, under our prefix
    finally:
        for server in servers:
            server.proc.terminate()
            server.proc.wait(timeout=30)
        for key in store.scan_iter(f"{prefix}*"):
            store.delete(key)
        store.close()


async def test_requests_go_through_when_redis_is_down(
    api_settings: Settings, make_client: Any, db: Database
) -> None:
    """Nothing listens on port 1: the counters are unreachable, the API is not."""
    settings = limited(api_settings, ip="1/minute", user="1/minute").model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0"}
    )
    _, client = await make_client(settings)
    alice = await make_caller(db, client, "alice")
    for _ in range(3):
        response = await client.get("/api/v1/auth/me", headers=alice.headers)
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers
