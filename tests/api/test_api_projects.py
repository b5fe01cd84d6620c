"""Projects over HTTP: CRUD, pagination, the uniform error body, request ids."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from support.api import PROJECT, Caller, assert_error, create_project


async def test_create_read_update_list_delete(client: httpx.AsyncClient, alice: Caller) -> None:
    created = await create_project(client, alice)
    assert created["idea_description"] == PROJECT["idea_description"]
    assert created["target_audience"] == "busy parents"
    assert created["status"] == "draft"
    url = f"/api/v1/projects/{created['id']}"

    got = await client.get(url, headers=alice.headers)
    assert got.status_code == 200
    assert got.json() == created

    changed = await client.patch(url, json={"target_audience": "students"}, headers=alice.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["target_audience"] == "students"
    assert changed.json()["name"] == PROJECT["name"]

    listed = (await client.get("/api/v1/projects", headers=alice.headers)).json()
    assert [p["id"] for p in listed["items"]] == [created["id"]]
    assert listed["total"] == 1

    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code == 204
    assert_error(await client.get(url, headers=alice.headers), 404, "NotFound")
    listed = (await client.get("/api/v1/projects", headers=alice.headers)).json()
    assert listed == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_pagination_pages_newest_first(client: httpx.AsyncClient, alice: Caller) -> None:
    ids = [(await create_project(client, alice, name=f"P{i}"))["id"] for i in range(5)]
    first = (await client.get("/api/v1/projects?limit=2", headers=alice.headers)).json()
    second = (await client.get("/api/v1/projects?limit=2&offset=2", headers=alice.headers)).json()
    last = (await client.get("/api/v1/projects?limit=2&offset=4", headers=alice.headers)).json()
    pages = [p["id"] for page in (first, second, last) for p in page["items"]]
    assert pages == list(reversed(ids))
    assert first["total"] == 5


async def test_bad_input_is_a_uniform_4xx(client: httpx.AsyncClient, alice: Caller) -> None:
    h = alice.headers
    bad_json = await client.post(
        "/api/v1/projects", content=b"{not json", headers={**h, "content-type": "application/json"}
    )
    assert_error(bad_json, 422, "InvalidInput")
    assert "JSON" in bad_json.json()["detail"]
    assert_error(await client.post("/api/v1/projects", json={**PROJECT, "x": 1}, headers=h), 422)
    assert_error(await client.post("/api/v1/projects", json={**PROJECT, "name": 5}, headers=h), 422)
    assert_error(
        await client.post("/api/v1/projects", json={**PROJECT, "language": "xx"}, headers=h), 422
    )
    assert_error(
        await client.post("/api/v1/projects", json={**PROJECT, "idea_description": ""}, headers=h),
        422,
    )
    assert_error(await client.post("/api/v1/projects", json=[1, 2], headers=h), 422)
    assert_error(await client.get("/api/v1/projects/not-a-uuid", headers=h), 422)
    for query in ("limit=0", "limit=101", "offset=-1", "limit=abc"):
        assert_error(await client.get(f"/api/v1/projects?{query}", headers=h), 422)
    assert_error(await client.get("/api/v1/nowhere", headers=h), 404, "NotFound")
    assert_error(await client.put("/api/v1/projects", headers=h), 405, "MethodNotAllowed")


async def test_oversize_body_is_413_before_the_handler(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    huge = {**PROJECT, "idea_description": "x" * 2_000_000}
    response = await client.post("/api/v1/projects", json=huge, headers=alice.headers)
    assert_error(response, 413, "PayloadTooLarge")

    async def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(40):
            yield b"x" * 65_536

    streamed = await client.post(
        "/api/v1/projects",
        content=chunks(),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert_error(streamed, 413, "PayloadTooLarge")


async def test_request_id_is_echoed_or_made_and_time_is_reported(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    given = await client.get("/api/v1/projects", headers={**alice.headers, "X-Request-ID": "abc-1"})
    assert given.headers["X-Request-ID"] == "abc-1"
    assert float(given.headers["X-Process-Time"]) >= 0
    made = await client.get("/api/v1/projects", headers={**alice.headers, "X-Request-ID": "a b\n"})
    assert made.headers["X-Request-ID"] != "a b\n"
    assert len(made.headers["X-Request-ID"]) == 32


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/api/v1/health")).status_code == 200
    ready = await client.get("/api/v1/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "queue": "ok",
        "events": "ok",
        "worker": "not used",
        "llm": "ok",
    }


async def test_text_is_normalised_and_invisible_only_text_is_refused(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    invisible = {**PROJECT, "idea_description": "\u200b\u2060\ufeff \u202e"}
    refused = await client.post("/api/v1/projects", json=invisible, headers=alice.headers)
    assert_error(refused, 422, "InvalidInput")
    assert refused.json()["detail"] == "idea_description: has no visible characters"
    hidden = {
        **PROJECT,
        "name": "Cafe\u0301 \u202eplan\u202c",  # decomposed é, a right-to-left override
        "idea_description": "A list\u200b for\x07 families",
        "target_audience": "\u200b",
    }
    made = await client.post("/api/v1/projects", json=hidden, headers=alice.headers)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "Caf\u00e9 plan"
    assert made.json()["idea_description"] == "A list for families"
    assert made.json()["target_audience"] == ""
    assert made.json()["slug"] == "cafe-plan"
    emoji = await client.patch(
        f"/api/v1/projects/{made.json()['id']}",
        json={"name": "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 list"},
        headers=alice.headers,
    )
    assert emoji.json()["name"] == "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 list"
    blank = await client.patch(
        f"/api/v1/projects/{made.json()['id']}", json={"name": "\u200b"}, headers=alice.headers
    )
    assert_error(blank, 422, "InvalidInput")
    listed = await client.get("/api/v1/projects", headers=alice.headers)
    assert listed.json()["total"] == 1  # the refused one left nothing


async def test_a_body_that_is_not_utf8_or_nested_too_deeply_is_a_422_that_says_so(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    json_headers = {**alice.headers, "Content-Type": "application/json"}
    latin1 = '{"name": "Caf\xe9", "idea_description": "x"}'.encode("latin-1")
    response = await client.post("/api/v1/projects", content=latin1, headers=json_headers)
    assert_error(response, 422, "InvalidInput")
    assert response.json()["detail"] == "The body is not valid UTF-8."
    deep = b"[" * 5000 + b"]" * 5000
    response = await client.post("/api/v1/projects", content=deep, headers=json_headers)
    assert_error(response, 422, "InvalidInput")
    assert response.json()["detail"] == "The body is nested too deeply."
    listed = await client.get("/api/v1/projects", headers=alice.headers)
    assert listed.json()["total"] == 0  # nothing was written


async def test_nul_characters_are_refused_not_a_500(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    nul = {**PROJECT, "name": "a\u0000b"}
    assert_error(await client.post("/api/v1/projects", json=nul, headers=alice.headers), 422)
    login = await client.post("/api/v1/auth/token", data={"username": "a\x00", "password": "x"})
    assert_error(login, 422, "InvalidInput")


async def test_patch_every_field_and_no_delete_while_running(
    client: httpx.AsyncClient, alice: Caller, owner_engine: sa.Engine
) -> None:
    project = await create_project(client, alice)
    url = f"/api/v1/projects/{project['id']}"
    change = {"name": "Shopping helper", "idea_description": "Lists", "language": "de"}
    changed = (await client.patch(url, json=change, headers=alice.headers)).json()
    assert (changed["name"], changed["idea_description"], changed["language"]) == (
        "Shopping helper",
        "Lists",
        "de",
    )
    assert changed["slug"] == "shopping-helper"
    assert changed["updated_at"] >= project["updated_at"]
    with owner_engine.begin() as conn:
        conn.execute(
            sa.text("update projects set status = 'running' where id = :id"), {"id": project["id"]}
        )
    assert_error(await client.delete(url, headers=alice.headers), 409, "Conflict")
