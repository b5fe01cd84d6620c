"""App-level behaviour: CORS, readiness when a dependency is down, the signing key."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from psycopg_pool import PoolTimeout
from pydantic import SecretStr

from jeex.auth.secret import signing_key
from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.errors import InvalidInput
from jeex.main import create_app
from jeex.web.pages import STATIC
from jeex.worker import QueueWorker
from support.api import Caller, assert_error, create_project, make_caller
from support.servers import free_port


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


async def test_every_response_carries_the_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/static/js/app.js", "/api/v1/health", "/api/v1/projects"):
        response = await client.get(path)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy, path
        assert "script-src 'self'" in policy, path
        assert "img-src 'self'" in policy, path
        assert "unsafe" not in policy, path
        assert response.headers["x-content-type-options"] == "nosniff"
    docs = await client.get("/api/v1/docs")  # Swagger UI's assets come from a CDN
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers


async def test_the_web_ui_is_served_by_the_app_with_no_remote_asset(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in page.text
    script = await client.get("/static/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    remote = re.compile(
        r"""(src|href)=["']?(https?:)?//"""  # <script src>, <link href>, <a href>
        r"""|url\(["']?(https?:)?//"""  # CSS
        r"""|(from|import) ["'](https?:)?//"""  # ES modules
    )
    assert remote.search('<script src="https://cdn.example/x.js">')
    for path in sorted(STATIC.rglob("*.*")):
        asset = f"/static/{path.relative_to(STATIC).as_posix()}"
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert not remote.search(response.text), f"{asset} loads something from elsewhere"
    missing = await client.get("/static/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFound"


async def test_every_operation_says_what_it_does_and_how_it_fails(app: FastAPI) -> None:
    # One handler per action: each has its own summary, docstring and error responses, so
    # OpenAPI (and a grep for the handler) tells a client everything.
    spec = app.openapi()
    vague = []
    for path, operations in spec["paths"].items():
        if path.endswith(("/health", "/ready")):
            continue  # no caller input to refuse; /ready's 503 is its answer body
        for method, operation in operations.items():
            checks = {
                "summary": operation.get("summary"),
                "docstring": operation.get("description"),
                "error responses": [c for c in operation["responses"] if c[0] in "45"],
            }
            name = f"{method.upper()} {path}"
            vague += [f"{name}: no {what}" for what, ok in checks.items() if not ok]
    assert vague == []


async def _search_with(settings: Settings, db: Database) -> httpx.Response:
    """A search on a fresh app with ``settings``: it needs the embedder and vector store."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            caller = await make_caller(db, client, "searcher")
            project = await create_project(client, caller)
            return await client.get(
                f"/api/v1/projects/{project['id']}/search?q=grocery", headers=caller.headers
            )


async def test_a_search_while_the_embeddings_endpoint_is_down_is_a_503(
    api_settings: Settings, db: Database, empty_queue: None
) -> None:
    down = api_settings.model_copy(
        update={"embeddings_base_url": "http://127.0.0.1:9/v1", "embeddings_max_retries": 0}
    )
    response = await _search_with(down, db)
    assert_error(response, 503)
    assert response.headers["Retry-After"] == "5"


async def test_a_search_while_the_vector_store_is_down_is_a_503(
    api_settings: Settings, db: Database, empty_queue: None
) -> None:
    down = api_settings.model_copy(update={"qdrant_url": f"http://127.0.0.1:{free_port()}"})
    response = await _search_with(down, db)
    assert_error(response, 503, "ServiceUnavailable")
    assert "vector store" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


async def test_queued_work_without_a_live_worker_is_not_ready(
    client: httpx.AsyncClient, alice: Caller, database_urls: DatabaseUrls, api_settings: Settings
) -> None:
    """The queue check: a run waits and no worker anywhere has beaten within the stall
    window; once a worker serves, the same work no longer makes the process unready."""
    project = await create_project(client, alice)
    started = await client.post(
        f"/api/v1/projects/{project['id']}/step1", json={}, headers=alice.headers
    )
    assert started.status_code == 202, started.text
    unserved = await client.get("/ready")
    assert unserved.status_code == 503
    assert unserved.json()["queue"] == "failed"
    # A worker that serves only the exports queue is still a live worker.
    worker = QueueWorker(api_settings, app_url=database_urls.app, llm=None, queues=["exports"])
    serving = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/ready")).json()["queue"] == "ok"
    finally:
        worker.stop()
        await asyncio.wait_for(serving, 30)


async def test_a_worker_that_stopped_for_good_fails_liveness(
    app: FastAPI, client: httpx.AsyncClient, api_settings: Settings, database_urls: DatabaseUrls
) -> None:
    """``/health`` fails (so that a supervisor restarts the process) only when its queue
    worker has stopped without being asked to: here it cannot even open its queue."""
    nowhere = database_urls.app.set(port=free_port())
    quick = api_settings.model_copy(update={"database_pool_timeout_seconds": 0.5})
    worker = QueueWorker(quick, app_url=nowhere, llm=None, queues=["exports"])
    with pytest.raises(PoolTimeout):
        await worker.run()
    app.state.api.worker = worker
    health = await client.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "wedged"
    ready = await client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["worker"] == "failed"
