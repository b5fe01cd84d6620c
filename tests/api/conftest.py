"""API fixtures: the real app (lifespan included) on the test database, httpx against it,
two tenants with a user, a password, a token and an API key each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jeex.auth import service as auth_service
from jeex.config import Settings
from jeex.db.session import Database
from jeex.main import create_app

SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"auth_secret_key": __import__("pydantic").SecretStr(SECRET), "log_level": "ERROR"}
    )


@pytest.fixture
async def app(api_settings: Settings, empty_queue: None) -> AsyncIterator[FastAPI]:
    application = create_app(api_settings, workers=0)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c


@dataclass
class Caller:
    """A user of one tenant, with a bearer token and an API key."""

    tenant_slug: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    token: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_caller(db: Database, client: httpx.AsyncClient, name: str) -> Caller:
    slug = f"{name}-{uuid.uuid4().hex[:10]}"
    email = f"{slug}@example.test"
    user = await auth_service.create_user(db, email=email, password=PASSWORD, tenant_slug=slug)
    key, _ = await auth_service.create_api_key(db, tenant_slug=slug, email=email)
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Caller(slug, user.tenant_id, user.user_id, email, response.json()["access_token"], key)


@pytest.fixture
async def alice(db: Database, client: httpx.AsyncClient) -> Caller:
    return await make_caller(db, client, "alice")


@pytest.fixture
async def bob(db: Database, client: httpx.AsyncClient) -> Caller:
    return await make_caller(db, client, "bob")


PROJECT = {
    "name": "Grocery list",
    "idea_description": "A shared grocery list app for families",
    "target_audience": "busy parents",
    "language": "en",
}


async def create_project(client: httpx.AsyncClient, caller: Caller, **overrides: Any) -> Any:
    response = await client.post(
        "/api/v1/projects", json={**PROJECT, **overrides}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, name: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    if name is not None:
        assert body["error"] == name, body
