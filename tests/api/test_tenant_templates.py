"""Tenant templates: upload, edit (a new version), retire; what a run pins; bad YAML.

Roles and other tenants are also in the matrices (test_role_matrix.py and
test_api_tenancy.py); here the answers themselves are checked.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from sqlalchemy import func, select

from jeex import kinds
from jeex.db.session import Database
from jeex.errors import InvalidInput
from jeex.tenant_templates import schema
from jeex.tenant_templates.models import TenantTemplate
from support.api import Caller, assert_error, make_member
from support.templates import grant_letter, upload

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "template.schema.json"


def _assert_invalid(response: httpx.Response) -> list[dict[str, Any]]:
    """The 422 of an invalid template: the usual error body plus its problems."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "detail", "problems"}, body
    assert body["error"] == "InvalidTemplate"
    assert body["problems"], body
    return list(body["problems"])


async def _rows(db: Database, caller: Caller) -> int:
    async with db.tenant_session(caller.tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(TenantTemplate)) or 0)


async def _audit(client: httpx.AsyncClient, caller: Caller) -> list[tuple[str, Any]]:
    log = await client.get("/api/v1/audit-events", headers=caller.headers)
    return [
        (e["action"], e["detail"].get("version"))
        for e in log.json()
        if e["action"].startswith("template.")
    ]


