"""The document monitor over HTTP: a petition with exhibits under the ids its user chose,
written by the engine (the job's own function, the scripted LLM, the app's real vector
store), paused and resumed by the specification's rules, previewed from one query,
downloaded as a PDF; bad input gets a clear 4xx and writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from jeex.config import Settings
from jeex.db.session import Database
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.exhibits import service as exhibits_service
from jeex.llm.client import LLMClient
from support.api import Caller, assert_error, create_project
from support.fakellm import ScriptedLLM
from support.templates import grant_letter, upload

AWARD = b"# Award\n\nDr. Ana Ruiz received the Lindqvist Prize for Computational Biology 2024.\n"
MEMBERSHIP = (
    b"# Membership\n\nDr. Ana Ruiz was elected Fellow of the Royal Society of Biology, "
    b"which admits members for outstanding achievements only.\n"
)
ARTICLE = (
    b"# Article\n\nRuiz A. et al., Protein folding at scale, Nature 612 (2024), "
    b"cited 1,400 times.\n"
)
PETITION = {
    "kind": "petition",
    "title": "EB-1A petition for Dr. Ana Ruiz",
    "case_ref": "2026-EB1-014",
    "inputs": {"beneficiary": "Dr. Ana Ruiz", "field": "computational biology"},
}


def _upload(name: str, data: bytes, label: str | None = None) -> dict[str, Any]:
    extra = {"data": {"exhibit_id": label}} if label is not None else {}
    return {"files": {"file": (name, data, "application/octet-stream")}, **extra}


async def _process(app: FastAPI, db: Database, caller: Caller, exhibit_id: str) -> str:
    """What the ``exhibits:process`` job does (the test app runs no worker)."""
    state = app.state.api
    return await exhibits_service.process(
        db, state.settings, state.retrieval, tenant_id=caller.tenant_id,
        exhibit_id=uuid.UUID(exhibit_id),
    )  # fmt: skip


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())  # noqa: S608


@pytest.fixture
def deps(app: FastAPI, db: Database, llm: LLMClient) -> RunnerDeps:
    state = app.state.api
    return RunnerDeps(db=db, llm=llm, settings=state.settings, retrieval=state.retrieval)


async def test_a_petition_cites_its_exhibits_survives_a_pause_and_downloads_as_pdf(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    alice: Caller,
    deps: RunnerDeps,
    llm_server: ScriptedLLM,
    api_settings: Settings,
) -> None:
    created = await client.post(
        "/api/v1/documents", json={**PETITION, "generate": False}, headers=alice.headers
    )
    assert created.status_code == 202, created.text
    doc = created.json()
    assert doc["status"] == "idle"
    assert doc["run_id"] is None
    base = f"/api/v1/documents/{doc['id']}"
    assert created.headers["Location"] == base

    for name, data, label in (
        ("award.md", AWARD, "1.1.A"),
        ("membership.md", MEMBERSHIP, "1.2.B"),
        ("article.md", ARTICLE, "2.6-C"),
    ):
        uploaded = await client.post(
            f"{base}/exhibits", **_upload(name, data, label), headers=alice.headers
        )
        assert uploaded.status_code == 202, uploaded.text
        assert uploaded.json()["label"] == label
        assert await _process(app, db, alice, uploaded.json()["id"]) == "ready"

    # The original bytes come back as a download, by the id the user gave (any case).
    download = await client.get(f"{base}/exhibits/1.1.a/file", headers=alice.headers)
    assert download.status_code == 200
    assert download.content == AWARD
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"

    started = await client.post(f"{base}/generate", headers=alice.headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "generating"
    run_id = started.json()["run_id"]
    again = await client.post(f"{base}/generate", headers=alice.headers)
    assert_error(again, 409, "Conflict")
    assert "generating" in again.json()["detail"]

    paused = await client.post(f"{base}/pause", headers=alice.headers)
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    listed = (await client.get("/api/v1/documents", headers=alice.headers)).json()
    assert [(d["id"], d["status"]) for d in listed] == [(doc["id"], "paused")]
    twice = await client.post(f"{base}/pause", headers=alice.headers)
    assert_error(twice, 409, "Conflict")
    assert "paused" in twice.json()["detail"]
    resumed = await client.post(f"{base}/resume", headers=alice.headers)
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "generating"
    not_paused = await client.post(f"{base}/resume", headers=alice.headers)
    assert_error(not_paused, 409, "Conflict")
    assert "generating" in not_paused.json()["detail"]
    early = await client.get(f"{base}/pdf", headers=alice.headers)
    assert_error(early, 409, "Conflict")

    llm_server.script_text(
        "Section: III. Criterion 2.1 – Awards",
        "Dr. Ana Ruiz received the Lindqvist Prize, a national award for excellence [1.1.A §1].",
    )
    llm_server.script_text(
        "Section: IV. Criterion 2.2 – Memberships",
        "She is a Fellow of the Royal Society of Biology, which admits only outstanding "
        "scientists [1.2.B §1].",
    )
    llm_server.script_text(
        "Section: V. Criterion 2.6 – Scholarly articles",
        "Her article on protein folding in Nature was cited 1,400 times [2.6-C §1].",
    )
    run = await execute_run(deps, tenant_id=alice.tenant_id, run_id=uuid.UUID(run_id))
    assert run.status == "completed", run.error

    preview = (await client.get(f"{base}/preview", headers=alice.headers)).json()
    assert preview["status"] == "completed"
    assert [s["section_name"] for s in preview["sections"]] == [
        "I. Introduction",
        "II. Beneficiary background",
        "III. Criterion 2.1 – Awards",
        "IV. Criterion 2.2 – Memberships",
        "V. Criterion 2.6 – Scholarly articles",
    ]
    assert all(s["status"] == "completed" and s["content_html"] for s in preview["sections"])
    assert "[1.1.A §1]" in preview["sections"][2]["content_html"]
    assert preview["metadata"]["progress_percentage"] == 100.0
    assert preview["metadata"]["completed_sections"] == preview["metadata"]["total_sections"]
    assert [e["exhibit_id"] for e in preview["exhibits"]] == ["1.1.A", "1.2.B", "2.6-C"]
    assert preview["exhibits"][0]["download_url"] == f"{base}/exhibits/1.1.A/file"
    messages = [line["message"] for line in preview["logs"]]
    assert "Exhibit 1.2.B uploaded: membership.md" in messages
    assert "Paused" in messages
    assert "Resumed" in messages
    assert messages[-1] == "Completed"

    documents = (
        await client.get(f"/api/v1/projects/{doc['id']}/documents", headers=alice.headers)
    ).json()
    content = (
        await client.get(
            f"/api/v1/projects/{doc['id']}/documents/{documents[0]['id']}/content",
            headers=alice.headers,
        )
    ).json()["content"]
    for label in ("1.1.A", "1.2.B", "2.6-C"):
        assert f"[{label} §1]" in content  # cited in the text and listed under Sources
        assert f"- [{label} §1]" in content

    pdf = await client.get(f"{base}/pdf", headers=alice.headers)
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment")
    stored = list((api_settings.data_dir / "exports").rglob("*.pdf"))
    assert len(stored) == 1
    modified = stored[0].stat().st_mtime_ns
    second = await client.get(f"{base}/pdf", headers=alice.headers)
    assert second.content == pdf.content
    assert stored[0].stat().st_mtime_ns == modified  # served from storage, not rendered again

    listed = (await client.get("/api/v1/documents", headers=alice.headers)).json()
    assert [(d["id"], d["kind"], d["status"]) for d in listed] == [
        (doc["id"], "petition", "completed")
    ]
    plans = (await client.get("/api/v1/projects", headers=alice.headers)).json()
    assert doc["id"] not in [p["id"] for p in plans["items"]]


async def test_bad_input_gets_a_clear_error_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Caller, owner_engine: sa.Engine
) -> None:
    before = {t: _count(owner_engine, t) for t in ("projects", "runs", "exhibits")}
    cases = [
        ({**PETITION, "kind": "novel"}, "unknown"),
        ({**PETITION, "kind": "about"}, "step of the plan"),
        ({**PETITION, "inputs": {"field": "biology"}}, "'beneficiary'"),
        ({**PETITION, "inputs": {**PETITION["inputs"], "shoe_size": "42"}}, "unknown input"),
        ({**PETITION, "inputs": {**PETITION["inputs"], "field": "x" * 201}}, "longer than"),
        ({**PETITION, "title": "  \u200b "}, "title"),
        ({**PETITION, "exhibit_ids": [str(uuid.uuid4())]}, "no exhibit"),
    ]
    for body, needle in cases:
        response = await client.post("/api/v1/documents", json=body, headers=alice.headers)
        assert response.status_code in (404, 409, 422), response.text
        assert needle in response.text, (needle, response.text)
    assert {t: _count(owner_engine, t) for t in before} == before

    doc = (
        await client.post(
            "/api/v1/documents", json={**PETITION, "generate": False}, headers=alice.headers
        )
    ).json()
    base = f"/api/v1/documents/{doc['id']}"
    for action, state in (("pause", "idle"), ("resume", "idle"), ("cancel", "idle")):
        refused = await client.post(f"{base}/{action}", headers=alice.headers)
        assert_error(refused, 409, "Conflict")
        assert state in refused.json()["detail"]
    first = await client.post(
        f"{base}/exhibits", **_upload("a.md", AWARD, "1.1.A"), headers=alice.headers
    )
    assert first.status_code == 202, first.text
    exhibits = _count(owner_engine, "exhibits")
    taken = await client.post(
        f"{base}/exhibits", **_upload("b.md", ARTICLE, "1.1.a"), headers=alice.headers
    )
    assert_error(taken, 409, "DuplicateExhibit")
    assert "'1.1.a' is already taken by 'a.md'" in taken.json()["detail"]
    for label in ("../x", "a b", "-a", "x" * 41):
        bad = await client.post(
            f"{base}/exhibits", **_upload("c.md", MEMBERSHIP, label), headers=alice.headers
        )
        assert bad.status_code == 422, (label, bad.text)
    assert _count(owner_engine, "exhibits") == exhibits
    stored = [p for p in app.state.api.settings.exhibits_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1  # the refused uploads left no file

    plan = await create_project(client, alice)
    for path in ("", "/preview", "/pdf"):
        assert_error(
            await client.get(f"/api/v1/documents/{plan['id']}{path}", headers=alice.headers), 404
        )
    step = await client.post(f"/api/v1/projects/{doc['id']}/step1", headers=alice.headers)
    assert_error(step, 409, "Conflict")


async def test_automatic_labels_are_never_given_twice_or_renumbered(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}/exhibits"
    labels = []
    for index in range(3):
        response = await client.post(
            base, **_upload(f"n{index}.md", b"# Note %d\n\nText.\n" % index), headers=alice.headers
        )
        labels.append(response.json()["label"])
    assert labels == ["E1", "E2", "E3"]
    assert (await client.delete(f"{base}/E2", headers=alice.headers)).status_code == 204
    fourth = await client.post(
        base, **_upload("n4.md", b"# Four\n\nText.\n"), headers=alice.headers
    )
    assert fourth.json()["label"] == "E4"
    listed = (await client.get(base, headers=alice.headers)).json()
    assert [e["label"] for e in listed] == ["E1", "E3", "E4"]
    third = await client.get(f"{base}/E3/file", headers=alice.headers)
    assert third.content == b"# Note 2\n\nText.\n"


async def test_a_cancelled_and_rerun_step_reaches_100_percent(
    client: httpx.AsyncClient, alice: Caller, deps: RunnerDeps
) -> None:
    project = await create_project(client, alice)
    base = f"/api/v1/projects/{project['id']}"
    first = (await client.post(f"{base}/step1", headers=alice.headers)).json()
    cancelled = await client.post(f"/api/v1/runs/{first['id']}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200, cancelled.text
    second = (await client.post(f"{base}/step1", headers=alice.headers)).json()
    run = await execute_run(deps, tenant_id=alice.tenant_id, run_id=uuid.UUID(second["id"]))
    assert run.status == "completed"

    progress = (await client.get(f"{base}/progress", headers=alice.headers)).json()
    assert progress["percentage"] == 100.0
    assert [r["id"] for r in progress["runs"]] == [second["id"]]
    preview = (await client.get(f"{base}/preview", headers=alice.headers)).json()
    assert preview["status"] == "completed"
    assert preview["metadata"]["progress_percentage"] == 100.0
    assert [s["section_name"] for s in preview["sections"]][:2] == ["Problem", "Target audience"]


async def test_another_tenant_sees_none_of_it(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    doc = (
        await client.post(
            "/api/v1/documents", json={**PETITION, "generate": False}, headers=alice.headers
        )
    ).json()
    base = f"/api/v1/documents/{doc['id']}"
    await client.post(f"{base}/exhibits", **_upload("a.md", AWARD, "1.1.A"), headers=alice.headers)
    for method, path in (
        ("GET", ""),
        ("GET", "/preview"),
        ("GET", "/pdf"),
        ("GET", "/exhibits"),
        ("GET", "/exhibits/1.1.A/file"),
        ("POST", "/generate"),
        ("POST", "/pause"),
        ("DELETE", "/exhibits/1.1.A"),
    ):
        response = await client.request(method, f"{base}{path}", headers=bob.headers)
        assert_error(response, 404, "NotFound")
    assert (await client.get("/api/v1/documents", headers=bob.headers)).json() == []
    mine = (await client.get("/api/v1/documents", headers=alice.headers)).json()
    assert [(d["id"], d["status"]) for d in mine] == [(doc["id"], "idle")]  # never generated


async def test_a_tenant_kind_is_written_from_the_version_its_run_pinned(
    client: httpx.AsyncClient, alice: Caller, deps: RunnerDeps, llm_server: ScriptedLLM
) -> None:
    await upload(client, alice, grant_letter("foundation_letter"))
    kinds = (await client.get("/api/v1/kinds", headers=alice.headers)).json()
    assert "foundation_letter" in [k["key"] for k in kinds if k["source"] == "tenant"]
    body = {"kind": "foundation_letter", "title": "Grant for the community garden"}
    started = (await client.post("/api/v1/documents", json=body, headers=alice.headers)).json()
    assert started["status"] == "generating"

    # Edited after the run was queued: the run still writes version 1's sections.
    edited = grant_letter("foundation_letter").replace("title: Closing", "title: Thanks")
    revised = await client.put(
        "/api/v1/templates/foundation_letter",
        content=edited.encode(),
        headers={**alice.headers, "Content-Type": "application/yaml"},
    )
    assert revised.status_code == 200, revised.text
    run = await execute_run(deps, tenant_id=alice.tenant_id, run_id=uuid.UUID(started["run_id"]))
    assert run.status == "completed", run.error
    base = f"/api/v1/documents/{started['id']}"
    preview = (await client.get(f"{base}/preview", headers=alice.headers)).json()
    assert [s["section_name"] for s in preview["sections"]] == ["The ask", "Closing"]

    # Written again, it takes the current version; a retired kind starts nothing new.
    again = (await client.post(f"{base}/generate", headers=alice.headers)).json()
    await execute_run(deps, tenant_id=alice.tenant_id, run_id=uuid.UUID(again["run_id"]))
    preview = (await client.get(f"{base}/preview", headers=alice.headers)).json()
    assert [s["section_name"] for s in preview["sections"]] == ["The ask", "Thanks"]
    retired = await client.post("/api/v1/templates/foundation_letter/retire", headers=alice.headers)
    assert retired.status_code == 200, retired.text
    refused = await client.post("/api/v1/documents", json=body, headers=alice.headers)
    assert_error(refused, 422)
    assert "retired" in refused.json()["detail"]
    pdf = await client.get(f"{base}/pdf", headers=alice.headers)  # its versions stay readable
    assert pdf.status_code == 200


@pytest.mark.parametrize(
    ("kind", "inputs", "sections"),
    [
        (
            "letter",
            {"sender": "Ana Ruiz", "recipient": "Zorblax Ltd", "purpose": "Invoice 114 is due."},
            ["Header", "Body", "Closing"],
        ),
        (
            "memo",
            {"to": "The board", "from": "Ana Ruiz", "points": "Move to Lisbon."},
            ["Memorandum"],
        ),
    ],
)
async def test_a_letter_and_a_memo_are_written_with_their_inputs_in_every_prompt(
    client: httpx.AsyncClient,
    alice: Caller,
    deps: RunnerDeps,
    llm_server: ScriptedLLM,
    kind: str,
    inputs: dict[str, str],
    sections: list[str],
) -> None:
    body = {"kind": kind, "title": f"A {kind} for the test", "inputs": inputs}
    started = (await client.post("/api/v1/documents", json=body, headers=alice.headers)).json()
    run = await execute_run(deps, tenant_id=alice.tenant_id, run_id=uuid.UUID(started["run_id"]))
    assert run.status == "completed", run.error
    preview = (
        await client.get(f"/api/v1/documents/{started['id']}/preview", headers=alice.headers)
    ).json()
    assert [s["section_name"] for s in preview["sections"]] == sections
    assert all(s["content_html"] for s in preview["sections"])
    prompts = [str(r["messages"][-1]["content"]) for r in llm_server.requests]
    written = [p for p in prompts if "\nSection: " in p]
    assert len(written) == len(sections)
    for prompt in written:  # the subject and every input, as facts
        assert f"Subject: A {kind} for the test" in prompt
        assert all(value in prompt for value in inputs.values())
        assert "Idea:" not in prompt
