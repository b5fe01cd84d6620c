"""Property-based run of schemathesis against our own OpenAPI (SECURITY.md P23).

The app runs in this process (uvicorn on a loopback port, lifespan and all) on the
test database; every operation is called with generated data and an API key, and
must never answer 5xx nor break its documented status codes, content types and
response schemas. Bounded examples and a fixed seed keep it in the normal suite.
Event streams are left out: a successful call never ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from jeex.auth import service as auth_service
from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.main import create_app
from support.api import SECRET
from support.fakellm import ScriptedLLM
from support.servers import free_port


@pytest.fixture(scope="module")
def api_url(
    database_urls: DatabaseUrls, fake_llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    app_settings = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        database_url=database_urls.owner.render_as_string(hide_password=False),
        llm_base_url=fake_llm.base_url,
        auth_secret_key=SecretStr(SECRET),
        log_level="ERROR",
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(app_settings, workers=0), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started, "the app did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def api_key(database_urls: DatabaseUrls, api_url: str) -> str:
    async def make() -> str:
        db = Database(database_urls.app)
        try:
            key, _ = await auth_service.create_api_key(
                db, tenant_slug="fuzz", email="fuzz@example.test"
            )
            return key
        finally:
            await db.dispose()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/api/v1/openapi.json")


EXCLUDED = ("/events", "/progress/stream")
#: Bodies that are free text to OpenAPI (a template's YAML): any string is schema-valid,
#: whether it is a valid template is the server's own check (a 422 listing its problems).
FREE_TEXT = {("POST", "/api/v1/templates"), ("PUT", "/api/v1/templates/{key}")}


#: The probes answer 503 by design when the process is not ready (here: the runs the fuzzer
#: queued have no worker); their body still has to match the schema.
PROBES = {"/api/v1/ready", "/api/v1/health"}


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    free_text = (operation.method.upper(), operation.path) in FREE_TEXT
    excluded = [schemathesis.checks.positive_data_acceptance] if free_text else []
    if operation.path in PROBES:
        excluded.append(schemathesis.checks.not_a_server_error)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    run()


def test_no_5xx_and_responses_match_the_schema(
    api_schema: schemathesis.BaseSchema, api_key: str
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    fuzzed = [op for op in operations if not op.path.endswith(EXCLUDED)]
    assert len(fuzzed) >= 20
    for operation in fuzzed:
        _fuzz(operation, headers)