async def test_upload_read_edit_and_list_versions(client: httpx.AsyncClient, alice: Caller) -> None:
    first = await upload(client, alice, grant_letter())
    assert (first["key"], first["version"], first["retired"]) == ("grant_letter", 1, False)
    assert first["source"] == grant_letter()
    assert first["label"] == "Grant letter"
    assert first["kind_version"] == f"grant_letter@1+{first['fingerprint']}"

    # An edit, sent as JSON this time: version 2, a new fingerprint, version 1 untouched.
    edited = await client.put(
        "/api/v1/templates/grant_letter",
        json={"source": grant_letter(closing_words=90)},
        headers=alice.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["fingerprint"] != first["fingerprint"]

    listed = (await client.get("/api/v1/templates", headers=alice.headers)).json()
    assert [(t["key"], t["version"]) for t in listed] == [("grant_letter", 2)]
    latest = (await client.get("/api/v1/templates/grant_letter", headers=alice.headers)).json()
    assert "target_words: 90" in latest["source"]
    versions = await client.get("/api/v1/templates/grant_letter/versions", headers=alice.headers)
    assert [v["version"] for v in versions.json()] == [2, 1]
    one = await client.get("/api/v1/templates/grant_letter/versions/1", headers=alice.headers)
    assert one.json()["source"] == grant_letter()
    missing = await client.get("/api/v1/templates/grant_letter/versions/3", headers=alice.headers)
    assert_error(missing, 404, "NotFound")

    # /kinds lists the built-in kinds and this one together.
    listed_kinds = (await client.get("/api/v1/kinds", headers=alice.headers)).json()
    assert {k["source"] for k in listed_kinds} == {"builtin", "tenant"}
    mine = next(k for k in listed_kinds if k["key"] == "grant_letter")
    assert (mine["revision"], mine["step"], mine["agent"]) == (2, None, None)
    assert mine["version"] == edited.json()["kind_version"]
    assert [s["key"] for s in mine["parts"][0]["sections"]] == ["ask", "closing"]
    assert listed_kinds[-1]["key"] == "grant_letter"

    assert await _audit(client, alice) == [("template.revised", 2), ("template.created", 1)]


async def test_a_pinned_version_resolves_after_an_edit_and_after_retirement(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    await upload(client, alice, grant_letter())
    async with db.tenant_session(alice.tenant_id) as session:
        kind, pinned_id = await kinds.resolve(session, "grant_letter")
        builtin, none = await kinds.resolve(session, "letter")
    assert pinned_id is not None
    assert none is None
    assert (kind.source, kind.revision, builtin.source) == ("tenant", 1, "builtin")
    assert kind.parts == (kind.template,)  # the generic writer's view: no load_template
    assert kind.expected_sections() == 1 + 2
    assert kind.document_types == ("grant_letter",)
    assert kind.version.startswith("grant_letter@1+")

    await client.put(
        "/api/v1/templates/grant_letter",
        content=grant_letter(closing_words=90),
        headers={**alice.headers, "Content-Type": "text/plain"},
    )
    retired = await client.post("/api/v1/templates/grant_letter/retire", headers=alice.headers)
    assert retired.status_code == 200, retired.text
    assert (retired.json()["version"], retired.json()["retired"]) == (2, True)

    async with db.tenant_session(alice.tenant_id) as session:
        old = await kinds.pinned(session, pinned_id)
        with pytest.raises(InvalidInput, match="retired document kind 'grant_letter'"):
            await kinds.resolve(session, "grant_letter")
        with pytest.raises(InvalidInput, match="unknown document kind 'nope'.*letter"):
            await kinds.resolve(session, "nope")
        listed = [k.key for k in await kinds.for_tenant(session)]
    assert old.template.section("closing").target_words == 50
    assert old.version == kind.version
    assert "grant_letter" not in listed
    assert "letter" in listed

    # Every version is still readable, flagged retired; nothing can extend it.
    listed_templates = (await client.get("/api/v1/templates", headers=alice.headers)).json()
    assert [(t["version"], t["retired"]) for t in listed_templates] == [(2, True)]
    versions = await client.get("/api/v1/templates/grant_letter/versions", headers=alice.headers)
    assert [v["retired"] for v in versions.json()] == [True, True]
    again = await client.put(
        "/api/v1/templates/grant_letter", json={"source": grant_letter()}, headers=alice.headers
    )
    assert_error(again, 409, "Conflict")
    assert_error(await _post_yaml(client, alice, grant_letter()), 409, "Conflict")
    twice = await client.post("/api/v1/templates/grant_letter/retire", headers=alice.headers)
    assert twice.status_code == 200
    assert await _audit(client, alice) == [
        ("template.retired", 2),
        ("template.revised", 2),
        ("template.created", 1),
    ]


def _replace(old: str, new: str) -> str:
    source = grant_letter()
    assert old in source
    return source.replace(old, new, 1)


# (YAML, line, field, a piece of the message) of the first problem.
INVALID: list[tuple[str, int | None, str, str]] = [
    ("key: [grant\ntitle: x\n", 2, "", "invalid YAML"),
    (_replace("target_words: 80", "target_words: many"), 13, "sections[0].target_words", "integer"),
    (_replace("  output:", "  colour: red\n  output:"), 9, "kind.colour", "unknown field"),
    (_replace("key: grant_letter", "key: letter"), 2, "key", "built-in"),
    (_replace("key: grant_letter", "key: Grant"), 2, "key", "pattern"),
    (_replace("agent: null", "agent: architect"), 6, "agent", "generic writer"),
    (_replace("  output:", "  also_writes: [plan_epic]\n  output:"), 9, "kind.also_writes", ""),
    (_replace("  output:", "  step: 2\n  output:"), 9, "kind.step", "built-in kinds only"),
    (
        _replace("kind:\n  label: Grant letter\n  output: grant-letter.md\n", ""),
        2,
        "kind",
        "missing",
    ),
    (_replace("title: Grant", "description: twice\ntitle: Grant"), 6, "description", "twice"),
    ("a: &x [1]\nb: *x\n", 2, "", "aliases"),
    ("", 1, "", "empty"),
    ("key: grant\ntitle: \x07\n", 2, "", "special characters"),
    ("- just\n- a list\n", 1, "", "mapping"),
]


async def _post_yaml(client: httpx.AsyncClient, caller: Caller, source: str) -> httpx.Response:
    return await client.post(
        "/api/v1/templates",
        content=source.encode(),
        headers={**caller.headers, "Content-Type": "application/yaml"},
    )


async def test_an_invalid_template_names_line_and_field_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    for source, line, field, message in INVALID:
        response = await _post_yaml(client, alice, source)
        first = _assert_invalid(response)[0]
        assert (first["line"], first["field"]) == (line, field), (source, first)
        assert message in first["message"], first
        assert f"line {line}" in response.json()["detail"]
    deep = _assert_invalid(await _post_yaml(client, alice, "[" * 5000))
    assert deep == [{"line": None, "field": "", "message": "the YAML is nested too deeply"}]
    # Every problem is listed, in line order.
    both = _replace("target_words: 80", "target_words: 5").replace("output:", "outptu:")
    problems = _assert_invalid(await _post_yaml(client, alice, both))
    assert [(p["line"], p["field"]) for p in problems] == [
        (7, "kind.output"),
        (9, "kind.outptu"),
        (13, "sections[0].target_words"),
    ]
    # An edit whose YAML names another key is refused at that key's line.
    await upload(client, alice, grant_letter())
    other = await client.put(
        "/api/v1/templates/grant_letter",
        json={"source": grant_letter("other_letter")},
        headers=alice.headers,
    )
    assert _assert_invalid(other) == [
        {"line": 2, "field": "key", "message": "must be 'grant_letter', the template edited"}
    ]
    assert await _rows(db, alice) == 1
    assert await _audit(client, alice) == [("template.created", 1)]


async def test_oversized_and_wrongly_typed_bodies_are_refused(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    padded = grant_letter() + "#" * schema.MAX_SOURCE_BYTES
    assert_error(await _post_yaml(client, alice, padded), 413, "PayloadTooLarge")
    as_json = await client.post("/api/v1/templates", json={"source": padded}, headers=alice.headers)
    assert_error(as_json, 413, "PayloadTooLarge")
    form = await client.post(
        "/api/v1/templates", data={"source": grant_letter()}, headers=alice.headers
    )
    assert_error(form, 415, "UnsupportedMediaType")
    unknown = await client.post(
        "/api/v1/templates", json={"yaml": grant_letter()}, headers=alice.headers
    )
    assert_error(unknown, 422, "InvalidInput")
    latin1 = await client.post(
        "/api/v1/templates",
        content=grant_letter().replace("Thank", "Danke schön").encode("latin-1"),
        headers={**alice.headers, "Content-Type": "text/plain"},
    )
    assert_error(latin1, 422, "InvalidInput")
    assert await _rows(db, alice) == 0


async def test_only_owners_and_admins_write_and_every_member_reads(
    client: httpx.AsyncClient, db: Database, alice: Caller
) -> None:
    admin = await make_member(db, client, alice, "admin")
    editor = await make_member(db, client, alice, "editor")
    assert_error(await _post_yaml(client, editor, grant_letter()), 403, "Forbidden")
    await upload(client, admin, grant_letter())
    refused = await client.post("/api/v1/templates/grant_letter/retire", headers=editor.headers)
    assert_error(refused, 403, "Forbidden")
    seen = await client.get("/api/v1/templates/grant_letter", headers=editor.headers)
    assert seen.status_code == 200
    assert seen.json()["created_by"] == str(admin.user_id)


async def test_another_tenant_neither_sees_nor_touches_them(
    client: httpx.AsyncClient, db: Database, alice: Caller, bob: Caller
) -> None:
    await upload(client, alice, grant_letter())
    assert (await client.get("/api/v1/templates", headers=bob.headers)).json() == []
    kinds_of_bob = (await client.get("/api/v1/kinds", headers=bob.headers)).json()
    assert "grant_letter" not in {k["key"] for k in kinds_of_bob}
    for response in (
        await client.get("/api/v1/templates/grant_letter", headers=bob.headers),
        await client.post("/api/v1/templates/grant_letter/retire", headers=bob.key_headers),
        await client.put(
            "/api/v1/templates/grant_letter",
            json={"source": grant_letter()},
            headers=bob.headers,
        ),
    ):
        assert_error(response, 404, "NotFound")
    # Keys are the tenant's own: bob may have a grant_letter of his own.
    theirs = await upload(client, bob, grant_letter(closing_words=70))
    assert theirs["version"] == 1
    async with db.tenant_session(bob.tenant_id) as session:
        kind, template_id = await kinds.resolve(session, "grant_letter")
        assert template_id is not None
    async with db.tenant_session(alice.tenant_id) as session:
        mine, mine_id = await kinds.resolve(session, "grant_letter")
        assert mine.template.section("closing").target_words == 50
        with pytest.raises(Exception, match="no tenant template version"):
            await kinds.pinned(session, template_id)
        assert (await kinds.pinned(session, mine_id or uuid.uuid4())).revision == 1


async def test_the_published_schema_is_the_committed_one_and_checks_yaml(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    published = (await client.get("/api/v1/templates/schema", headers=alice.headers)).json()
    assert published == schema.json_schema()
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # Regenerate with: .venv/bin/python -m jeex.tenant_templates.schema > docs/template.schema.json
    assert committed == published, "docs/template.schema.json is stale"
    # A JSON schema validator agrees with the server on a good and a bad template.
    jsonschema.Draft202012Validator(published).validate(yaml.safe_load(grant_letter()))
    bad = yaml.safe_load(_replace("  output:", "  step: 2\n  output:"))
    assert not jsonschema.Draft202012Validator(published).is_valid(bad)
