"""On a shared database only ``jeex db upgrade`` migrates; every other process checks the
schema as the application role and refuses to start, in one line, when it does not match."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import URL

from jeex.config import Settings
from jeex.db import migrate
from jeex.db.bootstrap import grant_app_role, prepare
from jeex.db.urls import DatabaseUrls
from support.cli import invoke, jeex, jeex_env

APP_ROLE = "jeex_app"


@pytest.fixture
def shared_db(database_urls: DatabaseUrls) -> Iterator[URL]:
    """A new database on the test server, migrated and granted as `jeex db upgrade` does."""
    name = f"jeex_chk_{secrets.token_hex(4)}"
    admin = sa.create_engine(
        database_urls.owner.set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    owner = database_urls.owner.set(database=name)
    try:
        yield owner
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def _env(owner: URL, tmp_path: Path) -> dict[str, str]:
    return jeex_env(
        JEEX_DATABASE_URL=owner.render_as_string(hide_password=False),
        JEEX_DATA_DIR=str(tmp_path / "data"),
    )


def _urls(owner: URL) -> DatabaseUrls:
    return DatabaseUrls.derive(owner, app_user=APP_ROLE, app_password="")


def _revision(owner: URL) -> str | None:
    engine = sa.create_engine(owner, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return migrate.current(conn)
    finally:
        engine.dispose()


def _set_revision(owner: URL, revision: str) -> None:
    engine = sa.create_engine(owner, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if revision == "behind":
                migrate.downgrade(conn, "0003")
                grant_app_role(conn, APP_ROLE)
            else:
                conn.execute(text("update alembic_version set version_num = :v"), {"v": revision})
                conn.commit()
    finally:
        engine.dispose()


def test_an_unmigrated_database_is_refused_and_left_as_it_is(
    shared_db: URL, tmp_path: Path
) -> None:
    result = invoke(_env(shared_db, tmp_path), "projects", "list")
    assert result.returncode == 1
    assert "no JEEX schema" in result.stderr
    assert "jeex db upgrade" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _revision(shared_db) is None  # nothing migrated it


def test_a_schema_behind_the_code_is_refused_until_db_upgrade(
    shared_db: URL, tmp_path: Path
) -> None:
    prepare(_urls(shared_db), Settings(database_url=shared_db.render_as_string(False)))
    _set_revision(shared_db, "behind")
    env = _env(shared_db, tmp_path)
    for command in (("projects", "list"), ("worker",)):
        result = invoke(env, *command)
        assert result.returncode == 1, result
        assert f"at revision 0003, this JEEX needs {migrate.head()}" in result.stderr
        assert "run `jeex db upgrade`" in result.stderr
    assert _revision(shared_db) == "0003"

    upgraded = invoke(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert _revision(shared_db) == migrate.head()
    listed = invoke(env, "projects", "list", "--json")
    assert listed.returncode == 0, listed.stderr


def test_a_schema_newer_than_the_code_is_refused(shared_db: URL, tmp_path: Path) -> None:
    prepare(_urls(shared_db), Settings(database_url=shared_db.render_as_string(False)))
    _set_revision(shared_db, "9999")
    result = invoke(_env(shared_db, tmp_path), "projects", "list")
    assert result.returncode == 1
    assert "at revision 9999, newer than this JEEX knows" in result.stderr
    assert _revision(shared_db) == "9999"


def test_serve_refuses_in_one_line_before_it_listens(shared_db: URL, tmp_path: Path) -> None:
    # A real process: the refusal comes before uvicorn, so there is no traceback to read.
    env = {**_env(shared_db, tmp_path), "JEEX_AUTH_SECRET_KEY": "s" * 40}
    result = jeex(env, "serve", "--port", "5299", "--workers", "0", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the database has no JEEX schema the application role can read; "
        "run `jeex db upgrade` with the owner's credentials first"
    ]
    assert _revision(shared_db) is None
