"""``jeex users create`` and ``jeex apikeys create`` (in process), and ``jeex serve --workers 1``
as a real process: the README's curl session (token, project, step 1, events, document)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from jeex.db.urls import DatabaseUrls
from support.api import PROJECT, SECRET, assert_error
from support.cli import ainvoke
from support.fakellm import ScriptedLLM
from support.servers import frames, serve_env, start_server


@pytest.fixture
def env(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> dict[str, str]:
    return serve_env(
        database_urls.owner.render_as_string(hide_password=False),
        llm_server.base_url,
        tmp_path / "data",
        SECRET,
    )


async def test_apikeys_create_makes_tenant_and_user_and_prints_the_key_once(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    result = await ainvoke(
        env, "apikeys", "create", "--tenant", slug, "--email", f"{slug}@x.test", "--json"
    )
    assert result.returncode == 0, result.stderr
    key = json.loads(result.stdout)["key"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["tenant_slug"] == slug
    assert me.json()["authenticated_by"] == "api_key"
    plain = await ainvoke(env, "apikeys", "create", "--tenant", slug, "--email", f"{slug}@x.test")
    assert plain.returncode == 0
    assert plain.stdout.startswith("jeex_")
    assert key not in plain.stdout  # a new key each time; the old one is never shown again

    key_id = json.loads(result.stdout)["id"]
    revoked = await ainvoke(env, "apikeys", "revoke", key_id, "--tenant", slug)
    assert revoked.returncode == 0, revoked.stderr
    again = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert_error(again, 401, "Unauthorized")
    assert (await ainvoke(env, "apikeys", "revoke", key_id, "--tenant", slug)).returncode == 2
    assert (await ainvoke(env, "apikeys", "revoke", "nope", "--tenant", slug)).returncode == 2


async def test_users_create_then_password_login(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    email = f"{slug}@x.test"
    created = await ainvoke(
        {**env, "JEEX_USER_PASSWORD": "a long password"},
        "users", "create", "--email", email, "--tenant", slug, "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    form = {"username": email, "password": "a long password"}
    token = await client.post("/api/v1/auth/token", data=form)
    assert token.status_code == 200, token.text
    form["password"] = "wrong"
    assert_error(await client.post("/api/v1/auth/token", data=form), 401)
    bad = await ainvoke(
        {**env, "JEEX_USER_PASSWORD": "short"}, "users", "create", "--email", email,
        "--tenant", slug,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "8 characters" in bad.stderr
    assert (
        await ainvoke(env, "apikeys", "create", "--tenant", "Not A Slug", "--email", email)
    ).returncode == 2


async def test_serve_with_a_worker_runs_step_1_end_to_end(
    env: dict[str, str], tmp_path: Path
) -> None:
    slug = f"e2e-{uuid.uuid4().hex[:8]}"
    email = f"{slug}@x.test"
    created = await ainvoke({**env, "JEEX_USER_PASSWORD": "pass-word-1"}, "users", "create",
                            "--email", email, "--tenant", slug)  # fmt: skip
    assert created.returncode == 0, created.stderr
    server = start_server(env, tmp_path, "--workers", "1")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            token = await http.post(
                "/api/v1/auth/token", data={"username": email, "password": "pass-word-1"}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            project = (await http.post("/api/v1/projects", json=PROJECT, headers=headers)).json()
            base = f"/api/v1/projects/{project['id']}"
            run = await http.post(f"{base}/step1", json={}, headers=headers)
            assert run.status_code == 202
            seen: list[str] = []
            async with http.stream("GET", f"{base}/progress/stream", headers=headers) as stream:
                frames_ = frames(stream)
                while "run.completed" not in seen and "run.failed" not in seen:
                    frame = await asyncio.wait_for(anext(frames_), 90)
                    seen += [frame.event] if frame.event else []
            assert "run.completed" in seen, seen
            assert seen[0] == "run.queued"
            assert "section.completed" in seen
            documents = (await http.get(f"{base}/documents", headers=headers)).json()
            assert [d["document_type"] for d in documents] == ["about"]
            content = await http.get(
                f"{base}/documents/{documents[0]['id']}/content", headers=headers
            )
            assert content.json()["content"].startswith("# About")
            progress = (await http.get(f"{base}/progress", headers=headers)).json()
            assert progress["percentage"] == 100.0
            assert progress["runs"][0]["sections"][0]["html"].startswith("<")
            # The in-process worker also renders exports (the `exports` queue).
            export = await http.post(f"{base}/export", json={"format": "docx"}, headers=headers)
            assert export.status_code == 202, export.text
            status = export.json()
            for _ in range(120):
                if status["status"] in ("ready", "failed"):
                    break
                await asyncio.sleep(0.5)
                status = (await http.get(export.headers["location"], headers=headers)).json()
            assert status["status"] == "ready", status
            download = await http.get(status["download_url"], headers=headers)
            assert download.status_code == 200
            assert download.content[:2] == b"PK"  # a DOCX is a ZIP container
            run_id = run.json()["id"]
            got = await http.get(
                f"/api/v1/runs/{run_id}", headers={**headers, "X-Request-ID": "trace-me"}
            )
            assert got.headers["X-Request-ID"] == "trace-me"
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)
    assert server.proc.returncode == 0  # a clean exit: exit handlers (embedded PG) ran
    lines = (tmp_path / f"serve-{server.port}.log").read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    traced = next(entry for entry in logged if entry.get("request_id") == "trace-me")
    assert traced["status"] == 200
    assert traced["path"] == f"/api/v1/runs/{run_id}"
    assert traced["tenant_id"]
    assert traced["project_id"] == project["id"]
    assert traced["correlation_id"] == run.json()["correlation_id"]
