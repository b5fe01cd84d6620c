"""``jeex exhibits`` and ``jeex search`` as a user runs them: real processes, real stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jeex.db.urls import DatabaseUrls
from support.cli import invoke, jeex_env
from support.exhibit_files import encrypted_pdf, pdf
from support.fakellm import ScriptedLLM


@pytest.fixture
def env(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> dict[str, str]:
    return jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_EXHIBITS_MAX_BYTES="100000",
    )


def test_add_list_show_search_delete(env: dict[str, str], tmp_path: Path) -> None:
    created = invoke(env, "plan", "A shared grocery list app for families", "--detach", "--json")
    assert created.returncode == 0, created.stderr
    slug = json.loads(created.stdout)["project_slug"]
    study = tmp_path / "study.pdf"
    study.write_bytes(pdf([["Pricing"], ["Parents pay 2.49 euros a month for the family plan."]]))
    notes = tmp_path / "notes.md"
    notes.write_text("# Interviews\n\nParent B plans meals on Sunday evening.\n")
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted_pdf([["secret"]]))

    added = invoke(env, "exhibits", "add", slug, str(study), str(notes), "--json")
    assert added.returncode == 0, added.stderr
    rows = json.loads(added.stdout)
    assert [(r["label"], r["status"]) for r in rows] == [("E1", "ready"), ("E2", "ready")]

    failed = invoke(env, "exhibits", "add", slug, str(locked))
    assert failed.returncode == 1
    assert "encrypted" in failed.stderr

    listed = json.loads(invoke(env, "exhibits", "list", slug, "--json").stdout)
    assert [r["status"] for r in listed] == ["ready", "ready", "failed"]
    shown = json.loads(invoke(env, "exhibits", "show", slug, "E2", "--json").stdout)
    assert shown["filename"] == "notes.md"
    assert shown["media_type"] == "text/markdown"

    found = invoke(env, "search", slug, "how much do parents pay", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["label"] == "E1 §2"
    assert "2.49 euros" in hits[0]["text"]
    human = invoke(env, "search", slug, "meal planning")
    assert "[E2 §1] notes.md" in human.stdout

    stored = {p for p in (tmp_path / "data" / "exhibits").rglob("*") if p.is_file()}
    assert len(stored) == 3  # a failed exhibit keeps its bytes and row until deleted
    deleted = invoke(env, "exhibits", "delete", slug, "E1", "--json")
    assert deleted.returncode == 0, deleted.stderr
    hits = json.loads(invoke(env, "search", slug, "how much do parents pay", "--json").stdout)
    assert all("2.49" not in h["text"] for h in hits)
    left = {p for p in (tmp_path / "data" / "exhibits").rglob("*") if p.is_file()}
    assert len(left) == 2


def test_bad_files_are_one_line_errors(env: dict[str, str], tmp_path: Path) -> None:
    created = invoke(env, "plan", "A shared grocery list app for families", "--detach", "--json")
    slug = json.loads(created.stdout)["project_slug"]
    lying = tmp_path / "report.pdf"
    lying.write_text("<!doctype html><html><body><p>hi</p></body></html>")
    result = invoke(env, "exhibits", "add", slug, str(lying))
    assert result.returncode == 2
    assert "says PDF but the content is HTML" in result.stderr
    big = tmp_path / "big.txt"
    big.write_text("x " * 60_000)
    result = invoke(env, "exhibits", "add", slug, str(big))
    assert result.returncode == 2
    assert "larger than the limit" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in invoke(env, "exhibits", "add", slug, str(empty)).stderr
    assert invoke(env, "exhibits", "add", slug, str(tmp_path / "missing.md")).returncode == 2
    assert invoke(env, "search", slug, "   ").returncode == 2
    assert invoke(env, "exhibits", "show", slug, "E9").returncode == 2


def test_add_with_retrieval_off_says_why_and_stores_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    created = invoke(env, "plan", "A shared grocery list app for families", "--detach", "--json")
    assert created.returncode == 0, created.stderr
    slug = json.loads(created.stdout)["project_slug"]
    notes = tmp_path / "notes.md"
    notes.write_text("# Interviews\n\nParent B plans meals on Sunday evening.\n")
    off = {**env, "JEEX_RETRIEVAL_ENABLED": "false"}

    for args in (("exhibits", "add", slug, str(notes)), ("search", slug, "meals")):
        refused = invoke(off, *args)
        assert refused.returncode == 1
        assert "retrieval is off (JEEX_RETRIEVAL_ENABLED=false)" in refused.stderr
    listed = invoke(env, "exhibits", "list", slug, "--json")
    assert json.loads(listed.stdout) == []
