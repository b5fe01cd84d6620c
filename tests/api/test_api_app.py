"""App-level behaviour: CORS, readiness when a dependency is down, the signing key."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from jeex.auth.secret import signing_key
from jeex.config import Settings
from jeex.errors import InvalidInput
from jeex.main import create_app


async def test_cors_only_for_the_configured_origins(api_settings: Settings) -> None:
    app = create_app(api_settings.model_copy(update={"api_cors_origins": ["https://app.example"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await client.options(
            "/api/v1/projects", headers={"Origin": "https://app.example", **preflight}
        )
        other = await client.options(
            "/api/v1/projects", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_ready_is_503_naming_the_part_that_is_down(
    api_settings: Settings, empty_queue: None
) -> None:
    app = create_app(api_settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            ready = await client.get("/ready")
            health = await client.get("/health")
    assert ready.status_code == 503
    assert ready.json()["llm"] == "failed"
    assert ready.json()["database"] == "ok"
    assert health.status_code == 200


def test_embedded_signing_key_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, auth_secret_key=None)
    first = signing_key(settings)
    assert len(first) >= 32
    assert signing_key(settings) == first
    mode = (tmp_path / "auth-secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_distributed_shape_needs_a_configured_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://x@h/db")
    with pytest.raises(InvalidInput, match="JEEX_AUTH_SECRET_KEY"):
        signing_key(settings)
    configured = settings.model_copy(update={"auth_secret_key": SecretStr("k" * 40)})
    assert signing_key(configured) == "k" * 40


def test_short_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        Settings(auth_secret_key=SecretStr("short"))
