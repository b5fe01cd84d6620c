"""The cross-tenant matrix (SECURITY.md P22, P5, P6): for every route that takes an id,
another tenant's id is a 404 — the same answer as an id that does not exist — and a
mutating route changes nothing. The route list comes from the app, so a new route is
covered automatically."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from jeex.config import Settings
from jeex.db.session import Database
from jeex.documents import service as documents_service
from jeex.exhibits import service as exhibits_service
from jeex.exports import service as exports_service
from support.api import Caller, World, assert_error, create_project, make_world
from support.templates import grant_letter, upload
from support.workers import serve_until

BODIES = {"PATCH": {"name": "Taken over"}, "POST": {}}
#: Bodies of routes whose body differs from their method's (by the path's first segment).
PATH_BODIES = {
    ("PATCH", "members"): {"role": "viewer"},
    ("PUT", "templates"): {"source": grant_letter("tenancy_kind")},
}
#: Required query parameters, by the last segment of the path.
QUERIES = {"diff": "?from=1&to=2", "search": "?q=grocery"}


def _id_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document whose path takes an id. The sign-in
    routes (``/auth/oidc/{provider}/…``) take a configured provider's slug, no tenant's
    object, and need no credentials: tests/api/test_oidc.py covers them."""
    paths = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{" in path and "/auth/oidc/" not in path
        for method in operations
    ]


def _fill(path: str, world: World) -> str:
    return (
        path.replace("{project_id}", world.project_id)
        .replace("{run_id}", world.run_id)
        .replace("{document_id}", world.document_id)
        .replace("{export_id}", world.export_id)
        .replace("{exhibit_id}", world.exhibit_id)
        .replace("{key_id}", world.key_id)
        .replace("{tenant_id}", world.tenant_id)
        .replace("{user_id}", world.user_id)
        .replace("{invitation_id}", world.invitation_id)
        .replace("{doc_id}", world.doc_id)
        .replace("{exhibit_ref}", world.exhibit_ref)
        .replace("{version}", "1")
        .replace("{key}", "tenancy_kind")
    ) + QUERIES.get(path.rsplit("/", 1)[-1], "")


def _anonymous(body: dict[str, str], world: World) -> dict[str, str]:
    detail = body["detail"]
    for value in world.ids:
        detail = detail.replace(value, "<id>")
    return {**body, "detail": detail}


@pytest.fixture
async def world(
    db: Database, client: httpx.AsyncClient, alice: Caller, api_settings: Settings
) -> World:
    made = await make_world(db, client, alice)
    # Rendered, so its download route answers its owner (and must still be 404 to others).
    await exports_service.execute_export(
        db, api_settings, tenant_id=alice.tenant_id, export_id=uuid.UUID(made.export_id)
    )
    async with db.tenant_session(alice.tenant_id) as session:
        exhibit = await exhibits_service.create(
            session,
            settings=api_settings,
            project_id=uuid.UUID(made.project_id),
            filename="notes.md",
            pieces=[b"# Notes\n\nA grocery list that syncs at once.\n"],
        )
    made.exhibit_id = str(exhibit.id)
    key = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=alice.headers)
    assert key.status_code == 201, key.text
    made.key_id = key.json()["id"]
    invitation = await client.post(
        "/api/v1/invitations", json={"email": "someone@example.test"}, headers=alice.headers
    )
    assert invitation.status_code == 201, invitation.text
    made.invitation_id = invitation.json()["id"]
    made.tenant_id, made.user_id = str(alice.tenant_id), str(alice.user_id)
    await upload(client, alice, grant_letter("tenancy_kind"))
    return made


def _body(method: str, path: str) -> object:
    return PATH_BODIES.get((method, path.split("/")[3]), BODIES.get(method))


async def test_every_id_route_is_404_for_another_tenant(
    app: FastAPI, client: httpx.AsyncClient, alice: Caller, bob: Caller, world: World
) -> None:
    routes = _id_routes(app)
    assert len(routes) >= 20, routes
    nowhere = World(*(str(uuid.uuid4()) for _ in range(len(world.ids))))
    for method, path in routes:
        missing = await client.request(
            method, _fill(path, nowhere), headers=bob.headers, json=_body(method, path)
        )
        for headers in (bob.headers, bob.key_headers):
            response = await client.request(
                method, _fill(path, world), headers=headers, json=_body(method, path)
            )
            assert_error(response, 404, "NotFound")
            assert "Key (" not in response.text
            # Word for word what a missing id gets (only the id the caller sent differs).
            assert _anonymous(response.json(), world) == _anonymous(missing.json(), nowhere)

    # Nothing changed for its owner: the project, run and documents are all still there.
    project = await client.get(f"/api/v1/projects/{world.project_id}", headers=alice.headers)
    assert project.json()["name"] != "Taken over"
    run = await client.get(f"/api/v1/runs/{world.run_id}", headers=alice.headers)
    assert run.json()["status"] == "pending"
    assert run.json()["desired_state"] == "run"
    members = (await client.get("/api/v1/members", headers=alice.headers)).json()
    assert [(m["email"], m["role"]) for m in members] == [(alice.email, "owner")]
    pending = (await client.get("/api/v1/invitations", headers=alice.headers)).json()
    assert [p["id"] for p in pending] == [world.invitation_id]
    templates = (await client.get("/api/v1/templates", headers=alice.headers)).json()
    assert [(t["key"], t["version"], t["retired"]) for t in templates] == [
        ("tenancy_kind", 1, False)
    ]


