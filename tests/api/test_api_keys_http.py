"""API keys over HTTP: created with a signed-in session (the secret shown once), listed
without secrets, revoked at once; a key acts with a role no higher than its creator's;
other members' and other tenants' keys are out of reach."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from jeex.db.session import Database
from jeex.tenants.models import ApiKey
from support.api import Caller, assert_error, make_member


async def test_create_use_list_and_revoke_a_key(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "CI", "role": "viewer"}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("jeex_")
    assert body["key"].startswith(f"jeex_{body['prefix']}") or body["prefix"] in body["key"]
    assert (body["name"], body["role"], body["created_by"]) == ("CI", "viewer", alice.email)
    async with db.tenant_session(alice.tenant_id) as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.id == uuid.UUID(body["id"])))
    assert stored is not None
    assert body["key"] not in stored.key_hash  # only a hash is kept

    key = {"Authorization": f"Bearer {body['key']}"}
    assert (await client.get("/api/v1/projects", headers=key)).status_code == 200
    # The key acts as a viewer although alice is the owner.
    assert_error(await client.post("/api/v1/projects", json={}, headers=key), 403)
    # A key does not mint keys.
    assert_error(await client.post("/api/v1/api-keys", json={}, headers=key), 403)

    listed = (await client.get("/api/v1/api-keys", headers=alice.headers)).json()
    ci = next(k for k in listed if k["id"] == body["id"])
    assert "key" not in ci
    assert ci["last_used_at"] is not None  # it was used above
    assert ci["revoked_at"] is None

    revoked = await client.delete(f"/api/v1/api-keys/{body['id']}", headers=alice.headers)
    assert revoked.status_code == 204
    assert_error(await client.get("/api/v1/projects", headers=key), 401)
    again = (await client.get("/api/v1/api-keys", headers=alice.headers)).json()
    assert next(k for k in again if k["id"] == body["id"])["revoked_at"] is not None


async def test_a_role_above_the_creators_is_refused(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    editor = await make_member(db, client, alice, "editor")
    refused = await client.post("/api/v1/api-keys", json={"role": "owner"}, headers=editor.headers)
    assert_error(refused, 403)
    assert refused.json()["detail"] == "an editor cannot create a key that acts as owner"
    above = await client.post("/api/v1/api-keys", json={"role": "admin"}, headers=editor.headers)
    assert_error(above, 403)
    made = await client.post("/api/v1/api-keys", json={"name": "mine"}, headers=editor.headers)
    assert made.status_code == 201
    assert made.json()["role"] == "editor"
    unknown = await client.post("/api/v1/api-keys", json={"role": "root"}, headers=editor.headers)
    assert_error(unknown, 422)


async def test_members_see_and_revoke_only_their_own_keys_owners_all(
    client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    editor = await make_member(db, client, alice, "editor")
    mine = (
        await client.post("/api/v1/api-keys", json={"name": "ed"}, headers=editor.headers)
    ).json()
    owners = (
        await client.post("/api/v1/api-keys", json={"name": "al"}, headers=alice.headers)
    ).json()

    seen_by_editor = {
        k["id"] for k in (await client.get("/api/v1/api-keys", headers=editor.headers)).json()
    }
    assert seen_by_editor == {mine["id"]}
    seen_by_owner = {
        k["id"] for k in (await client.get("/api/v1/api-keys", headers=alice.headers)).json()
    }
    assert {mine["id"], owners["id"]} <= seen_by_owner

    assert_error(
        await client.delete(f"/api/v1/api-keys/{owners['id']}", headers=editor.headers), 404
    )
    # Another tenant: not found, and nothing listed.
    assert_error(await client.delete(f"/api/v1/api-keys/{mine['id']}", headers=bob.headers), 404)
    assert all(
        k["id"] not in (mine["id"], owners["id"])
        for k in (await client.get("/api/v1/api-keys", headers=bob.headers)).json()
    )
    # The owner revokes the editor's key.
    assert (
        await client.delete(f"/api/v1/api-keys/{mine['id']}", headers=alice.headers)
    ).status_code == 204
