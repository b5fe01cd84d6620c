"""Teams over HTTP: tenants I create and switch between, invitations (single use,
expiring, for one email), members and their roles (the last owner stays), and the
security log each of these writes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from jeex.db.session import Database
from jeex.tenants.models import Invitation
from support.api import PASSWORD, Caller, assert_error, create_project, make_member


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _me(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    response = await client.get("/api/v1/auth/me", headers=_bearer(token))
    assert response.status_code == 200, response.text
    result: dict[str, str] = response.json()
    return result


async def _invite(
    client: httpx.AsyncClient, inviter: Caller, email: str, role: str = "editor"
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/invitations", json={"email": email, "role": role}, headers=inviter.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, str] = response.json()
    return result


async def _actions(client: httpx.AsyncClient, caller: Caller) -> list[str]:
    response = await client.get("/api/v1/audit-events?limit=100", headers=caller.headers)
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()]


async def test_create_a_tenant_list_mine_and_switch_without_signing_in_again(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    slug = f"team-{uuid.uuid4().hex[:8]}"
    created = await client.post(
        "/api/v1/tenants", json={"name": "The Team", "slug": slug}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    team = created.json()
    assert (team["slug"], team["role"], team["current"]) == (slug, "owner", False)

    mine = (await client.get("/api/v1/tenants", headers=alice.headers)).json()
    assert {(t["slug"], t["role"], t["current"]) for t in mine} == {
        (alice.tenant_slug, "owner", True),
        (slug, "owner", False),
    }
    switched = await client.post(f"/api/v1/tenants/{team['id']}/token", headers=alice.headers)
    assert switched.status_code == 200, switched.text
    me = await _me(client, switched.json()["access_token"])
    assert (me["tenant_slug"], me["role"]) == (slug, "owner")
    # The new tenant starts empty: alice's projects stay in her first tenant.
    await create_project(client, alice)
    projects = await client.get(
        "/api/v1/projects", headers=_bearer(switched.json()["access_token"])
    )
    assert projects.json()["items"] == []

    # bob is in neither: no token for alice's team, and he does not see it listed.
    assert_error(await client.post(f"/api/v1/tenants/{team['id']}/token", headers=bob.headers), 404)
    assert [
        t["slug"] for t in (await client.get("/api/v1/tenants", headers=bob.headers)).json()
    ] == [bob.tenant_slug]
    taken = await client.post(
        "/api/v1/tenants", json={"name": "Again", "slug": slug}, headers=bob.headers
    )
    assert_error(taken, 409, "Conflict")
    assert slug in taken.json()["detail"]
    # A key is bound to its tenant: it makes no tenants and switches nowhere.
    assert_error(
        await client.post("/api/v1/tenants", json={"name": "K"}, headers=alice.key_headers), 403
    )
    assert [
        t["slug"] for t in (await client.get("/api/v1/tenants", headers=alice.key_headers)).json()
    ] == [alice.tenant_slug]
    assert "tenant.created" in await _actions(
        client, alice.__class__(**{**alice.__dict__, "token": switched.json()["access_token"]})
    )


async def test_invite_a_colleague_who_signs_up_and_sees_only_that_team(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    project = await create_project(client, alice)
    await create_project(client, bob)
    email = f"Colleague-{uuid.uuid4().hex[:6]}@Example.test"
    invitation = await _invite(client, alice, email, "editor")
    assert invitation["email"] == email.lower()
    assert invitation["link"].endswith(f"/#/invite/{invitation['token']}")
    pending = (await client.get("/api/v1/invitations", headers=alice.headers)).json()
    assert [(p["email"], p["role"], p["invited_by"]) for p in pending] == [
        (email.lower(), "editor", alice.email)
    ]
    assert all("token" not in p for p in pending)

    preview = await client.post("/api/v1/invitations/preview", json={"token": invitation["token"]})
    assert preview.status_code == 200, preview.text
    seen = preview.json()
    assert (seen["tenant_slug"], seen["role"], seen["account_exists"]) == (
        alice.tenant_slug,
        "editor",
        False,
    )
    short = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"], "password": "short"}
    )
    assert_error(short, 422)
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": invitation["token"], "password": PASSWORD, "display_name": "Cora"},
    )
    assert accepted.status_code == 200, accepted.text
    token = accepted.json()["access_token"]
    me = await _me(client, token)
    assert (me["email"], me["tenant_slug"], me["role"]) == (
        email.lower(),
        alice.tenant_slug,
        "editor",
    )
    listed = (await client.get("/api/v1/projects", headers=_bearer(token))).json()["items"]
    assert [p["id"] for p in listed] == [project["id"]]  # alice's team's, not bob's

    # The new account signs in with its password, into that team by default.
    signed_in = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["tenant_id"] == str(alice.tenant_id)
    # The link worked once.
    again = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"], "password": PASSWORD}
    )
    assert_error(again, 410, "Gone")
    assert "already used" in again.json()["detail"]
    assert (await client.get("/api/v1/invitations", headers=alice.headers)).json() == []
    members = (await client.get("/api/v1/members", headers=_bearer(token))).json()
    assert {(m["email"], m["role"]) for m in members} == {
        (alice.email, "owner"), (email.lower(), "editor"),
    }  # fmt: skip
    actions = await _actions(client, alice)
    assert {"invitation.created", "invitation.accepted"} <= set(actions)
    assert "invitation.accepted" not in await _actions(client, bob)


async def test_an_existing_account_accepts_signed_in_as_the_invited_email(
    client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    invitation = await _invite(client, alice, bob.email, "viewer")
    preview = await client.post("/api/v1/invitations/preview", json={"token": invitation["token"]})
    assert preview.json()["account_exists"] is True
    anonymous = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"], "password": PASSWORD}
    )
    assert_error(anonymous, 409)
    assert "sign in" in anonymous.json()["detail"]
    carol = await make_member(db, client, bob, "editor")
    wrong = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"]}, headers=carol.headers
    )
    assert_error(wrong, 403)
    assert bob.email in wrong.json()["detail"]
    with_key = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"]}, headers=bob.key_headers
    )
    assert_error(with_key, 403)
    accepted = await client.post(
        "/api/v1/invitations/accept", json={"token": invitation["token"]}, headers=bob.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert (await _me(client, accepted.json()["access_token"]))["role"] == "viewer"
    mine = (await client.get("/api/v1/tenants", headers=bob.headers)).json()
    assert {(t["slug"], t["role"]) for t in mine} == {
        (bob.tenant_slug, "owner"), (alice.tenant_slug, "viewer"),
    }  # fmt: skip
    # The viewer reads alice's projects but changes nothing there.
    viewer = _bearer(accepted.json()["access_token"])
    assert (await client.get("/api/v1/projects", headers=viewer)).status_code == 200
    assert_error(await client.post("/api/v1/projects", json={"name": "x"}, headers=viewer), 403)


async def test_withdrawn_expired_and_forged_links_are_refused(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    first = await _invite(client, alice, "late@example.test")
    async with db.tenant_session(alice.tenant_id) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(first["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    expired = await client.post(
        "/api/v1/invitations/accept", json={"token": first["token"], "password": PASSWORD}
    )
    assert_error(expired, 410)
    assert "expired" in expired.json()["detail"]

    second = await _invite(client, alice, "gone@example.test")
    assert (
        await client.delete(f"/api/v1/invitations/{second['id']}", headers=alice.headers)
    ).status_code == 204
    withdrawn = await client.post("/api/v1/invitations/preview", json={"token": second["token"]})
    assert_error(withdrawn, 410)
    assert "withdrawn" in withdrawn.json()["detail"]
    assert_error(
        await client.delete(f"/api/v1/invitations/{second['id']}", headers=alice.headers), 404
    )

    # Inviting the same email again withdraws the earlier link.
    third = await _invite(client, alice, "twice@example.test")
    fourth = await _invite(client, alice, "twice@example.test")
    assert_error(
        await client.post("/api/v1/invitations/preview", json={"token": third["token"]}), 410
    )
    assert (
        await client.post("/api/v1/invitations/preview", json={"token": fourth["token"]})
    ).status_code == 200

    forged = fourth["token"][:-4] + "abcd"
    assert_error(await client.post("/api/v1/invitations/preview", json={"token": forged}), 404)
    assert_error(
        await client.post(
            "/api/v1/invitations/preview", json={"token": "jeexinv_nothex_" + "x" * 30}
        ),
        404,
    )
    # An invitation to someone already in the team is refused; so is a bad address.
    assert_error(
        await client.post(
            "/api/v1/invitations", json={"email": alice.email}, headers=alice.headers
        ),
        409,
    )
    assert_error(
        await client.post(
            "/api/v1/invitations", json={"email": "not-an-email"}, headers=alice.headers
        ),
        422,
    )


async def test_roles_decide_who_manages_members_and_the_last_owner_stays(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    admin = await make_member(db, client, alice, "admin")
    editor = await make_member(db, client, alice, "editor")
    viewer = await make_member(db, client, alice, "viewer")
    # Editors and viewers manage nobody; admins grant at most admin and never touch owners.
    for caller in (editor, viewer):
        assert_error(
            await client.post(
                "/api/v1/invitations", json={"email": "x@example.test"}, headers=caller.headers
            ),
            403,
        )
        assert_error(
            await client.patch(
                f"/api/v1/members/{viewer.user_id}", json={"role": "editor"}, headers=caller.headers
            ),
            403,
        )
        assert_error(await client.get("/api/v1/audit-events", headers=caller.headers), 403)
    as_owner = await client.post(
        "/api/v1/invitations",
        json={"email": "o@example.test", "role": "owner"},
        headers=admin.headers,
    )
    assert_error(as_owner, 403)
    assert "admin cannot grant the owner role" in as_owner.json()["detail"]
    assert_error(
        await client.patch(
            f"/api/v1/members/{alice.user_id}", json={"role": "viewer"}, headers=admin.headers
        ),
        403,
    )
    assert_error(
        await client.delete(f"/api/v1/members/{alice.user_id}", headers=admin.headers), 403
    )
    promoted = await client.patch(
        f"/api/v1/members/{viewer.user_id}", json={"role": "editor"}, headers=admin.headers
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "editor"
    assert (await _me(client, viewer.token))["role"] == "editor"  # at once, same token
    # Admins write like editors.
    assert (
        await client.post(
            "/api/v1/projects",
            json={"name": "By admin", "idea_description": "An idea long enough"},
            headers=admin.headers,
        )
    ).status_code == 201

    # The last owner can neither leave nor be demoted.
    demote = await client.patch(
        f"/api/v1/members/{alice.user_id}", json={"role": "admin"}, headers=alice.headers
    )
    assert_error(demote, 409)
    assert "last owner" in demote.json()["detail"]
    assert_error(
        await client.delete(f"/api/v1/members/{alice.user_id}", headers=alice.headers), 409
    )
    # With a second owner, the first may leave; a removed member's credentials stop.
    assert (
        await client.patch(
            f"/api/v1/members/{admin.user_id}", json={"role": "owner"}, headers=alice.headers
        )
    ).status_code == 200
    assert (
        await client.delete(f"/api/v1/members/{editor.user_id}", headers=admin.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/projects", headers=editor.headers)).status_code == 401
    assert (
        await client.delete(f"/api/v1/members/{alice.user_id}", headers=alice.headers)
    ).status_code == 204
    members = (await client.get("/api/v1/members", headers=admin.headers)).json()
    assert {(m["email"], m["role"]) for m in members} == {
        (admin.email, "owner"),
        (viewer.email, "editor"),
    }
    assert_error(
        await client.patch(
            f"/api/v1/members/{uuid.uuid4()}", json={"role": "viewer"}, headers=admin.headers
        ),
        404,
    )
    log = (
        await client.get("/api/v1/audit-events?action=member.role_changed", headers=admin.headers)
    ).json()
    assert [(e["target"], e["detail"]) for e in reversed(log)] == [
        (viewer.email, {"from": "viewer", "to": "editor"}),
        (admin.email, {"from": "admin", "to": "owner"}),
    ]
    removed = (
        await client.get("/api/v1/audit-events?action=member.removed", headers=admin.headers)
    ).json()
    assert [(e["target"], e["detail"]["left"]) for e in reversed(removed)] == [
        (editor.email, False),
        (alice.email, True),
    ]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    other = await make_member(db, client, alice, "owner")
    results = await asyncio.gather(
        client.patch(
            f"/api/v1/members/{other.user_id}", json={"role": "editor"}, headers=alice.headers
        ),
        client.patch(
            f"/api/v1/members/{alice.user_id}", json={"role": "editor"}, headers=other.headers
        ),
    )
    # The loser is refused either as the last owner (409, when both checked their roles
    # before either changed) or as no longer an owner (403, when it came second).
    statuses = sorted(r.status_code for r in results)
    assert statuses in ([200, 403], [200, 409]), [r.text for r in results]
    members = (await client.get("/api/v1/members", headers=alice.headers)).json()
    assert [m["role"] for m in members].count("owner") == 1


async def test_one_link_accepted_twice_at_once_makes_one_member(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    invitation = await _invite(client, alice, f"race-{uuid.uuid4().hex[:6]}@example.test")
    body = {"token": invitation["token"], "password": PASSWORD}
    results = await asyncio.gather(
        *(client.post("/api/v1/invitations/accept", json=body) for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [200, 410, 410], [r.text for r in results]
    members = (await client.get("/api/v1/members", headers=alice.headers)).json()
    assert len(members) == 2


async def test_the_security_log_records_sign_ins_and_keys_and_stays_in_its_tenant(
    client: httpx.AsyncClient, alice: Caller, bob: Caller
) -> None:
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": alice.email, "password": "nope"}
    )
    assert_error(wrong, 401)
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "nobody@example.test", "password": "nope"}
    )
    assert_error(unknown, 401)
    key = await client.post("/api/v1/api-keys", json={"name": "CI"}, headers=alice.headers)
    assert (
        await client.delete(f"/api/v1/api-keys/{key.json()['id']}", headers=alice.headers)
    ).status_code == 204
    events = (await client.get("/api/v1/audit-events?limit=100", headers=alice.headers)).json()
    by_action = {}
    for event in events:
        by_action.setdefault(event["action"], event)
    assert by_action["signin.failed"]["detail"] == {
        "method": "password",
        "reason": "wrong email or password",
    }
    assert by_action["signin.failed"]["actor_email"] == alice.email
    assert by_action["signin.succeeded"]["address"] == "127.0.0.1"
    assert by_action["api_key.created"]["target"] == key.json()["prefix"]
    assert by_action["api_key.revoked"]["detail"] == {"name": "CI"}
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    # bob's log has his own sign-in and nothing of alice's.
    bob_events = (await client.get("/api/v1/audit-events?limit=100", headers=bob.headers)).json()
    assert {e["actor_email"] for e in bob_events} == {bob.email}
    page = (await client.get("/api/v1/audit-events?limit=1&offset=1", headers=alice.headers)).json()
    assert [e["id"] for e in page] == [events[1]["id"]]