async def test_another_tenants_id_looks_like_a_missing_one(
    client: httpx.AsyncClient, bob: Caller, world: World
) -> None:
    theirs = await client.get(f"/api/v1/projects/{world.project_id}", headers=bob.headers)
    missing = await client.get(f"/api/v1/projects/{uuid.uuid4()}", headers=bob.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"] == missing.json()["error"]


async def test_owner_reads_every_id_route(
    app: FastAPI, client: httpx.AsyncClient, alice: Caller, world: World
) -> None:
    """The matrix is honest: the same GET routes answer the owner (SSE routes excepted, and
    the PDF of a document that is not written yet: 409, test_document_monitor.py reads it)."""
    for method, path in _id_routes(app):
        if method != "GET" or path.endswith(("/events", "/stream", "/pdf")):
            continue
        response = await client.get(_fill(path, world), headers=alice.headers)
        assert response.status_code == 200, (path, response.text)


async def test_lists_show_only_the_callers_tenant(
    client: httpx.AsyncClient, bob: Caller, world: World
) -> None:
    listed = (await client.get("/api/v1/projects", headers=bob.headers)).json()
    assert listed["total"] == 0


async def test_a_name_taken_in_another_tenant_is_no_oracle(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    """Slugs are unique per tenant (P6): the same name answers the same in both tenants."""
    theirs = await create_project(client, alice, name="Secret plan")
    mine = await create_project(client, bob, name="Secret plan")
    assert theirs["slug"] == mine["slug"] == "secret-plan"


#: Placeholders of the ids that belong to the world's project (the letter is another).
UNDER_PROJECT = ("{project_id}", "{run_id}", "{document_id}", "{export_id}", "{exhibit_id}")


async def test_nothing_of_a_deleted_project_answers_its_owner(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Caller,
    world: World,
    db: Database,
    api_settings: Settings,
) -> None:
    """The "deleted project" column of the matrix: after ``DELETE /projects/{id}`` every
    route that takes the id of the project or of anything under it is a 404 for its own
    owner (read, retry, resume, download alike), and its files go with the purge job."""
    from jeex.monitor.service import pdf_path
    from jeex.queue.app import EXHIBITS_QUEUE

    async with db.tenant_session(alice.tenant_id) as session:
        export = await exports_service.get_or_raise(session, export_id=world.export_id)
        exhibit = await exhibits_service.get(session, exhibit_id=uuid.UUID(world.exhibit_id))
        document = await documents_service.get_or_raise(
            session,
            project_id=uuid.UUID(world.project_id),
            document_id=uuid.UUID(world.document_id),
        )
    assert export.path is not None
    assert exhibit is not None
    export_file = api_settings.data_dir / export.path
    exhibit_file = api_settings.exhibits_dir / exhibit.path
    pdf_file = api_settings.data_dir / pdf_path(document)  # as if its PDF had been asked for
    pdf_file.parent.mkdir(parents=True, exist_ok=True)
    pdf_file.write_bytes(b"%PDF-1.7\n")
    assert export_file.is_file()
    assert exhibit_file.is_file()

    deleted = await client.delete(f"/api/v1/projects/{world.project_id}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    routes = [(m, p) for m, p in _id_routes(app) if any(key in p for key in UNDER_PROJECT)]
    assert len(routes) >= 20, routes
    for method, path in routes:
        for headers in (alice.headers, alice.key_headers):
            response = await client.request(
                method, _fill(path, world), headers=headers, json=_body(method, path)
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"] == "NotFound"
    async with db.global_session() as session:
        live = await session.scalar(
            text(
                "select count(*) from procrastinate_jobs where lock = :run "
                "and status in ('todo', 'doing')"
            ),
            {"run": world.run_id},
        )
    assert live == 0  # the run queued before the deletion will never execute

    async def purged() -> bool:
        return not export_file.exists() and not exhibit_file.exists()

    assert await serve_until(
        api_settings, db.url, purged, queues=[EXHIBITS_QUEUE], retrieval=app.state.api.retrieval
    )
    assert not export_file.exists()
    assert not exhibit_file.exists()
    assert not pdf_file.exists()
    async with db.tenant_session(alice.tenant_id) as session:
        rows = await session.execute(
            text(
                "select (select count(*) from exports where project_id = :p), "
                "(select count(*) from exhibits where project_id = :p)"
            ),
            {"p": world.project_id},
        )
        assert tuple(rows.one()) == (0, 0)
    # The letter, another project of the same tenant, is untouched.
    letter = await client.get(f"/api/v1/documents/{world.doc_id}", headers=alice.headers)
    assert letter.status_code == 200, letter.text
