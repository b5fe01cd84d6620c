"""Exports over HTTP: request (202), status, download (counted), 409/410/422, tenancy."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import datetime, timedelta

import httpx

from jeex.config import Settings
from jeex.db.session import Database
from jeex.exports import service as exports_service
from support.api import Caller, assert_error, create_project, make_world


async def _render(db: Database, settings: Settings, caller: Caller, export_id: str) -> None:
    """What the `exports:render` job does on a worker (the test app runs no worker)."""
    await exports_service.execute_export(
        db, settings, tenant_id=caller.tenant_id, export_id=uuid.UUID(export_id)
    )


async def test_an_export_is_requested_rendered_and_downloaded(
    client: httpx.AsyncClient, db: Database, api_settings: Settings, alice: Caller
) -> None:
    world = await make_world(db, client, alice)
    url = f"/api/v1/projects/{world.project_id}/export"
    response = await client.post(
        url, json={"format": "zip", "expires_in_hours": 2}, headers=alice.headers
    )
    assert response.status_code == 202, response.text
    export = response.json()
    assert export["status"] == "pending"
    assert export["download_url"] is None
    assert response.headers["location"] == f"/api/v1/exports/{export['id']}"

    not_yet = await client.get(f"/api/v1/exports/{export['id']}/download", headers=alice.headers)
    assert_error(not_yet, 409, "ExportNotReady")

    await _render(db, api_settings, alice, export["id"])
    ready = (await client.get(f"/api/v1/exports/{export['id']}", headers=alice.headers)).json()
    assert ready["status"] == "ready"
    assert ready["filename"].endswith(".zip")
    assert ready["download_url"] == f"/api/v1/exports/{export['id']}/download"
    lifetime = datetime.fromisoformat(ready["expires_at"]) - datetime.fromisoformat(
        ready["created_at"]
    )
    assert timedelta(hours=1, minutes=59) < lifetime <= timedelta(hours=2, minutes=1)

    download = await client.get(ready["download_url"], headers=alice.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
        about = next(n for n in names if n.endswith("docs/about.md"))
        text = archive.read(about).decode()
    assert "Second line." in text  # the latest version
    assert any(n.endswith("manifest.json") for n in names)
    again = (await client.get(f"/api/v1/exports/{export['id']}", headers=alice.headers)).json()
    assert again["download_count"] == 1
    listed = await client.get(f"/api/v1/projects/{world.project_id}/exports", headers=alice.headers)
    assert export["id"] in [e["id"] for e in listed.json()]


async def test_bad_export_requests_say_what_is_wrong(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    empty = await create_project(client, alice)
    nothing = await client.post(
        f"/api/v1/projects/{empty['id']}/export", json={"format": "pdf"}, headers=alice.headers
    )
    assert_error(nothing, 409, "NothingToExport")
    assert "step 1" in nothing.json()["detail"].lower()

    world = await make_world(db, client, alice)
    url = f"/api/v1/projects/{world.project_id}/export"
    unknown = await client.post(url, json={"format": "odt"}, headers=alice.headers)
    assert_error(unknown, 422, "UnknownExportFormat")
    for name in ("zip", "pdf", "docx", "xlsx", "pptx"):
        assert name in unknown.json()["detail"]
    for body in (
        {"format": "zip", "expires_in_hours": 0},
        {"format": "zip", "expires_in_hours": 169},
        {"format": "zip", "colour": "red"},
        {},
    ):
        assert_error(await client.post(url, json=body, headers=alice.headers), 422)
    missing = await client.get(f"/api/v1/exports/{uuid.uuid4()}", headers=alice.headers)
    assert_error(missing, 404, "NotFound")
    assert_error(await client.get("/api/v1/exports/not-an-id", headers=alice.headers), 422)


async def test_an_expired_export_is_gone_and_another_tenant_sees_nothing(
    client: httpx.AsyncClient, db: Database, api_settings: Settings, alice: Caller, bob: Caller
) -> None:
    world = await make_world(db, client, alice)
    await _render(db, api_settings, alice, world.export_id)
    status = f"/api/v1/exports/{world.export_id}"
    for path in (status, f"{status}/download"):
        assert_error(await client.get(path, headers=bob.headers), 404, "NotFound")
    theirs = await client.post(
        f"/api/v1/projects/{world.project_id}/export", json={"format": "zip"}, headers=bob.headers
    )
    assert_error(theirs, 404, "NotFound")

    later = exports_service.utcnow() + timedelta(days=8)
    assert await exports_service.cleanup_expired(db, api_settings, now=later) >= 1
    assert (await client.get(status, headers=alice.headers)).json()["status"] == "expired"
    gone = await client.get(f"{status}/download", headers=alice.headers)
    assert_error(gone, 410, "ExportExpired")
