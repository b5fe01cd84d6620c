"""The embedded shape: no JEEX_DATABASE_URL, PostgreSQL from pgserver in the data folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from jeex.db import migrate
from support.cli import jeex, jeex_env
from support.fakellm import ScriptedLLM

IDEA = "A shared grocery list app for families"


@pytest.fixture
def embedded_env(tmp_path: Path, llm_server: ScriptedLLM) -> dict[str, str]:
    return jeex_env(JEEX_DATA_DIR=str(tmp_path / "data"), JEEX_LLM_BASE_URL=llm_server.base_url)


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(process)
    return found


def test_db_upgrade_starts_migrates_and_stops_the_embedded_server(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    result = jeex(embedded_env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"database at revision {migrate.head()}" in result.stdout
    pgdata = tmp_path / "data" / "pgdata"
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"
    assert postgres_processes(pgdata) == []  # the last process out stopped it


def test_two_processes_share_one_embedded_server(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    commands = [
        [sys.executable, "-m", "jeex", "plan", IDEA, "--out", str(tmp_path / f"out{i}"), "--json"]
        for i in range(2)
    ]
    processes = [
        subprocess.Popen(
            c, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for c in commands
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in processes]
    for (_, stderr), code in results:
        assert code == 0, stderr
    reports = [json.loads(out) for (out, _), _ in results]
    assert len({r["project_id"] for r in reports}) == 2
    assert len({r["project_slug"] for r in reports}) == 2
    for report in reports:
        assert Path(report["zip_path"]).is_file()
    listing = jeex(embedded_env, "projects", "list", "--json")
    assert {p["id"] for p in json.loads(listing.stdout)} == {r["project_id"] for r in reports}
    assert postgres_processes(tmp_path / "data" / "pgdata") == []
