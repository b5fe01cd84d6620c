"""Twenty identical requests at once, for each route that creates or starts something:
every answer is a 2xx or a 409 (never a 5xx), and what must exist once exists once
(SECURITY.md P23; issue 21, "no 5xx and no double work from concurrency")."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

from jeex.db.session import Database
from support.api import LETTER, Caller, create_project
from support.templates import grant_letter

AT_ONCE = 20


async def _at_once(make: Callable[[], Awaitable[httpx.Response]]) -> Counter[int]:
    answers = await asyncio.gather(*(make() for _ in range(AT_ONCE)))
    for answer in answers:
        assert answer.status_code < 500, answer.text
    return Counter(answer.status_code for answer in answers)


async def _count(db: Database, caller: Caller, sql: str, **params: Any) -> int:
    async with db.tenant_session(caller.tenant_id) as session:
        return int((await session.execute(text(sql), params)).scalar_one())


async def test_twenty_identical_creates_and_starts_at_once(
    client: httpx.AsyncClient, alice: Caller, db: Database
) -> None:
    headers = alice.headers
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}"

    started = await _at_once(lambda: client.post(f"{base}/step1", json={}, headers=headers))
    assert started[202] == 1
    assert set(started) <= {202, 409}
    assert await _count(db, alice, "select count(*) from runs where project_id = :p",
                        p=project["id"]) == 1  # fmt: skip
    jobs = "select count(*) from procrastinate_jobs where task_name = 'runs:execute' and args->>'run_id' in (select id::text from runs where project_id = :p)"  # noqa: E501
    assert await _count(db, alice, jobs, p=project["id"]) == 1

    files = {"file": ("notes.md", b"# Notes\n\nA grocery list that syncs.\n", "text/markdown")}
    uploaded = await _at_once(lambda: client.post(f"{base}/exhibits", files=files, headers=headers))
    assert uploaded[202] + uploaded[201] == 1, uploaded
    assert await _count(db, alice, "select count(*) from exhibits where project_id = :p",
                        p=project["id"]) == 1  # fmt: skip

    renamed = await _at_once(
        lambda: client.patch(base, json={"name": "Renamed at once"}, headers=headers)
    )
    assert set(renamed) == {200}

    made = await _at_once(
        lambda: client.post(
            "/api/v1/projects",
            json={"name": "Same name", "idea_description": "A shared grocery list"},
            headers=headers,
        )
    )
    assert set(made) == {201}
    slugs = "select count(distinct slug) from projects where name = 'Same name'"
    assert await _count(db, alice, slugs) == AT_ONCE  # twenty projects, twenty slugs

    letters = await _at_once(lambda: client.post("/api/v1/documents", json=LETTER, headers=headers))
    assert set(letters) <= {201, 202}

    template = grant_letter(f"race_{uuid.uuid4().hex[:6]}").encode()
    yaml = {**headers, "Content-Type": "application/yaml"}
    templates = await _at_once(lambda: client.post("/api/v1/templates", content=template,
                                                   headers=yaml))  # fmt: skip
    assert templates[201] == 1, templates
    assert set(templates) <= {201, 409}

    invited = await _at_once(
        lambda: client.post(
            "/api/v1/invitations", json={"email": "same@example.test"}, headers=headers
        )
    )
    assert set(invited) <= {201, 409}, invited
    pending = (await client.get("/api/v1/invitations", headers=headers)).json()
    assert [p["email"] for p in pending].count("same@example.test") == 1


async def test_twenty_identical_run_controls_at_once(
    client: httpx.AsyncClient, alice: Caller, db: Database
) -> None:
    headers = alice.headers
    project = await create_project(client, alice)
    run = await client.post(f"/api/v1/projects/{project['id']}/step1", json={}, headers=headers)
    assert run.status_code == 202, run.text
    url = f"/api/v1/runs/{run.json()['id']}"

    for action in ("pause", "resume", "cancel"):
        answers = await _at_once(lambda a=action: client.post(f"{url}/{a}", headers=headers))
        assert set(answers) <= {200, 202, 409}, (action, answers)
    retried = await _at_once(lambda: client.post(f"{url}/retry", headers=headers))
    assert set(retried) <= {200, 202, 409}, retried
    live = (
        "select count(*) from procrastinate_jobs where lock = :run and status in ('todo', 'doing')"
    )
    assert await _count(db, alice, live, run=run.json()["id"]) == 1  # queued once, not twenty
    keys = await _at_once(
        lambda: client.post("/api/v1/api-keys", json={"name": "same"}, headers=headers)
    )
    assert set(keys) == {201}
