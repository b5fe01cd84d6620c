"""``/metrics``: what a Prometheus scraping the API or a worker reads, after real work."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jeex import metrics
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.engine.plans import create_plan
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.tenants.service import Principal
from support.api import Caller
from support.cli import jeex_env
from support.factories import project_data
from support.fakellm import ScriptedLLM

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_requests_are_counted_by_route_template_never_by_id(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    missing = uuid.uuid4()
    assert (
        await client.get(f"/api/v1/projects/{missing}", headers=alice.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/projects", headers=alice.headers)).status_code == 200
    assert (await client.get(f"/no/such/{missing}")).status_code == 404
    assert (await client.get(f"/static/{missing}.js")).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    count = "jeex_http_request_duration_seconds_count"
    template = "/api/v1/projects/{project_id}"
    assert (_value(samples, count, method="GET", route=template, status="404") or 0) >= 1
    assert (_value(samples, count, method="GET", route="/api/v1/projects", status="200") or 0) >= 1
    assert (_value(samples, count, method="GET", route="unmatched", status="404") or 0) >= 1
    assert (_value(samples, count, method="GET", route="/static", status="404") or 0) >= 1
    # Bounded labels: no id, no tenant, no e-mail address in any series.
    assert str(missing) not in response.text
    assert str(alice.tenant_id) not in response.text
    assert alice.email not in response.text


async def test_queue_depth_and_runs_by_status_come_from_the_database(
    db: Database, principal: Principal, empty_queue: None
) -> None:
    await create_plan(db, principal, project_data(), steps=(1, 2), model="m")
    await metrics.refresh(db)
    samples = _samples(metrics.render().decode())
    assert _value(samples, "jeex_queue_jobs", queue="runs", status="todo") == 1
    assert (_value(samples, "jeex_runs", status="pending") or 0) >= 2


async def test_a_run_adds_its_sections_tokens_and_llm_calls(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    def read() -> Samples:
        return _samples(metrics.render().decode())

    before = read()
    _, runs = await create_plan(deps.db, principal, project_data(), steps=(1,), model="m")
    run = await execute_run(deps, tenant_id=principal.tenant_id, run_id=runs[0].id)
    after = read()

    def grew(name: str, **labels: str) -> float:
        return (_value(after, name, **labels) or 0) - (_value(before, name, **labels) or 0)

    sections = grew("jeex_sections_completed_total")
    assert sections >= 2  # every section of about.md, and its extraction
    assert grew("jeex_llm_tokens_total", direction="out") >= run.tokens_out > 0
    assert grew("jeex_llm_request_duration_seconds_count", call="stream", outcome="ok") >= 1
    assert grew("jeex_llm_request_duration_seconds_count", call="json", outcome="ok") >= 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def worker_with_metrics(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> Iterator[int]:
    port = _free_port()
    env = jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_EMBEDDINGS_BASE_URL=llm_server.base_url,
        JEEX_DATA_DIR=str(tmp_path / "data"),
    )
    command = [sys.executable, "-m", "jeex", "worker", "--metrics-port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        yield port
        # The run it found waiting is worked off as usual (and counted).
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors


async def test_a_worker_serves_metrics_on_its_own_port(
    db: Database, principal: Principal, worker_with_metrics: int
) -> None:
    await create_plan(db, principal, project_data(), steps=(1,), model="m")
    url = f"http://127.0.0.1:{worker_with_metrics}/metrics"
    deadline = asyncio.get_running_loop().time() + 60
    samples: Samples = {}
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                samples = _samples((await http.get(url)).text)
        except httpx.TransportError:
            samples = {}
        # The gauges appear once the worker read the database.
        if any(name == "jeex_runs" for name, _ in samples):
            break
        await asyncio.sleep(0.5)
    assert any(name == "jeex_runs" for name, _ in samples), "the worker never reported its gauges"
    assert any(name == "jeex_sections_completed_total" for name, _ in samples)
