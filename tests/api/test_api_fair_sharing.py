"""Fair sharing between tenants (issue 21, part 3) on the embedded shape's one process:
the app with its in-process worker (one run slot, one exhibit slot, one export slot) and
the bundled embedder, as ``jeex serve`` runs them.

- Tenant A's large exhibit is being indexed (its progress reported); tenant B searches
  (answer in ≤ 2 s), starts a run (started in ≤ 5 s) and exports, all while A's exhibit
  is still pending.
- Tenant A's run holds the only run slot; tenant B's run starts within 5 s all the same:
  A's run hands its slot over at a section boundary and continues afterwards.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jeex.config import Settings
from jeex.db.session import Database
from jeex.events import service as events_service
from jeex.events.models import Event
from jeex.main import create_app
from support.api import Caller, create_project, make_world
from support.fakellm import ScriptedLLM

PASSAGE_LIMIT = 32
#: One passage of the large exhibit: distinct text, about a chunk long.
PARAGRAPH = (
    "Section {n}. The warehouse team counts pallets of flour, rice and canned tomatoes "
    "every morning; shipment {n} left the loading dock at {h} o'clock with {k} crates, "
    "and the driver signed the manifest after checking the seals on each container. "
)
NOTES = (
    "# Interview notes\n\n## Pricing\n\n"
    "Families told us they would pay 4 euros a month for a shared list that syncs at once.\n"
)


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(
        update={
            "queue_poll_seconds": 0.2,
            "queue_shutdown_seconds": 1.0,
            "queue_fair_share_grace_seconds": 1.0,
            "exhibits_max_passages": PASSAGE_LIMIT,
            "embeddings_batch_size": 4,
        }
    )


@pytest.fixture
async def app(api_settings: Settings, empty_queue: None) -> AsyncIterator[FastAPI]:
    """The app with its in-process worker: one slot per lane."""
    application = create_app(api_settings, workers=1)
    async with application.router.lifespan_context(application):
        yield application


async def _until(
    check: Callable[[], Awaitable[Any]], *, timeout: float, every: float = 0.1
) -> tuple[Any, float]:
    """The first truthy ``check()`` and the seconds it took; fails after ``timeout``."""
    start = time.monotonic()
    while True:
        value = await check()
        if value:
            return value, time.monotonic() - start
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        await asyncio.sleep(every)


async def _exhibit(client: httpx.AsyncClient, caller: Caller, url: str) -> dict[str, Any]:
    response = await client.get(url, headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _upload(
    client: httpx.AsyncClient, caller: Caller, project: dict[str, Any], name: str, data: bytes
) -> str:
    response = await client.post(
        f"/api/v1/projects/{project['id']}/exhibits",
        files={"file": (name, data, "application/octet-stream")},
        headers=caller.headers,
    )
    assert response.status_code == 202, response.text
    return str(response.headers["location"])


async def _run(client: httpx.AsyncClient, caller: Caller, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await client.get(f"/api/v1/runs/{run_id}", headers=caller.headers)
    ).json()
    return body


async def _events(db: Database, caller: Caller, project: dict[str, Any]) -> list[Event]:
    """The project's event log, as its SSE stream replays it."""
    async with db.tenant_session(caller.tenant_id) as session:
        return await events_service.list_after(session, project_id=uuid.UUID(project["id"]))


