"""Exhibits and search over HTTP: upload (202), processing, search, delete; bad uploads
(413 while streaming, 415, 409, 422) leave no row and no file; another tenant sees nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jeex.config import Settings
from jeex.db.session import Database
from jeex.exhibits import service as exhibits_service
from jeex.queue.app import EXHIBITS_QUEUE
from jeex.retrieval.store import Scope
from support.api import Caller, assert_error, create_project
from support.workers import serve_until

LIMIT = 64 * 1024
NOTES = (
    "# Interview notes\n\n## Pricing\n\n"
    "Families told us they would pay 4 euros a month for a shared list that syncs at once.\n\n"
    "## Habits\n\nMost shopping happens on Saturday mornings, planned on Friday evenings.\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """A small upload limit, so the 413 paths need no large bodies."""
    return api_settings.model_copy(update={"exhibits_max_bytes": LIMIT})


async def _process(app: FastAPI, db: Database, caller: Caller, exhibit_id: str) -> str:
    """What the `exhibits:process` job does on a worker (the test app runs no worker), with
    the app's own vector store (local mode: one owner per folder)."""
    state = app.state.api
    return await exhibits_service.process(
        db,
        state.settings,
        state.retrieval,
        tenant_id=caller.tenant_id,
        exhibit_id=uuid.UUID(exhibit_id),
    )


async def _ready_exhibit(
    app: FastAPI, client: httpx.AsyncClient, db: Database, caller: Caller, base: str
) -> dict[str, Any]:
    """The interview notes uploaded to the project at ``base`` and processed."""
    response = await client.post(
        f"{base}/exhibits", files=_upload("notes.md", NOTES.encode()), headers=caller.headers
    )
    assert response.status_code == 202, response.text
    exhibit: dict[str, Any] = response.json()
    assert await _process(app, db, caller, exhibit["id"]) == "ready"
    return exhibit


def _upload(name: str, data: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, "application/octet-stream")}


