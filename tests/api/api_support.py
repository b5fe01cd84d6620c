"""Helpers of the API tests: callers (a user with a token and a key), projects, errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from jeex.auth import service as auth_service
from jeex.db.session import Database

SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"


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
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if name is not None:
        assert body["error"] == name, body