async def test_a_large_exhibit_never_holds_up_another_tenants_search_run_or_export(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    # B's material, indexed before A's upload, and a project of B's with its documents.
    b_written = await make_world(db, client, bob)
    cancelled = await client.post(f"/api/v1/runs/{b_written.run_id}/cancel", headers=bob.headers)
    assert cancelled.status_code == 200, cancelled.text  # its documents are what B exports
    b_project = await create_project(client, bob)
    b_notes = await _upload(client, bob, b_project, "notes.md", NOTES.encode())
    await _until(lambda: _ready(client, bob, b_notes), timeout=60)

    # A's exhibit: about twice the passages one exhibit may index (4 paragraphs a passage);
    # partial indexing itself is tested in tests/exhibits/test_exhibits_service.py.
    big = "".join(
        PARAGRAPH.format(n=n, h=n % 24, k=n * 7) + "\n\n" for n in range(PASSAGE_LIMIT * 8)
    )
    a_project = await create_project(client, alice)
    a_big = await _upload(client, alice, a_project, "warehouse.txt", big.encode())
    before = await _exhibit(client, alice, a_big)
    assert before["status"] == "pending"
    assert before["estimated_passages"] > 0
    assert before["estimated_seconds"] > 0
    progress, _ = await _until(lambda: _indexing(client, alice, a_big), timeout=60)

    # B searches, starts a run and exports while A's exhibit is being indexed.
    search_started = time.monotonic()
    found = await client.get(
        f"/api/v1/projects/{b_project['id']}/search", params={"q": "what families would pay"},
        headers=bob.headers,
    )  # fmt: skip
    search_seconds = time.monotonic() - search_started
    assert found.status_code == 200, found.text
    assert "4 euros" in found.json()[0]["text"]
    assert search_seconds <= 2.0, f"B's search took {search_seconds:.1f} s"

    started = await client.post(f"/api/v1/projects/{b_project['id']}/step1", headers=bob.headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    _, run_wait = await _until(lambda: _started(client, bob, run_id), timeout=5.0)
    export = await client.post(
        f"/api/v1/projects/{b_written.project_id}/export", json={"format": "zip"},
        headers=bob.headers,
    )  # fmt: skip
    assert export.status_code == 202, export.text
    export_url = f"/api/v1/exports/{export.json()['id']}"
    await _until(lambda: _export_ready(client, bob, export_url), timeout=30)
    meanwhile = await _exhibit(client, alice, a_big)
    assert meanwhile["status"] == "pending", "A's exhibit finished before B was served"
    assert meanwhile["passages_indexed"] >= progress["passages_indexed"]

    kinds = [e.type for e in await _events(db, alice, a_project)]
    assert "exhibit.progress" in kinds
    # Deleting A's exhibit stops its indexing at the next batch (the worker is free again).
    deleted = await client.delete(a_big, headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    print(
        f"B: search {search_seconds:.2f} s, run started after {run_wait:.2f} s; "
        f"A's exhibit had {meanwhile['passages_indexed']} of {PASSAGE_LIMIT} indexed by then"
    )


async def _turns(client: httpx.AsyncClient) -> float:
    """``jeex_run_turns_handed_over_total`` as ``/metrics`` shows it."""
    text = (await client.get("/metrics")).text
    found = re.search(r"^jeex_run_turns_handed_over_total (\S+)$", text, re.MULTILINE)
    assert found, "the counter is not exported"
    return float(found.group(1))


async def _ready(client: httpx.AsyncClient, caller: Caller, url: str) -> dict[str, Any] | None:
    exhibit = await _exhibit(client, caller, url)
    assert exhibit["status"] != "failed", exhibit["error"]
    return exhibit if exhibit["status"] == "ready" else None


async def _indexing(client: httpx.AsyncClient, caller: Caller, url: str) -> dict[str, Any] | None:
    exhibit = await _exhibit(client, caller, url)
    assert exhibit["status"] == "pending", "indexed before the test could look"
    return exhibit if exhibit["passages_indexed"] > 0 else None


async def _started(client: httpx.AsyncClient, caller: Caller, run_id: str) -> bool:
    return (await _run(client, caller, run_id))["status"] in ("running", "completed")


async def _completed(client: httpx.AsyncClient, caller: Caller, run_id: str) -> bool:
    run = await _run(client, caller, run_id)
    assert run["status"] not in ("failed", "cancelled"), run
    return bool(run["status"] == "completed")


async def _export_ready(client: httpx.AsyncClient, caller: Caller, url: str) -> bool:
    export = (await client.get(url, headers=caller.headers)).json()
    assert export["status"] != "failed", export
    return bool(export["status"] == "ready")


async def test_one_tenants_run_hands_its_slot_to_another_tenants_waiting_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    llm_server: ScriptedLLM,
    alice: Caller,
    bob: Caller,
) -> None:
    llm_server.seconds_per_token = 0.004  # a section takes about a second
    turns_before = await _turns(client)
    a_project = await create_project(client, alice)
    a_run = (
        await client.post(f"/api/v1/projects/{a_project['id']}/step1", headers=alice.headers)
    ).json()["id"]
    await _until(lambda: _started(client, alice, a_run), timeout=10)

    b_project = await create_project(client, bob)
    b_run = (
        await client.post(f"/api/v1/projects/{b_project['id']}/step1", headers=bob.headers)
    ).json()["id"]
    _, waited = await _until(lambda: _started(client, bob, b_run), timeout=5.0)
    assert (await _run(client, alice, a_run))["status"] != "completed"

    llm_server.seconds_per_token = 0.0
    await _until(lambda: _completed(client, bob, b_run), timeout=60)
    await _until(lambda: _completed(client, alice, a_run), timeout=60)
    handed = [
        e for e in await _events(db, alice, a_project)
        if e.type == "run.queued" and e.data.get("reason") == "another tenant's run is waiting"
    ]  # fmt: skip
    assert handed, "A's run never handed its slot over"
    assert await _turns(client) >= turns_before + len(handed)  # what an operator sees
    for project, caller in ((a_project, alice), (b_project, bob)):
        written = [
            e.data.get("key")
            for e in await _events(db, caller, project)
            if e.type == "section.completed"
        ]
        assert written, "no section was written"
        assert len(written) == len(set(written)), "a section was written twice"
    print(f"B's run started after {waited:.2f} s")
