"""``/kinds`` and ``/vocabulary``: the registry as clients see it, and a kind added by one file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jeex import kinds
from jeex.config import get_settings
from jeex.engine.plans import parse_steps
from jeex.engine.runner import agent_for
from jeex.errors import InvalidInput
from jeex.templates import TemplateError, load_template
from jeex.vocabulary import EventType, RunStatus
from support.api import Caller

NOTE = """\
key: site_note
document_type: site_note
title: Site note for {project}
description: A one-page note a site manager leaves for the next shift.
version: "1.0"
kind:
  label: Site note
  output: site-note.md
  depends_on: [about]
sections:
  - key: done
    title: Done today
    target_words: 60
    instructions: What the crew finished today, and where.
  - key: next
    title: Next shift
    target_words: 60
    kind: list
    instructions: What the next shift starts with, in order.
"""


@pytest.fixture
def templates_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``JEEX_TEMPLATES_DIR`` pointing at an empty folder, for this test only."""
    monkeypatch.setenv("JEEX_TEMPLATES_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_the_plan_steps_come_in_order_with_their_sections(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    response = await client.get("/api/v1/kinds", headers=alice.headers)
    assert response.status_code == 200
    listed = response.json()
    steps = [(k["step"], k["key"], k["title"]) for k in listed if k["step"] is not None]
    assert steps == [
        (1, "about", "Business Analyst → about.md"),
        (2, "specs", "Engineering Standards → specs.md"),
        (3, "architecture", "Architect → architecture.md"),
        (4, "plan_overview", "Implementation Planner → plans/"),
    ]
    plan = next(k for k in listed if k["step"] == 4)
    assert plan["document_types"] == ["plan_overview", "plan_epic"]
    assert plan["depends_on"] == ["about", "specs", "architecture"]
    assert [p["template"] for p in plan["parts"]] == ["plan_overview", "plan_epic"]
    about = next(k for k in listed if k["key"] == "about")
    assert [s["key"] for s in about["parts"][0]["sections"]] == [
        s.key for s in load_template("about").sections
    ]
    # The kinds written on their own follow the plan's steps.
    assert {"letter", "memo", "petition"} <= {k["key"] for k in listed if k["step"] is None}


async def test_the_vocabulary_lists_every_status_and_event_type(
    client: httpx.AsyncClient, alice: Caller
) -> None:
    response = await client.get("/api/v1/vocabulary", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["event_types"] == [e.value for e in EventType]
    assert body["run_statuses"] == [s.value for s in RunStatus]
    assert body["roles"] == ["owner", "admin", "editor", "viewer"]
    assert "invitation.accepted" in body["audit_actions"]
    # And OpenAPI names the values a run's status can take.
    schema = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    assert schema["RunStatus"]["enum"] == [s.value for s in RunStatus]


async def test_both_need_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/kinds", "/api/v1/vocabulary"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]


async def test_a_new_kind_is_one_template_file(
    client: httpx.AsyncClient, alice: Caller, templates_dir: Path
) -> None:
    (templates_dir / "site_note.yaml").write_text(NOTE, encoding="utf-8")

    note = kinds.get("site_note")
    assert (note.step, note.title, note.depends_on) == (
        None,
        "Site note → site-note.md",
        ("about",),
    )
    assert note.expected_sections() == 1 + 2  # its extraction, then its two sections
    # No agent module: the generic writer writes it.
    assert agent_for(note).agent == "writer"
    listed = (await client.get("/api/v1/kinds", headers=alice.headers)).json()
    added = next(k for k in listed if k["key"] == "site_note")
    assert added["agent"] is None
    assert [s["key"] for s in added["parts"][0]["sections"]] == ["done", "next"]
    assert added["parts"][0]["sections"][1]["kind"] == "list"
    # The plan is what it was.
    assert parse_steps("1-4") == (1, 2, 3, 4)


def test_a_file_that_would_replace_a_built_in_kind_is_refused(templates_dir: Path) -> None:
    (templates_dir / "about.yaml").write_text(NOTE.replace("site_note", "about"), "utf-8")
    with pytest.raises(TemplateError, match="about would replace a built-in"):
        kinds.all_kinds()


def test_two_kinds_cannot_claim_one_step(templates_dir: Path) -> None:
    clash = NOTE.replace("  depends_on: [about]\n", "  step: 2\n")
    (templates_dir / "site_note.yaml").write_text(clash, "utf-8")
    with pytest.raises(TemplateError, match="two kinds claim one plan step"):
        kinds.plan_steps()


def test_an_unknown_step_or_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="no step 7; steps are 1, 2, 3, 4"):
        kinds.by_step(7)
    with pytest.raises(InvalidInput, match="unknown document kind 'nope'; kinds: about"):
        kinds.get("nope")
