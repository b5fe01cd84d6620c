"""Settings: one class, every variable documented, bad values refused at start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jeex.config import Settings
from support.cli import invoke, jeex, jeex_env

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting() -> None:
    documented = set(re.findall(r"JEEX_([A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields == documented


def test_embedded_is_what_unset_urls_mean() -> None:
    settings = Settings(database_url="", llm_base_url="")
    assert settings.embedded_database
    assert settings.embedded_llm
    assert settings.structured_mode == "json_object_schema"
    remote = Settings(llm_base_url="http://127.0.0.1:9/v1")
    assert remote.structured_mode == "json_schema"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JEEX_LLM_CONCURRENCY", "0"), ("JEEX_LLM_TIMEOUT_SECONDS", "-1"), ("JEEX_LOG_LEVEL", "LOUD")],
)
def test_bad_setting_is_a_one_line_error(variable: str, value: str, tmp_path: Path) -> None:
    result = invoke(
        jeex_env(**{variable: value, "JEEX_DATA_DIR": str(tmp_path)}), "projects", "list"
    )
    assert result.returncode == 2
    assert f"invalid setting {variable}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_stall_threshold_below_the_shutdown_timeout_is_refused(tmp_path: Path) -> None:
    """A real process: what a worker that refuses to start prints, and its exit code."""
    env = jeex_env(
        JEEX_QUEUE_STALL_SECONDS="10", JEEX_QUEUE_SHUTDOWN_SECONDS="20", JEEX_DATA_DIR=str(tmp_path)
    )
    result = jeex(env, "worker", timeout=60)
    assert result.returncode == 2
    assert "queue_stall_seconds must exceed queue_shutdown_seconds" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    missing_database = "postgresql://postgres@127.0.0.1:5432/jeex_no_such_database"
    nothing_listening = "postgresql://postgres@127.0.0.1:9/jeex"
    for url, reason in ((missing_database, "does not exist"), (nothing_listening, "port 9")):
        env = jeex_env(JEEX_DATABASE_URL=url, JEEX_DATA_DIR=str(tmp_path))
        result = invoke(env, "projects", "list")
        assert result.returncode == 1, result.stderr
        assert "cannot connect to the database" in result.stderr
        assert reason in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
