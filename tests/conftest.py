"""Fixtures: a real PostgreSQL built by the real migrations, a real scripted LLM server.

The database is the server named by ``JEEX_TEST_DATABASE_URL`` (CI: the machine's
PostgreSQL) or, when unset, an embedded pgserver in a temporary folder. Each test
session gets its own database; tests connect as the application role, so
row-level security applies to them exactly as to the service.
"""

from __future__ import annotations

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
from jeex.llm.client import LLMClient
from jeex.runs.runner import RunnerDeps
from jeex.tenants.service import Principal, ensure_principal
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


@pytest.fixture(scope="session")
def database_urls(server_url: URL) -> Iterator[DatabaseUrls]:
    """A fresh database for this test session, migrated to head by the real migrations."""
    name = f"jeex_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    owner = server_url.set(database=name)
    urls = DatabaseUrls.derive(owner, app_user=APP_ROLE, app_password="")
    prepare(urls, Settings(database_url=owner.render_as_string(hide_password=False)))
    yield urls
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture
def empty_queue(database_urls: DatabaseUrls) -> None:
    """No job or worker left by an earlier test: jobs of its runs would run in this one."""
    engine = sa.create_engine(database_urls.owner, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from procrastinate_jobs where status in ('todo', 'doing')"))
        conn.execute(sa.text("delete from procrastinate_workers"))
    engine.dispose()


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
