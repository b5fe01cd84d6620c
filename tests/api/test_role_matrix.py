"""The role matrix: every route of the API × every role (and no sign-in at all).

Each operation declares the least role that may use it; a role below it gets a 403 with
the uniform error body, a role at or above it gets past the check (its answer may still
be a 404 or a 409, never a 401 or 403), and a request without credentials gets a 401
unless the route is public. The route list comes from the app, so a new route fails
here until its row is added.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jeex.config import Settings
from jeex.db.session import Database
from support.api import PROJECT, Caller, World, assert_error, make_member, make_world
from support.templates import grant_letter

PUBLIC = None
VIEWER, EDITOR, ADMIN = "viewer", "editor", "admin"
#: "METHOD path" → the least role allowed (PUBLIC: no sign-in needed).
LEAST_ROLE: dict[str, str | None] = {
    "POST /api/v1/auth/token": PUBLIC,
    "GET /api/v1/auth/providers": PUBLIC,
    "GET /api/v1/auth/oidc/{provider}/login": PUBLIC,
    "GET /api/v1/auth/oidc/{provider}/callback": PUBLIC,
    "GET /api/v1/auth/me": VIEWER,
    "POST /api/v1/auth/logout": VIEWER,
    "POST /api/v1/projects": EDITOR,
    "GET /api/v1/projects": VIEWER,
    "GET /api/v1/projects/{project_id}": VIEWER,
    "PATCH /api/v1/projects/{project_id}": EDITOR,
    "DELETE /api/v1/projects/{project_id}": EDITOR,
    "POST /api/v1/projects/{project_id}/step1": EDITOR,
    "POST /api/v1/projects/{project_id}/step2": EDITOR,
    "POST /api/v1/projects/{project_id}/step3": EDITOR,
    "POST /api/v1/projects/{project_id}/step4": EDITOR,
    "GET /api/v1/projects/{project_id}/runs": VIEWER,
    "GET /api/v1/runs/{run_id}": VIEWER,
    "POST /api/v1/runs/{run_id}/pause": EDITOR,
    "POST /api/v1/runs/{run_id}/resume": EDITOR,
    "POST /api/v1/runs/{run_id}/cancel": EDITOR,
    "POST /api/v1/runs/{run_id}/retry": EDITOR,
    "GET /api/v1/projects/{project_id}/progress": VIEWER,
    "GET /api/v1/projects/{project_id}/events": VIEWER,
    "GET /api/v1/projects/{project_id}/progress/stream": VIEWER,
    "GET /api/v1/projects/{project_id}/documents": VIEWER,
    "GET /api/v1/projects/{project_id}/documents/{document_id}": VIEWER,
    "GET /api/v1/projects/{project_id}/documents/{document_id}/content": VIEWER,
    "GET /api/v1/projects/{project_id}/documents/{document_id}/versions": VIEWER,
    "GET /api/v1/projects/{project_id}/documents/{document_id}/versions/{version}": VIEWER,
    "GET /api/v1/projects/{project_id}/documents/{document_id}/diff": VIEWER,
    "POST /api/v1/projects/{project_id}/export": EDITOR,
    "GET /api/v1/projects/{project_id}/exports": VIEWER,
    "GET /api/v1/exports/{export_id}": VIEWER,
    "GET /api/v1/exports/{export_id}/download": VIEWER,
    "POST /api/v1/projects/{project_id}/exhibits": EDITOR,
    "GET /api/v1/projects/{project_id}/exhibits": VIEWER,
    "GET /api/v1/projects/{project_id}/exhibits/{exhibit_id}": VIEWER,
    "DELETE /api/v1/projects/{project_id}/exhibits/{exhibit_id}": EDITOR,
    "GET /api/v1/projects/{project_id}/search": VIEWER,
    "GET /api/v1/projects/{project_id}/exhibits/{exhibit_id}/file": VIEWER,
    "GET /api/v1/projects/{project_id}/preview": VIEWER,
    "POST /api/v1/documents": EDITOR,
    "GET /api/v1/documents": VIEWER,
    "GET /api/v1/documents/{doc_id}": VIEWER,
    "GET /api/v1/documents/{doc_id}/preview": VIEWER,
    "POST /api/v1/documents/{doc_id}/generate": EDITOR,
    "POST /api/v1/documents/{doc_id}/pause": EDITOR,
    "POST /api/v1/documents/{doc_id}/resume": EDITOR,
    "POST /api/v1/documents/{doc_id}/cancel": EDITOR,
    "POST /api/v1/documents/{doc_id}/exhibits": EDITOR,
    "GET /api/v1/documents/{doc_id}/exhibits": VIEWER,
    "GET /api/v1/documents/{doc_id}/exhibits/{exhibit_ref}/file": VIEWER,
    "DELETE /api/v1/documents/{doc_id}/exhibits/{exhibit_ref}": EDITOR,
    "GET /api/v1/documents/{doc_id}/pdf": VIEWER,
    "GET /api/v1/kinds": VIEWER,
    "GET /api/v1/vocabulary": VIEWER,
    "GET /api/v1/templates": VIEWER,
    "POST /api/v1/templates": ADMIN,
    "GET /api/v1/templates/schema": VIEWER,
    "GET /api/v1/templates/{key}": VIEWER,
    "PUT /api/v1/templates/{key}": ADMIN,
    "POST /api/v1/templates/{key}/retire": ADMIN,
    "GET /api/v1/templates/{key}/versions": VIEWER,
    "GET /api/v1/templates/{key}/versions/{version}": VIEWER,
    "GET /api/v1/usage": VIEWER,
    "POST /api/v1/api-keys": VIEWER,
    "GET /api/v1/api-keys": VIEWER,
    "DELETE /api/v1/api-keys/{key_id}": VIEWER,
    "GET /api/v1/tenants": VIEWER,
    "POST /api/v1/tenants": VIEWER,
    "POST /api/v1/tenants/{tenant_id}/token": VIEWER,
    "GET /api/v1/members": VIEWER,
    "PATCH /api/v1/members/{user_id}": ADMIN,
    "DELETE /api/v1/members/{user_id}": ADMIN,
    "POST /api/v1/invitations": ADMIN,
    "GET /api/v1/invitations": ADMIN,
    "DELETE /api/v1/invitations/{invitation_id}": ADMIN,
    "POST /api/v1/invitations/preview": PUBLIC,
    "POST /api/v1/invitations/accept": PUBLIC,
    "GET /api/v1/audit-events": ADMIN,
    "GET /api/v1/health": PUBLIC,
    "GET /api/v1/ready": PUBLIC,
}
ROLES = ("viewer", "editor", "admin", "owner")  # least first: refusals change nothing
#: Bodies that pass validation, so a route that checks the role in its handler is reached.
BODIES: dict[str, Any] = {
    "POST /api/v1/projects": PROJECT,
    "PATCH /api/v1/projects/{project_id}": {"name": "Renamed"},
    "POST /api/v1/tenants": {"name": "Matrix"},
    "PATCH /api/v1/members/{user_id}": {"role": "viewer"},
    "POST /api/v1/invitations": {"email": "matrix@example.test", "role": "viewer"},
    "POST /api/v1/api-keys": {"name": "matrix"},
    "POST /api/v1/templates": {"source": grant_letter("matrix_kind")},
    "PUT /api/v1/templates/{key}": {"source": grant_letter("matrix_kind")},
}
#: Streams stay open while a role may read them: only their refusals are requested.
STREAMS = ("/events", "/progress/stream")


def _operations(app: FastAPI) -> list[str]:
    paths = app.openapi()["paths"]
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"rate_limit_ip": "100000/minute"})


def test_every_route_has_a_row(app: FastAPI) -> None:
    assert sorted(_operations(app)) == sorted(LEAST_ROLE)


async def test_every_route_times_every_role(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    world = await make_world(db, client, alice)
    victim = await make_member(db, client, alice, "viewer")  # what member routes act on
    invitation = await client.post(
        "/api/v1/invitations", json={"email": "pending@example.test"}, headers=alice.headers
    )
    key = await client.post("/api/v1/api-keys", json={}, headers=alice.headers)
    world.invitation_id, world.key_id = invitation.json()["id"], key.json()["id"]
    world.tenant_id, world.user_id = str(alice.tenant_id), str(victim.user_id)
    callers = {"owner": alice}
    for role in ("viewer", "editor", "admin"):
        callers[role] = await make_member(db, client, alice, role)
    # Deleting routes last, the project and the tokens (logout) last of all: what they
    # remove, the others still use.
    operations = sorted(
        _operations(app),
        key=lambda op: (
            op == "POST /api/v1/auth/logout",
            op.startswith("DELETE"),
            op == "DELETE /api/v1/projects/{project_id}",
        ),
    )
    seen: list[tuple[str, str, int]] = []
    for operation in operations:
        method, path = operation.split(" ", 1)
        url = _fill(path, world)
        body = BODIES.get(operation, {} if method in ("POST", "PATCH") else None)
        anonymous = await client.request(method, url, json=body)
        least = LEAST_ROLE[operation]
        if least is PUBLIC:
            assert anonymous.status_code not in (401, 403), (operation, anonymous.text)
            continue
        assert_error(anonymous, 401)
        for role in ROLES:
            allowed = ROLES.index(role) >= ROLES.index(least)
            if allowed and path.endswith(STREAMS):
                continue
            response = await client.request(method, url, json=body, headers=callers[role].headers)
            seen.append((operation, role, response.status_code))
            if allowed:
                assert response.status_code not in (401, 403), (operation, role, response.text)
            else:
                assert_error(response, 403, "Forbidden")
    # The matrix ran what it claims: viewers and editors were refused somewhere, and every
    # role succeeded somewhere. (No route is for owners alone: what only an owner may do,
    # such as making owners, is a check inside the member routes, in test_teams.py.)
    for role in ("viewer", "editor"):
        assert any(r == role and s == 403 for _, r, s in seen), role
    for role in ROLES:
        assert any(r == role and s < 300 for _, r, s in seen), role


def _fill(path: str, world: World) -> str:
    query = {"diff": "?from=1&to=2", "search": "?q=grocery"}.get(path.rsplit("/", 1)[-1], "")
    return (
        path.replace("{project_id}", world.project_id)
        .replace("{run_id}", world.run_id)
        .replace("{document_id}", world.document_id)
        .replace("{export_id}", world.export_id)
        .replace("{exhibit_id}", world.exhibit_id or world.project_id)
        .replace("{key_id}", world.key_id)
        .replace("{tenant_id}", world.tenant_id)
        .replace("{user_id}", world.user_id)
        .replace("{invitation_id}", world.invitation_id)
        .replace("{doc_id}", world.doc_id)
        .replace("{exhibit_ref}", world.exhibit_ref)
        .replace("{version}", "1")
        .replace("{key}", "matrix_kind")
    ) + query
