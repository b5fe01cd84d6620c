"""Fixtures: a real PostgreSQL built by the real migrations, a real scripted LLM server.

The database is the server named by ``JEEX_TEST_DATABASE_URL`` (CI: the machine's
PostgreSQL) or, when unset, an embedded pgserver in a temporary folder. Each test
session gets its own database; tests connect as the application role, so
row-level security applies to them exactly as to the service.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import Settings
from jeex.db.bootstrap import prepare
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls, to_sqlalchemy_url
from jeex.engine.runner import RunnerDeps
from jeex.llm.client import LLMClient
from jeex.tenants.service import Principal, ensure_principal
from support.database import clear_queue
from support.fakellm import ScriptedLLM

APP_ROLE = "jeex_app"


def _server_url(tmp_root: Path) -> URL:
    configured = os.environ.get("JEEX_TEST_DATABASE_URL")
    if configured:
        return to_sqlalchemy_url(configured)
    from jeex.db.embedded import start_embedded_postgres

    return start_embedded_postgres(tmp_root / "embedded")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> URL:
    return _server_url(tmp_path_factory.mktemp("pg"))


#: Held on the server while the template is built or copied: pytest-xdist workers and
#: concurrent test sessions share one server, and the app role is cluster-wide.
TEMPLATE_LOCK_KEY = 0x4A455854  # "JEXT"
MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "jeex" / "migrations"


def _template_name() -> str:
    """Named after the migrations' content: a changed migration builds a new template."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*.py")) + sorted(MIGRATIONS.rglob("*.sql")):
        digest.update(path.relative_to(MIGRATIONS).as_posix().encode() + path.read_bytes())
    return f"jeex_tpl_{digest.hexdigest()[:12]}"


def _prepared(server_url: URL, name: str) -> DatabaseUrls:
    """Database ``name`` prepared as every JEEX process prepares its database: app role,
    migrations to head (a no-op on a copy of the template), grants, safety check."""
    owner = server_url.set(database=name)
    urls = DatabaseUrls.derive(owner, app_user=APP_ROLE, app_password="")
    prepare(urls, Settings(database_url=owner.render_as_string(hide_password=False)))
    return urls


def _exists(conn: sa.Connection, name: str) -> bool:
    found = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": name})
    return found.scalar() is not None


def _ensure_template(admin: sa.Connection, server_url: URL) -> str:
    """The migrated template database, built by the first session that needs it. Templates
    of older migrations are dropped; a half-built one (no marker comment) is rebuilt."""
    name = _template_name()
    stale = admin.execute(
        sa.text(
            "select datname from pg_database where datname like 'jeex\\_tpl\\_%' and "
            "(datname <> :n or coalesce(shobj_description(oid, 'pg_database'), '') <> 'ready')"
        ),
        {"n": name},
    ).scalars()
    for old in list(stale):
        admin.execute(sa.text(f'drop database if exists "{old}" with (force)'))
    if not _exists(admin, name):
        admin.execute(sa.text(f'create database "{name}"'))
        _prepared(server_url, name)
        admin.execute(sa.text(f"comment on database \"{name}\" is 'ready'"))
    return name


@pytest.fixture(scope="session")
def database_urls(server_url: URL) -> Iterator[DatabaseUrls]:
    """A fresh database for this test session (or xdist worker): a copy of a template
    migrated once by the real migrations, then prepared as every process prepares it."""
    name = f"jeex_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": TEMPLATE_LOCK_KEY})
        try:
            template = _ensure_template(conn, server_url)
            conn.execute(sa.text(f'create database "{name}" template "{template}"'))
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": TEMPLATE_LOCK_KEY})
    urls = _prepared(server_url, name)
    yield urls
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture
def empty_queue(database_urls: DatabaseUrls) -> None:
    """No job or worker left by an earlier test: jobs of its runs would run in this one."""
    clear_queue(database_urls)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm_server(fake_llm: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The scripted server with no faults, scripts or history left by another test."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture
def settings(database_urls: DatabaseUrls, llm_server: ScriptedLLM, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_urls.owner.render_as_string(hide_password=False),
        llm_base_url=llm_server.base_url,
        llm_max_retries=2,
        llm_retry_max_wait_seconds=0.05,
        llm_timeout_seconds=5,
        # Off for the in-process app: schemathesis and the route matrices send hundreds of
        # requests a minute from one address. tests/api/test_rate_limits.py turns them on.
        rate_limit_ip="off",
        rate_limit_user="off",
        rate_limit_project="off",
        rate_limit_signin_ip="off",
        rate_limit_signin_account="off",
    )


@pytest.fixture(scope="session")
async def db(database_urls: DatabaseUrls) -> AsyncIterator[Database]:
    database = Database(database_urls.app)
    yield database
    await database.dispose()


@pytest.fixture
async def llm(settings: Settings) -> AsyncIterator[LLMClient]:
    assert settings.llm_base_url is not None
    client = LLMClient(settings, base_url=settings.llm_base_url)
    yield client
    await client.close()


@pytest.fixture
def deps(db: Database, llm: LLMClient, settings: Settings) -> RunnerDeps:
    return RunnerDeps(db=db, llm=llm, settings=settings)


@pytest.fixture
async def principal(db: Database) -> Principal:
    """A new tenant and its owner: tests that commit stay apart by tenant."""
    slug = f"t-{uuid.uuid4().hex[:12]}"
    return await ensure_principal(db, tenant_slug=slug, tenant_name=slug, email=f"{slug}@x.test")


@pytest.fixture
async def session(db: Database, principal: Principal) -> AsyncIterator[AsyncSession]:
    """A tenant session whose work is rolled back after the test."""
    async with db.sessionmaker() as s:
        s.info["tenant_id"] = principal.tenant_id
        try:
            yield s
        finally:
            await s.rollback()


@pytest.fixture
def owner_engine(database_urls: DatabaseUrls) -> Iterator[sa.Engine]:
    """The migration owner: for seeding and catalog checks, never for the code under test."""
    engine = sa.create_engine(database_urls.owner, poolclass=sa.NullPool)
    yield engine
    engine.dispose()
