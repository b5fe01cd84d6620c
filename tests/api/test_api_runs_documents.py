"""Steps, runs, progress and documents over HTTP (no worker: runs stay queued)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from jeex.db.session import Database
from support.api import Caller, assert_error, create_project, make_world


async def test_step_queues_a_run_with_the_callers_input(
    client: httpx.AsyncClient, alice: Caller, owner_engine: sa.Engine
) -> None:
    project = await create_project(client, alice)
    body = {"user_clarifications": {"Platforms?": "iOS"}, "language": "de"}
    response = await client.post(
        f"/api/v1/projects/{project['id']}/step1", json=body, headers=alice.headers
    )
    assert response.status_code == 202, response.text
    run = response.json()
    assert (run["step"], run["status"], run["agent_type"]) == (1, "pending", "business_analyst")
    assert run["input"] == {
        "idea_description": project["idea_description"],
        "target_audience": "busy parents",
        "user_clarifications": {"Platforms?": "iOS"},
        "language": "de",
        "facts": [],
    }
    with owner_engine.connect() as conn:
        jobs = conn.execute(
            sa.text("select count(*) from procrastinate_jobs where args->>'run_id' = :r"),
            {"r": run["id"]},
        ).scalar_one()
    assert jobs == 1  # queued in the same transaction as the run

    again = await client.post(f"/api/v1/projects/{project['id']}/step2", headers=alice.headers)
    assert_error(again, 409, "Conflict")
    listed = (
        await client.get(f"/api/v1/projects/{project['id']}/runs", headers=alice.headers)
    ).json()
    assert [r["id"] for r in listed] == [run["id"]]
    got = await client.get(f"/api/v1/runs/{run['id']}", headers=alice.headers)
    assert got.json()["correlation_id"] == run["correlation_id"]


async def test_step_bodies_are_validated(client: httpx.AsyncClient, alice: Caller) -> None:
    project = await create_project(client, alice)
    url = f"/api/v1/projects/{project['id']}/step1"
    for body in ({"unknown": 1}, {"language": "zz"}, {"user_clarifications": ["a"]}):
        assert_error(await client.post(url, json=body, headers=alice.headers), 422)
    assert_error(await client.post(f"/api/v1/projects/{project['id']}/step5"), 404)


async def test_pause_resume_cancel_retry_follow_the_run_states(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    project = await create_project(client, alice)
    run = (
        await client.post(f"/api/v1/projects/{project['id']}/step1", headers=alice.headers)
    ).json()
    url = f"/api/v1/runs/{run['id']}"
    paused = await client.post(f"{url}/pause", headers=alice.headers)
    assert paused.json()["status"] == "paused"
    assert_error(await client.post(f"{url}/pause", headers=alice.headers), 409, "InvalidTransition")
    assert (await client.post(f"{url}/resume", headers=alice.headers)).json()["status"] == "pending"
    assert (await client.post(f"{url}/cancel", headers=alice.headers)).json()[
        "status"
    ] == "cancelled"
    assert_error(await client.post(f"{url}/resume", headers=alice.headers), 409)
    assert (await client.post(f"{url}/retry", headers=alice.headers)).json()["status"] == "pending"


async def test_progress_snapshot_has_the_preview_shape(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    world = await make_world(db, client, alice)
    progress = await client.get(
        f"/api/v1/projects/{world.project_id}/progress", headers=alice.headers
    )
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["project_id"] == world.project_id
    assert body["percentage"] == 0.0
    assert [r["id"] for r in body["runs"]] == [world.run_id]
    assert any("run.queued" in line for line in body["log"])
    assert body["last_seq"] >= 1  # where a page that shows this snapshot follows /events from
    assert {"eta_seconds", "elapsed_seconds", "tokens_in", "tokens_out", "cost"} <= set(body)


async def test_documents_content_versions_and_diff(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    world = await make_world(db, client, alice)
    base = f"/api/v1/projects/{world.project_id}/documents"
    h = alice.headers
    latest = (await client.get(base, headers=h)).json()
    assert [(d["document_type"], d["version"]) for d in latest] == [("about", 2)]
    assert latest[0]["grammar_score"] is None

    doc = f"{base}/{world.document_id}"
    markdown = (await client.get(f"{doc}/content", headers=h)).json()
    assert markdown["format"] == "markdown"
    assert "<script>" in markdown["content"]  # stored as written
    html = (await client.get(f"{doc}/content?format=html", headers=h)).json()["content"]
    assert "<h1>About</h1>" in html
    assert "<script" not in html
    assert_error(await client.get(f"{doc}/content?format=pdf", headers=h), 422)
    second = latest[0]["id"]
    html2 = (await client.get(f"{base}/{second}/content?format=html", headers=h)).json()
    assert "evil.test" not in html2["content"]
    assert "<img" not in html2["content"]

    versions = (await client.get(f"{doc}/versions", headers=h)).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert (await client.get(f"{doc}/versions/2", headers=h)).json()["id"] == second
    assert_error(await client.get(f"{doc}/versions/3", headers=h), 404)
    assert_error(await client.get(f"{doc}/versions/0", headers=h), 422)

    diff = (await client.get(f"{doc}/diff?from=1&to=2", headers=h)).json()
    assert "-First line." in diff["diff"]
    assert "+Second line." in diff["diff"]
    assert diff["diff"].startswith("--- about@1\n+++ about@2\n")
    assert_error(await client.get(f"{doc}/diff?from=1", headers=h), 422)
    assert_error(await client.get(f"{doc}/diff?from=1&to=9", headers=h), 404)
