"""The migrations and the bootstrap, each on a brand-new database dropped afterwards.

Upgrade from empty builds the whole schema, downgrade to base removes all of it, a
second upgrade rebuilds the same schema; the ``updated_at`` triggers really fire;
``prepare`` is idempotent and safe to run from two processes at once.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from jeex.config import Settings
from jeex.db import migrate
from jeex.db.bootstrap import BOOTSTRAP_LOCK_KEY, check_app_role, owner_connection, prepare
from jeex.db.urls import DatabaseUrls
from jeex.migrations.models import Base

SCHEMA_TABLES = {
    "tenants",
    "users",
    "memberships",
    "api_keys",
    "projects",
    "runs",
    "run_sections",
    "document_versions",
    "events",
    "exhibits",
    "exports",
    "tenant_quotas",
    "invitations",
    "audit_events",
    "oidc_logins",
    "tenant_templates",
}
QUEUE_TABLES = {
    "procrastinate_jobs",
    "procrastinate_workers",
    "procrastinate_events",
    "procrastinate_periodic_defers",
}
HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def _admin(urls: DatabaseUrls) -> sa.Engine:
    return sa.create_engine(urls.owner, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


@pytest.fixture
def empty_db(database_urls: DatabaseUrls) -> Iterator[URL]:
    """A new, empty database on the test server (owner URL); dropped afterwards."""
    name = f"jeex_mig_{secrets.token_hex(4)}"
    admin = _admin(database_urls)
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield database_urls.owner.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def owner(empty_db: URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def app_role(database_urls: DatabaseUrls) -> Iterator[str]:
    """A role name nobody has yet, so ``prepare`` takes its create path; dropped afterwards."""
    role = f"jeex_mig_{secrets.token_hex(4)}"
    yield role
    admin = _admin(database_urls)
    with admin.connect() as conn:
        conn.execute(text(f'drop role if exists "{role}"'))
    admin.dispose()


@pytest.fixture
def target(app_role: str, empty_db: URL) -> tuple[URL, str]:
    """A new database and a new role; the role is set up first so it is dropped last
    (a role cannot be dropped while a database holds privileges granted to it)."""
    return empty_db, app_role


def public_tables(conn: sa.Connection) -> set[str]:
    return set(
        conn.execute(text("select tablename from pg_tables where schemaname = 'public'")).scalars()
    )


def function_exists(conn: sa.Connection, name: str) -> bool:
    return bool(
        conn.execute(
            text("select count(*) from pg_proc where proname = :n"), {"n": name}
        ).scalar_one()
    )


def schema_snapshot(conn: sa.Connection) -> dict[str, Any]:
    """Columns, constraints, indexes, policies, RLS flags and triggers of ``public``."""
    queries = {
        "columns": "select table_name, column_name, data_type, is_nullable, column_default "
        "from information_schema.columns where table_schema = 'public'",
        "constraints": "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "from pg_constraint where connamespace = 'public'::regnamespace",
        "indexes": "select tablename, indexname, indexdef from pg_indexes "
        "where schemaname = 'public'",
        "policies": "select tablename, policyname, cmd, qual, with_check from pg_policies "
        "where schemaname = 'public'",
        "rls": "select relname, relrowsecurity, relforcerowsecurity from pg_class "
        "where relnamespace = 'public'::regnamespace and relkind = 'r'",
        "triggers": "select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) "
        "from pg_trigger where not tgisinternal",
    }
    return {key: sorted(map(tuple, conn.execute(text(sql)))) for key, sql in queries.items()}


def test_upgrade_downgrade_upgrade(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        assert public_tables(conn) == set()
        migrate.upgrade(conn)
        assert public_tables(conn) == SCHEMA_TABLES | QUEUE_TABLES | {"alembic_version"}
        assert migrate.current(conn) == HEAD
        assert function_exists(conn, "jeex_set_updated_at")
        context = MigrationContext.configure(conn, opts={"include_name": migrate.include_name})
        assert compare_metadata(context, Base.metadata) == []
        first = schema_snapshot(conn)
        assert first["policies"]
        assert first["triggers"]
        conn.commit()

        migrate.downgrade(conn)
        assert public_tables(conn) <= {"alembic_version"}
        assert migrate.current(conn) is None
        assert not function_exists(conn, "jeex_set_updated_at")
        assert not function_exists(conn, "procrastinate_fetch_job_v2")
        types = "select count(*) from pg_type where typname like 'procrastinate%'"
        assert conn.execute(text(types)).scalar_one() == 0
        leftovers = schema_snapshot(conn)
        assert leftovers["policies"] == []
        assert leftovers["triggers"] == []
        conn.commit()

        migrate.upgrade(conn)
        assert migrate.current(conn) == HEAD
        assert schema_snapshot(conn) == first


def test_updated_at_triggers_fire(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        migrate.upgrade(conn)
        # Every table with updated_at has the trigger (events is append-only, oidc_logins
        # rows are written once and deleted: no column).
        with_column = set(
            conn.execute(
                text(
                    "select table_name from information_schema.columns "
                    "where table_schema = 'public' and column_name = 'updated_at'"
                )
            ).scalars()
        )
        triggered = set(
            conn.execute(
                text(
                    "select t.tgrelid::regclass::text from pg_trigger t "
                    "join pg_proc p on p.oid = t.tgfoid "
                    "where p.proname = 'jeex_set_updated_at' and not t.tgisinternal "
                    "and t.tgenabled = 'O' and (t.tgtype & 2) = 2 and (t.tgtype & 16) = 16"
                )
            ).scalars()
        )
        assert with_column == SCHEMA_TABLES - {"events", "audit_events", "oidc_logins"}
        assert triggered == with_column

        old = "2000-01-01T00:00:00+00:00"
        conn.execute(
            text(
                "insert into tenants (id, slug, name, created_at, updated_at) "
                "values (gen_random_uuid(), 't', 'T', :old, :old)"
            ),
            {"old": old},
        )
        conn.execute(
            text(
                "insert into projects (id, tenant_id, name, slug, idea, audience, language, "
                "status, current_step, metadata, updated_at) select gen_random_uuid(), id, "
                "'P', 'p', 'i', 'a', 'en', 'draft', 0, '{}', :old from tenants"
            ),
            {"old": old},
        )
        conn.commit()
        for table in ("tenants", "projects"):
            # Even an UPDATE that tries to keep the old value gets now().
            conn.execute(
                text(f"update {table} set name = name || '!', updated_at = :old"), {"old": old}
            )
            row = conn.execute(
                text(f"select created_at, updated_at, now() as now from {table}")
            ).one()
            assert row.updated_at == row.now, table
            assert row.updated_at > row.created_at, table
        conn.commit()


def _settings(url: URL, role: str) -> Settings:
    return Settings(database_url=url.render_as_string(hide_password=False), database_app_user=role)


def assert_prepared(url: URL, role: str) -> None:
    """Migrated to head once, and the app role can work but cannot bypass RLS or migrate."""
    owner = sa.create_engine(url, poolclass=sa.NullPool)
    with owner.connect() as conn:
        assert migrate.current(conn) == HEAD
        assert public_tables(conn) == SCHEMA_TABLES | QUEUE_TABLES | {"alembic_version"}
        assert conn.execute(text("select count(*) from alembic_version")).scalar_one() == 1
    owner.dispose()
    app = sa.create_engine(url.set(username=role, password=None), poolclass=sa.NullPool)
    with app.connect() as conn:
        check_app_role(conn)
        assert conn.execute(text("select count(*) from projects")).scalar_one() == 0
        # It may read the schema's revision (to refuse a mismatch), never change it.
        assert conn.execute(text("select version_num from alembic_version")).scalar() == HEAD
        with pytest.raises(DBAPIError) as denied:
            conn.execute(text("update alembic_version set version_num = 'x'"))
        assert denied.value.orig.sqlstate == "42501"  # type: ignore[union-attr]
    app.dispose()


def test_prepare_is_idempotent(target: tuple[URL, str]) -> None:
    url, role = target
    urls = DatabaseUrls.derive(url, app_user=role, app_password="")
    prepare(urls, _settings(url, role))
    assert_prepared(url, role)
    prepare(urls, _settings(url, role))
    assert_prepared(url, role)


def test_concurrent_prepare_is_serialised(target: tuple[URL, str]) -> None:
    url, role = target
    urls = DatabaseUrls.derive(url, app_user=role, app_password="")
    settings = _settings(url, role)
    start = threading.Barrier(2)

    def run() -> None:
        start.wait(timeout=10)
        prepare(urls, settings)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run) for _ in range(2)]
        for future in futures:
            future.result(timeout=60)  # re-raises whatever failed in the thread
    assert_prepared(url, role)


def test_failed_bootstrap_work_keeps_its_error_and_releases_the_lock(empty_db: URL) -> None:
    with pytest.raises(DBAPIError) as failed, owner_connection(empty_db) as conn:
        conn.execute(text("select 1 / 0"))
    # the real error, not "current transaction is aborted" from the unlock
    assert failed.value.orig.sqlstate == "22012"  # type: ignore[union-attr]
    other = sa.create_engine(empty_db, poolclass=sa.NullPool)
    with other.connect() as conn:
        lock = sa.func.pg_try_advisory_lock(BOOTSTRAP_LOCK_KEY)
        assert conn.execute(sa.select(lock)).scalar_one() is True
        conn.execute(sa.select(sa.func.pg_advisory_unlock(BOOTSTRAP_LOCK_KEY)))
    other.dispose()
