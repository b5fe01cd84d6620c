"""``JEEX_RETRIEVAL_ENABLED=false`` (a distributed stack without Qdrant): exhibits are
refused with a 503 that says why, before a byte is stored; the rest of the API works."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from jeex.config import Settings
from jeex.db.session import Database
from support.api import Caller, assert_error, create_project


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"retrieval_enabled": False})


async def test_exhibits_are_refused_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, db: Database, api_settings: Settings, alice: Caller
) -> None:
    assert app.state.api.retrieval is None
    project = await create_project(client, alice)  # the rest of the API is there
    base = f"/api/v1/projects/{project['id']}"

    upload = await client.post(
        f"{base}/exhibits",
        files={"file": ("notes.md", b"# Notes\n\nParents shop on Saturdays.\n", "text/markdown")},
        headers=alice.headers,
    )
    assert_error(upload, 503, "ServiceUnavailable")
    assert "retrieval is off" in upload.json()["detail"]
    search = await client.get(f"{base}/search", params={"q": "saturday"}, headers=alice.headers)
    assert_error(search, 503, "ServiceUnavailable")

    listed = await client.get(f"{base}/exhibits", headers=alice.headers)
    assert listed.status_code == 200
    assert listed.json() == []
    stored = api_settings.exhibits_dir
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
