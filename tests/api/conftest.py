"""API fixtures: the real app (lifespan included) on the test database, httpx against it,
two tenants with a user, a password, a token and an API key each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from jeex.config import Settings
from jeex.db.session import Database
from jeex.main import create_app
from support.api import SECRET, Caller, make_caller


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_secret_key": SecretStr(SECRET), "log_level": "ERROR"})


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


@pytest.fixture
async def alice(db: Database, client: httpx.AsyncClient) -> Caller:
    return await make_caller(db, client, "alice")


@pytest.fixture
async def bob(db: Database, client: httpx.AsyncClient) -> Caller:
    return await make_caller(db, client, "bob")