def _stored_files(settings: Settings) -> list[Path]:
    root = settings.exhibits_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_an_exhibit_is_uploaded_processed_searched_and_deleted(
    app: FastAPI, client: httpx.AsyncClient, db: Database, api_settings: Settings, alice: Caller
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}"
    response = await client.post(
        f"{base}/exhibits", files=_upload("../../notes.md", NOTES.encode()), headers=alice.headers
    )
    assert response.status_code == 202, response.text
    exhibit = response.json()
    assert (exhibit["status"], exhibit["label"]) == ("pending", "E1")
    assert exhibit["filename"] == "notes.md"  # no folders from the client's name
    assert exhibit["media_type"] == "text/markdown"
    assert response.headers["location"] == f"{base}/exhibits/{exhibit['id']}"

    assert await _process(app, db, alice, exhibit["id"]) == "ready"
    got = (await client.get(f"{base}/exhibits/E1", headers=alice.headers)).json()
    assert got["status"] == "ready"
    assert got["text_chars"] > 100
    listed = (await client.get(f"{base}/exhibits", headers=alice.headers)).json()
    assert [e["id"] for e in listed] == [exhibit["id"]]

    found = await client.get(
        f"{base}/search", params={"q": "how much would families pay"}, headers=alice.headers
    )
    assert found.status_code == 200, found.text
    best = found.json()[0]
    assert best["label"].startswith("E1 §")
    assert "4 euros a month" in best["text"]

    deleted = await client.delete(f"{base}/exhibits/{exhibit['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert_error(await client.get(f"{base}/exhibits/E1", headers=alice.headers), 404, "NotFound")
    after = await client.get(f"{base}/search", params={"q": "pay"}, headers=alice.headers)
    assert all("4 euros" not in p["text"] for p in after.json())
    assert _stored_files(api_settings) == []


async def test_bad_uploads_are_refused_and_leave_nothing_behind(
    client: httpx.AsyncClient, api_settings: Settings, alice: Caller
) -> None:
    project = await create_project(client, alice)
    url = f"/api/v1/projects/{project['id']}/exhibits"
    cases = [
        (_upload("big.md", b"a" * (LIMIT + 10)), 413, "PayloadTooLarge"),  # held while written
        (_upload("huge.md", b"a" * (LIMIT * 4)), 413, "PayloadTooLarge"),  # cut off in transit
        (_upload("photo.md", PNG), 415, "UnsupportedMediaType"),
        (_upload("empty.txt", b""), 422, None),
    ]
    for files, status, name in cases:
        assert_error(await client.post(url, files=files, headers=alice.headers), status, name)
    # No Content-Length (chunked): counted as it arrives and cut off past the limit.
    boundary = "jeexboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.md"\r\n'
        "Content-Type: text/markdown\r\n\r\n"
    ).encode()

    async def chunked() -> AsyncIterator[bytes]:
        yield head
        for _ in range(8):
            yield b"a" * LIMIT
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = await client.post(
        url,
        content=chunked(),
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(streamed, 413, "PayloadTooLarge")
    assert "upload is larger than" in streamed.json()["detail"]  # the middleware, not the file
    no_file = await client.post(url, data={"x": "1"}, headers=alice.headers)
    assert_error(no_file, 422)
    assert (await client.get(url, headers=alice.headers)).json() == []
    assert _stored_files(api_settings) == []

    first = await client.post(url, files=_upload("a.md", NOTES.encode()), headers=alice.headers)
    assert first.status_code == 202
    again = await client.post(url, files=_upload("b.md", NOTES.encode()), headers=alice.headers)
    assert_error(again, 409, "DuplicateExhibit")
    assert len(_stored_files(api_settings)) == 1
    empty_query = await client.get(
        f"/api/v1/projects/{project['id']}/search", params={"q": ""}, headers=alice.headers
    )
    assert_error(empty_query, 422)


async def test_another_tenant_cannot_see_upload_to_or_search_a_project(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}"
    exhibit = await _ready_exhibit(app, client, db, alice, base)
    for method, path in (
        ("GET", f"{base}/exhibits"),
        ("GET", f"{base}/exhibits/{exhibit['id']}"),
        ("DELETE", f"{base}/exhibits/{exhibit['id']}"),
        ("GET", f"{base}/search?q=pay"),
    ):
        assert_error(await client.request(method, path, headers=bob.headers), 404, "NotFound")
    theirs = await client.post(
        f"{base}/exhibits", files=_upload("x.md", b"# Mine\n\ntext"), headers=bob.headers
    )
    assert_error(theirs, 404, "NotFound")
    # Bob's own project with the same file finds only his own passages.
    mine = await create_project(client, bob)
    own = await client.get(
        f"/api/v1/projects/{mine['id']}/search", params={"q": "pay"}, headers=bob.headers
    )
    assert own.status_code == 200
    assert own.json() == []


async def test_deleting_a_project_removes_its_exhibits_files_and_passages(
    app: FastAPI, client: httpx.AsyncClient, db: Database, api_settings: Settings, alice: Caller
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}"
    await _ready_exhibit(app, client, db, alice, base)
    retrieval = app.state.api.retrieval
    scope = Scope(alice.tenant_id, uuid.UUID(project["id"]))
    assert await retrieval.count(scope) > 0
    assert _stored_files(api_settings)

    assert (await client.delete(base, headers=alice.headers)).status_code == 204
    listed = await client.get(f"{base}/exhibits", headers=alice.headers)
    assert_error(listed, 404, "NotFound")  # at once; the files and passages go with the purge

    async def purged() -> bool:
        return await retrieval.count(scope) == 0

    assert await serve_until(
        api_settings, db.url, purged, queues=[EXHIBITS_QUEUE], retrieval=retrieval
    )
    assert _stored_files(api_settings) == []
    async with db.tenant_session(alice.tenant_id) as session:
        assert await exhibits_service.list_(session, project_id=scope.project_id) == []
