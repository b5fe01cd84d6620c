"""The database enforces tenancy (SECURITY.md P1–P8), whatever the application code does.

The tenant tables are always read from the catalog (every table in ``public`` with a
``tenant_id`` column), so a table added later is covered by the catalog checks at once,
and the isolation matrix refuses to pass until the seeding helper knows how to fill it.
Tests connect as the application role, as the service does; the owner (a superuser)
only seeds rows and reads the catalog. Mutations are applied inside an owner transaction
that is always rolled back, and checked from that same transaction after
``SET LOCAL ROLE`` to the app role, so nothing a test breaks is ever committed.
"""

from __future__ import annotations

import ast
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

import jeex
from jeex.db.bootstrap import check_app_role
from jeex.db.session import TENANT_KEY, Database
from jeex.db.urls import DatabaseUrls
from jeex.errors import DatabaseUnsafe

APP_ROLE = "jeex_app"  # the role conftest prepares the session database for
INSUFFICIENT_PRIVILEGE = "42501"
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
SOURCE_ROOT = Path(jeex.__file__).parent

# --------------------------------------------------------------------------- catalog

TENANT_TABLES_SQL = text(
    """
    select c.relname from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
    where n.nspname = 'public' and c.relkind in ('r', 'p')
    order by c.relname
    """
)


def tenant_tables(ex: Any) -> list[str]:
    """Every table of ``public`` with a ``tenant_id`` column (``ex``: Connection or Session)."""
    tables = list(ex.execute(TENANT_TABLES_SQL).scalars())
    assert tables, "the catalog shows no tenant table: every check would be vacuous"
    return tables


# The one predicate a policy may use, as PostgreSQL deparses it into pg_policies.
TENANT_PREDICATE = (
    "tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid"
)
DISJUNCTION = re.compile(r"\bOR\b|\bIS\s+NULL\b", re.IGNORECASE)


def expression_problems(expression: str | None) -> list[str]:
    if expression is None:
        return ["missing"]
    problems = []
    if expression.strip("() ").lower() == "true":
        problems.append("is TRUE")
    if TENANT_PREDICATE not in expression:
        problems.append("does not compare tenant_id with NULLIF(app.tenant_id, '')")
    if DISJUNCTION.search(expression):
        problems.append("has an OR / IS NULL disjunct that can widen it")
    return problems


def policy_problems(cmd: str, qual: str | None, with_check: str | None) -> list[str]:
    """What is wrong with one policy; PostgreSQL uses USING as the check for ALL/UPDATE."""
    problems = []
    if cmd in ("ALL", "SELECT", "UPDATE", "DELETE"):
        problems += [f"USING {p}" for p in expression_problems(qual)]
    if cmd in ("ALL", "UPDATE", "INSERT"):
        effective = with_check if with_check is not None or cmd == "INSERT" else qual
        problems += [f"WITH CHECK {p}" for p in expression_problems(effective)]
    return problems


def rls_problems(ex: Any) -> list[str]:
    """P2 over the whole catalog: RLS enabled and forced, ≥1 policy, each tenant-scoped."""
    tables = tenant_tables(ex)
    flags = {
        row.relname: row
        for row in ex.execute(
            text(
                "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'"
            )
        )
    }
    policies = ex.execute(
        text(
            "select tablename, policyname, cmd, qual, with_check from pg_policies "
            "where schemaname = 'public'"
        )
    ).all()
    problems = []
    for table in tables:
        if not flags[table].relrowsecurity:
            problems.append(f"{table}: row-level security is not enabled")
        if not flags[table].relforcerowsecurity:
            problems.append(f"{table}: row-level security is not forced")
        own = [p for p in policies if p.tablename == table]
        if not own:
            problems.append(f"{table}: no policy")
        for p in own:
            problems += [
                f"{table}.{p.policyname}: {problem}"
                for problem in policy_problems(p.cmd, p.qual, p.with_check)
            ]
    return problems


def view_problems(ex: Any) -> list[str]:
    """P7: a view runs with its owner's rights (a superuser's: no RLS) unless security_invoker."""
    problems = []
    rows = ex.execute(
        text(
            "select c.relname, c.relkind, c.reloptions from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('v', 'm')"
        )
    )
    for name, kind, options in rows:
        if kind == "m":
            problems.append(f"{name}: materialized view (always filled with its owner's rights)")
            continue
        settings_ = dict(option.split("=", 1) for option in options or [])
        if settings_.get("security_invoker", "").lower() not in ("true", "on", "1", "yes"):
            problems.append(f"{name}: view without security_invoker=true")
    return problems


# SECURITY DEFINER functions run as their owner and so bypass RLS: none is allowed yet.
# Each one returns no tenant data; the test of P7 below shows what it returns.
ALLOWED_SECURITY_DEFINER: frozenset[str] = frozenset({"jeex_run_counts", "jeex_my_memberships"})


def definer_problems(ex: Any) -> list[str]:
    problems = []
    rows = ex.execute(
        text(
            "select p.proname, p.proconfig from pg_proc p "
            "join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = 'public' and p.prosecdef"
        )
    )
    for name, config in rows:
        if name not in ALLOWED_SECURITY_DEFINER:
            problems.append(f"{name}: SECURITY DEFINER function not on the allow-list")
        elif not any(entry.startswith("search_path=") for entry in config or []):
            problems.append(f"{name}: SECURITY DEFINER function without a pinned search_path")
    return problems


# --------------------------------------------------------------------------- seeding

# Every tenant table, parents before children: the graph each seeded tenant gets.
SEEDED_TABLES = (
    "memberships",
    "api_keys",
    "projects",
    "tenant_templates",
    "runs",
    "run_sections",
    "document_versions",
    "events",
    "exhibits",
    "exports",
    "tenant_quotas",
    "invitations",
    "audit_events",
)
#: Tables with one row per tenant (the tenant is the key): INSERT own replaces it.
SINGLETON_TABLES = frozenset({"tenant_quotas"})
#: The app role adds rows and reads its own, never changes or deletes one (the audit log).
APPEND_ONLY_TABLES = frozenset({"audit_events"})
_serial = itertools.count(2)  # 1 is the seeded row's number


@dataclass
class Graph:
    """One tenant with one row in every tenant table (FK parents included)."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    tenant_id: uuid.UUID = field(default_factory=uuid.uuid4)
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)
    spare_user_id: uuid.UUID = field(default_factory=uuid.uuid4)  # not a member yet
    project_id: uuid.UUID = field(default_factory=uuid.uuid4)
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


def new_row(table: str, g: Graph, *, seed: bool = False) -> dict[str, Any]:
    """A complete valid row of ``table`` in ``g``'s tenant: the seeded one, or a fresh one."""
    n = 1 if seed else next(_serial)
    key = uuid.uuid4()
    tag = f"{g.tag}-{n}"
    rows: dict[str, Callable[[], dict[str, Any]]] = {
        "memberships": lambda: {
            "user_id": g.user_id if seed else g.spare_user_id,
            "role": "owner",
        },
        "api_keys": lambda: {
            "id": key,
            "user_id": g.user_id,
            "name": "key",
            "prefix": f"k{key.hex[:16]}",
            "key_hash": key.hex * 2,
        },
        "projects": lambda: {
            "id": g.project_id if seed else key,
            "name": "Project",
            "slug": f"p-{tag}",
            "idea": "idea",
            "audience": "audience",
            "language": "en",
            "status": "draft",
            "current_step": 0,
            "metadata": Jsonb({}),
        },
        "runs": lambda: {
            "id": g.run_id if seed else key,
            "project_id": g.project_id,
            "kind": "about",
            "step": 1,
            "agent_type": "business_analyst",
            "correlation_id": uuid.uuid4(),
            "input": Jsonb({}),
            "status": "pending",
            "model": "m",
            "prompt_version": "1",
            "template_version": "1",
        },
        "run_sections": lambda: {
            "run_id": g.run_id,
            "key": f"s-{tag}",
            "position": n,
            "title": "Section",
            "status": "pending",
            "content": "",
            "metadata": Jsonb({}),
        },
        "document_versions": lambda: {
            "id": key,
            "project_id": g.project_id,
            "run_id": g.run_id if seed else None,
            "document_type": "architecture",
            "title": "Doc",
            "version": n,
            "content": "text",
            "metadata": Jsonb({}),
        },
        "events": lambda: {
            "project_id": g.project_id,
            "seq": n,
            "run_id": g.run_id,
            "type": "run.started",
            "data": Jsonb({}),
        },
        "exhibits": lambda: {
            "id": key,
            "project_id": g.project_id,
            "label": f"E{n}",
            "filename": "notes.txt",
            "media_type": "text/plain",
            "size": 1,
            "sha256": key.hex * 2,
            "path": f"exhibits/{tag}",
            "status": "pending",
        },
        "exports": lambda: {
            "id": key,
            "project_id": g.project_id,
            "format": "zip",
            "status": "pending",
            "manifest": Jsonb({}),
        },
        "tenant_quotas": lambda: {"tokens_per_day": 1000 * n},
        "tenant_templates": lambda: {
            "id": key,
            "key": f"kind_{n}",
            "version": 1,
            "source": "key: kind",
            "fingerprint": key.hex[:16],
        },
        "invitations": lambda: {
            "id": key,
            "email": f"{tag}@example.test",
            "role": "editor",
            "token_hash": key.hex * 2,
            "expires_at": datetime.now(UTC) + timedelta(days=1),
        },
        "audit_events": lambda: {"action": "tenant.created", "target": tag},
    }
    return {"tenant_id": g.tenant_id, **rows[table]()}


def insert_sql(table: str, row: dict[str, Any]) -> sa.TextClause:
    columns = ", ".join(f'"{c}"' for c in row)
    values = ", ".join(f":{c}" for c in row)
    return text(f"insert into {table} ({columns}) values ({values})")


def seed_graph(conn: sa.Connection, g: Graph, *, extra_projects: int = 0) -> None:
    conn.execute(
        text("insert into tenants (id, slug, name) values (:id, :slug, :slug)"),
        {"id": g.tenant_id, "slug": f"rls-{g.tag}"},
    )
    conn.execute(
        text("insert into users (id, email, display_name) values (:id, :email, '')"),
        [
            {"id": g.user_id, "email": f"{g.tag}@rls.test"},
            {"id": g.spare_user_id, "email": f"{g.tag}-spare@rls.test"},
        ],
    )
    for table in SEEDED_TABLES:
        row = new_row(table, g, seed=True)
        conn.execute(insert_sql(table, row), row)
        g.rows[table] = row
    for _ in range(extra_projects):
        row = new_row("projects", g)
        conn.execute(insert_sql("projects", row), row)


@contextmanager
def seeded(engine: sa.Engine, extra_projects: Sequence[int] = (0, 0)) -> Iterator[list[Graph]]:
    """Tenants seeded as the owner (committed), deleted with everything they own afterwards."""
    graphs = [Graph() for _ in extra_projects]
    with engine.begin() as conn:
        for g, extra in zip(graphs, extra_projects, strict=True):
            seed_graph(conn, g, extra_projects=extra)
    try:
        yield graphs
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("delete from tenants where id = any(:ids)"),
                {"ids": [g.tenant_id for g in graphs]},
            )
            conn.execute(
                text("delete from users where id = any(:ids)"),
                {"ids": [u for g in graphs for u in (g.user_id, g.spare_user_id)]},
            )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(database_urls: DatabaseUrls) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_urls.owner, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pair(owner: sa.Engine) -> Iterator[tuple[Graph, Graph]]:
    """Tenants A and B with exactly one row in every tenant table; never changed by tests."""
    with seeded(owner) as (a, b):
        yield a, b


@pytest.fixture
def fresh_pair(owner: sa.Engine) -> Iterator[tuple[Graph, Graph]]:
    """Tenants A and B for tests that commit."""
    with seeded(owner) as (a, b):
        yield a, b


@pytest.fixture(scope="module")
async def pool1(database_urls: DatabaseUrls) -> AsyncIterator[Database]:
    """The app's Database with one pooled connection: every transaction reuses it."""
    database = Database(database_urls.app, pool_size=1)
    yield database
    await database.dispose()


@asynccontextmanager
async def rolled_back(database: Database, tenant: uuid.UUID | None) -> AsyncIterator[AsyncSession]:
    """An app session (tenant-bound unless ``tenant`` is None) whose work is rolled back."""
    async with database.sessionmaker() as session:
        if tenant is not None:
            session.info[TENANT_KEY] = tenant
        try:
            yield session
        finally:
            await session.rollback()


# --------------------------------------------------------------------------- checks
# Synchronous, on anything with execute() and begin_nested() (a Session inside run_sync,
# or an owner Connection after SET LOCAL ROLE), so the mutation test reuses them.


def count(ex: Any, sql: str, **params: Any) -> int:
    return int(ex.execute(text(sql), params).scalar_one())


def sqlstate_of(ex: Any, statement: sa.TextClause, params: dict[str, Any]) -> str | None:
    """Run ``statement`` in a savepoint: the SQLSTATE it fails with, or None."""
    try:
        with ex.begin_nested():
            ex.execute(statement, params)
    except DBAPIError as exc:
        return getattr(exc.orig, "sqlstate", None)
    return None


def rowcount(ex: Any, sql: str, **params: Any) -> int:
    return int(ex.execute(text(sql), params).rowcount)


def check_select(ex: Any, table: str, own: Graph, other: Graph) -> None:
    mine = count(ex, f"select count(*) from {table} where tenant_id = :t", t=own.tenant_id)
    theirs = count(ex, f"select count(*) from {table} where tenant_id = :t", t=other.tenant_id)
    everything = count(ex, f"select count(*) from {table}")
    assert (mine, theirs, everything) == (1, 0, 1), f"{table}: SELECT own/other/all"


def check_insert(ex: Any, table: str, own: Graph, other: Graph) -> None:
    if table in SINGLETON_TABLES:  # the tenant's one row is its key: make room for it
        ex.execute(text(f"delete from {table} where tenant_id = :t"), {"t": own.tenant_id})
    mine = new_row(table, own)
    assert sqlstate_of(ex, insert_sql(table, mine), mine) is None, f"{table}: INSERT own"
    theirs = new_row(table, other)
    state = sqlstate_of(ex, insert_sql(table, theirs), theirs)
    assert state == INSUFFICIENT_PRIVILEGE, f"{table}: INSERT for the other tenant gave {state}"


def check_append_only(ex: Any, table: str, own: Graph) -> None:
    """The app role may not change or delete a row of an append-only table, even its own."""
    for sql in (f"update {table} set tenant_id = tenant_id", f"delete from {table}"):
        state = sqlstate_of(ex, text(f"{sql} where tenant_id = :t"), {"t": own.tenant_id})
        assert state == INSUFFICIENT_PRIVILEGE, f"{table}: {sql} gave {state}"


def check_update(ex: Any, table: str, own: Graph, other: Graph) -> None:
    if table in APPEND_ONLY_TABLES:
        return check_append_only(ex, table, own)
    sql = f"update {table} set tenant_id = tenant_id where tenant_id = :t"
    mine = rowcount(ex, sql, t=own.tenant_id)
    theirs = rowcount(ex, sql, t=other.tenant_id)
    assert (mine, theirs) == (1, 0), f"{table}: UPDATE own/other"
    move = text(f"update {table} set tenant_id = :other where tenant_id = :own")
    state = sqlstate_of(ex, move, {"own": own.tenant_id, "other": other.tenant_id})
    assert state == INSUFFICIENT_PRIVILEGE, f"{table}: moving a row to the other tenant: {state}"


def check_delete(ex: Any, table: str, own: Graph, other: Graph) -> None:
    if table in APPEND_ONLY_TABLES:
        return check_append_only(ex, table, own)
    sql = f"delete from {table} where tenant_id = :t"
    theirs = rowcount(ex, sql, t=other.tenant_id)
    mine = rowcount(ex, sql, t=own.tenant_id)
    assert (mine, theirs) == (1, 0), f"{table}: DELETE own/other"


def check_no_context(ex: Any, table: str, own: Graph, other: Graph | None = None) -> None:
    """Without a tenant: nothing visible at all, and no INSERT (P3)."""
    assert count(ex, f"select count(*) from {table}") == 0, f"{table}: rows visible"
    row = new_row(table, own)
    state = sqlstate_of(ex, insert_sql(table, row), row)
    assert state == INSUFFICIENT_PRIVILEGE, f"{table}: INSERT without tenant gave {state}"


MATRIX: dict[str, Callable[[Any, str, Graph, Graph], None]] = {
    "SELECT": check_select,
    "INSERT": check_insert,
    "UPDATE": check_update,
    "DELETE": check_delete,
}


# --------------------------------------------------------------------------- P1


def test_p1_app_role_is_plain_and_owns_nothing(database_urls: DatabaseUrls) -> None:
    app = sa.create_engine(database_urls.app, poolclass=sa.NullPool)
    try:
        with app.connect() as conn:
            role = conn.execute(
                text(
                    "select rolname, rolsuper, rolbypassrls from pg_roles "
                    "where rolname = current_user"
                )
            ).one()
            assert role.rolname == APP_ROLE
            assert role.rolsuper is False
            assert role.rolbypassrls is False
            owned = count(
                conn,
                "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'public' and c.relowner = "
                "(select oid from pg_roles where rolname = current_user)",
            )
            assert owned == 0
            # Nor can it become a role that could (SET ROLE to an owner or a superuser).
            memberships = count(
                conn,
                "select count(*) from pg_auth_members "
                "where member = (select oid from pg_roles where rolname = current_user)",
            )
            assert memberships == 0
            assert len(tenant_tables(conn)) >= len(SEEDED_TABLES)
            check_app_role(conn)  # the start-up check accepts it
    finally:
        app.dispose()


def test_p1_startup_check_refuses_a_superuser(owner: sa.Engine) -> None:
    with owner.connect() as conn, pytest.raises(DatabaseUnsafe):
        check_app_role(conn)


# --------------------------------------------------------------------------- P2


def test_p2_every_tenant_table_has_forced_rls_and_scoped_policies(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        assert rls_problems(conn) == []


@pytest.mark.parametrize(
    ("cmd", "qual", "with_check"),
    [
        ("ALL", "true", None),
        ("ALL", f"({TENANT_PREDICATE})", "true"),
        (
            "SELECT",
            f"((current_setting('app.tenant_id'::text, true) IS NULL) OR {TENANT_PREDICATE})",
            None,
        ),
        ("ALL", "(tenant_id = (current_setting('app.tenant_id'::text))::uuid)", None),
        ("INSERT", None, None),
        ("UPDATE", f"({TENANT_PREDICATE})", f"(({TENANT_PREDICATE}) OR true)"),
    ],
)
def test_p2_policy_checker_flags_unsafe_policies(
    cmd: str, qual: str | None, with_check: str | None
) -> None:
    assert policy_problems(cmd, qual, with_check)


def test_p2_policy_checker_accepts_the_tenant_predicate() -> None:
    predicate = f"({TENANT_PREDICATE})"
    assert policy_problems("ALL", predicate, predicate) == []
    assert policy_problems("ALL", predicate, None) == []  # WITH CHECK inherited from USING
    assert policy_problems("INSERT", None, predicate) == []


# --------------------------------------------------------------------------- P3


async def test_p3_no_tenant_context_fails_closed_on_a_reused_connection(
    pool1: Database, pair: tuple[Graph, Graph]
) -> None:
    a, b = pair
    async with pool1.tenant_session(a.tenant_id) as session:
        pid = (await session.execute(text("select pg_backend_pid()"))).scalar_one()
        for table in await session.run_sync(tenant_tables):
            seen = (await session.execute(text(f"select count(*) from {table}"))).scalar_one()
            assert seen == 1, f"{table}: tenant A should see its one row"
    # committed; the next transaction on the same connection carries no tenant
    async with rolled_back(pool1, None) as session:
        assert (await session.execute(text("select pg_backend_pid()"))).scalar_one() == pid
        setting = await session.execute(text("select current_setting('app.tenant_id', true)"))
        assert setting.scalar_one() == ""  # not NULL: the fact that bites
        for table in await session.run_sync(tenant_tables):
            await session.run_sync(check_no_context, table, a, b)


# --------------------------------------------------------------------------- P4


@pytest.fixture(scope="module")
def interleaved(owner: sa.Engine) -> Iterator[dict[str, Any]]:
    """Tenants a and b with a few projects each; what each of them owns, per table."""
    with seeded(owner, extra_projects=(2, 4)) as graphs:
        # (closed before yielding: an open owner transaction would block the DDL tests)
        with owner.connect() as conn:
            census = " union all ".join(
                f"select '{t}' as tbl, tenant_id, count(*) as n from {t} group by tenant_id"
                for t in tenant_tables(conn)
            )
            owned = {
                (row.tbl, row.tenant_id): row.n
                for row in conn.execute(text(census))
                if row.tenant_id in {g.tenant_id for g in graphs}
            }
        assert owned[("projects", graphs[1].tenant_id)] == 5
        yield {"graphs": dict(zip("ab", graphs, strict=True)), "census": census, "owned": owned}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["a", "b", None]), st.booleans()), min_size=1, max_size=8
    )
)
async def test_p4_tenant_context_never_outlives_its_transaction(
    pool1: Database, interleaved: dict[str, Any], steps: list[tuple[str | None, bool]]
) -> None:
    graphs, owned = interleaved["graphs"], interleaved["owned"]
    pids = set()
    for who, commit in steps:
        tenant = graphs[who].tenant_id if who else None
        async with pool1.sessionmaker() as session:
            if tenant is not None:
                session.info[TENANT_KEY] = tenant
            pids.add((await session.execute(text("select pg_backend_pid()"))).scalar_one())
            seen = {
                (row.tbl, row.tenant_id): row.n
                for row in await session.execute(text(interleaved["census"]))
            }
            expected = {k: n for k, n in owned.items() if k[1] == tenant}
            assert seen == expected, f"step {who!r} after {steps}"
            await (session.commit() if commit else session.rollback())
    assert len(pids) == 1, "the pool of one must hand out the same connection"


SESSION_SET = re.compile(r"\bSET\s+(?:LOCAL\s+|SESSION\s+)?app\.", re.IGNORECASE)
SQL_WORDS = re.compile(
    r"\b(?:select|insert\s+into|update|delete\s+from|where|set_config)\b", re.IGNORECASE
)
BOUND_SET_CONFIG = re.compile(
    r"set_config\(\s*'app\.(tenant_id|user_id)'\s*,\s*:\w+\s*,\s*true\s*\)"
)


def tenant_fstring_sql(source: str) -> list[str]:
    """f-strings that look like SQL and interpolate a tenant value (ALL_CAPS constants aside)."""
    findings = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if not SQL_WORDS.search(literal):
            continue
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            names = [
                n.id if isinstance(n, ast.Name) else n.attr
                for n in ast.walk(value.value)
                if isinstance(n, ast.Name | ast.Attribute)
            ]
            if any("tenant" in name.lower() and not name.isupper() for name in names):
                findings.append(ast.unparse(node))
    return findings


def test_p4_static_check_finds_what_it_looks_for() -> None:
    assert SESSION_SET.search("conn.execute(text('SET app.tenant_id = x'))")
    assert SESSION_SET.search("set local app.tenant_id to 'x'")
    assert not SESSION_SET.search("select set_config('app.tenant_id', :tid, true)")
    bad = "q = f\"select * from projects where tenant_id = '{principal.tenant_id}'\""
    assert tenant_fstring_sql(bad)
    assert not tenant_fstring_sql('q = f"alter table {table} force row level security"')


def test_p4_source_never_sets_the_tenant_by_session_set_or_fstring() -> None:
    files = sorted(SOURCE_ROOT.rglob("*.py"))
    assert len(files) > 10
    session_sets, fstrings, set_configs = [], [], {}
    for path in files:
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(SOURCE_ROOT).as_posix()
        session_sets += [f"{relative}: {m.group(0)}" for m in SESSION_SET.finditer(source)]
        fstrings += [f"{relative}: {f}" for f in tenant_fstring_sql(source)]
        for node in ast.walk(ast.parse(source)):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and "set_config" in node.value:
                set_configs.setdefault(relative, []).append(node.value)
    assert session_sets == []
    assert fstrings == []
    # The one place the tenant (and the user "my tenants" reads) is set:
    # transaction-local, with a bind parameter.
    assert set(set_configs) == {"db/session.py"}
    for value in set_configs["db/session.py"]:
        assert BOUND_SET_CONFIG.search(value), value


# --------------------------------------------------------------------------- P5


def project_row(engine: sa.Engine, project_id: uuid.UUID) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            text("select * from projects where id = :id"), {"id": project_id}
        ).mappings()
        found = row.one_or_none()
        return dict(found) if found is not None else None


async def sqlstate_in_tenant(
    database: Database, tenant: uuid.UUID, statement: sa.TextClause, params: dict[str, Any]
) -> str | None:
    try:
        async with database.tenant_session(tenant) as session:
            await session.execute(statement, params)
    except DBAPIError as exc:
        return getattr(exc.orig, "sqlstate", None)
    return None


async def test_p5_cross_tenant_writes_are_impossible(
    db: Database, owner: sa.Engine, fresh_pair: tuple[Graph, Graph]
) -> None:
    a, b = fresh_pair
    theirs_before = project_row(owner, b.project_id)
    mine_before = project_row(owner, a.project_id)
    assert theirs_before is not None
    assert mine_before is not None

    planted = new_row("projects", b)
    state = await sqlstate_in_tenant(db, a.tenant_id, insert_sql("projects", planted), planted)
    assert state == INSUFFICIENT_PRIVILEGE
    assert project_row(owner, planted["id"]) is None

    async with db.tenant_session(a.tenant_id) as session:
        updated = await session.execute(
            text("update projects set name = 'pwned', status = 'failed' where id = :id"),
            {"id": b.project_id},
        )
        deleted_run = await session.execute(
            text("delete from runs where id = :id"), {"id": b.run_id}
        )
        deleted = await session.execute(
            text("delete from projects where id = :id"), {"id": b.project_id}
        )
        assert (updated.rowcount, deleted_run.rowcount, deleted.rowcount) == (0, 0, 0)
    assert project_row(owner, b.project_id) == theirs_before

    move = text("update projects set tenant_id = :b where id = :id")
    params = {"b": b.tenant_id, "id": a.project_id}
    assert await sqlstate_in_tenant(db, a.tenant_id, move, params) == INSUFFICIENT_PRIVILEGE
    assert project_row(owner, a.project_id) == mine_before


# --------------------------------------------------------------------------- P6

UNIQUE_KEYS_SQL = text(
    """
    select c.relname as tbl, i.relname as idx,
           array(select pg_get_indexdef(x.indexrelid, k, true)
                 from generate_series(1, x.indnkeyatts) k order by k) as cols
    from pg_index x
    join pg_class c on c.oid = x.indrelid
    join pg_class i on i.oid = x.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and x.indisunique
    """
)
FOREIGN_KEYS_SQL = text(
    """
    select k.conname, r.relname as tbl, f.relname as ref,
           array(select a.attname from unnest(k.conkey) with ordinality u(num, pos)
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.num
                 order by u.pos) as cols,
           array(select a.attname from unnest(k.confkey) with ordinality u(num, pos)
                 join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.num
                 order by u.pos) as ref_cols
    from pg_constraint k
    join pg_class r on r.oid = k.conrelid
    join pg_class f on f.oid = k.confrelid
    join pg_namespace n on n.oid = r.relnamespace
    where n.nspname = 'public' and k.contype = 'f'
    """
)
# FKs into the global identity tables are exempt: a tenant or user id is not tenant data,
# those tables have no tenant_id to pair with, and their ids are random UUIDs the caller
# already holds (its own tenant, a member of it), so the check answers nothing new.
GLOBAL_TABLES = frozenset({"tenants", "users"})


def key_problems(ex: Any) -> tuple[list[str], int]:
    """P6 over the catalog: unique keys and FKs without tenant_id; and how many FKs counted."""
    tables = set(tenant_tables(ex))
    keys = [k for k in ex.execute(UNIQUE_KEYS_SQL) if k.tbl in tables]
    unkeyed = tables - {k.tbl for k in keys}
    problems = [f"{t}: no primary key or unique key" for t in sorted(unkeyed)]
    problems += [
        f"{k.tbl}.{k.idx}: unique without tenant_id" for k in keys if "tenant_id" not in k.cols
    ]
    checked = 0
    for fk in ex.execute(FOREIGN_KEYS_SQL):
        if fk.ref in GLOBAL_TABLES or (fk.tbl not in tables and fk.ref not in tables):
            continue
        checked += 1
        paired = (
            "tenant_id" in fk.cols
            and "tenant_id" in fk.ref_cols
            and fk.cols.index("tenant_id") == fk.ref_cols.index("tenant_id")
        )
        if not paired:
            problems.append(f"{fk.tbl}.{fk.conname}: FK to {fk.ref} not paired on tenant_id")
    return problems, checked


def test_p6_unique_keys_and_foreign_keys_include_tenant_id(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        problems, checked = key_problems(conn)
    assert problems == []
    # Every child table's FK to its parent (memberships, tenant_quotas, invitations and
    # audit_events point only at the global tenants and users).
    assert checked >= len(SEEDED_TABLES) - 4


def test_p6_key_checker_flags_a_global_unique_and_a_bare_fk(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql("create unique index rls_bad_uq on projects (slug, id)")
            conn.exec_driver_sql("create unique index rls_bad_id on projects (id)")
            conn.exec_driver_sql(
                "alter table exports add constraint rls_bad_fk "
                "foreign key (project_id) references projects (id)"
            )
            problems, _ = key_problems(conn)
        finally:
            tx.rollback()
    assert sorted(problems) == [
        "exports.rls_bad_fk: FK to projects not paired on tenant_id",
        "projects.rls_bad_id: unique without tenant_id",
        "projects.rls_bad_uq: unique without tenant_id",
    ]


async def test_p6_no_existence_oracle_across_tenants(
    db: Database, pair: tuple[Graph, Graph]
) -> None:
    a, b = pair
    async with rolled_back(db, a.tenant_id) as session:

        def probe(s: Any) -> None:
            taken_elsewhere = {**new_row("projects", a), "slug": b.rows["projects"]["slug"]}
            stmt = insert_sql("projects", taken_elsewhere)
            assert sqlstate_of(s, stmt, taken_elsewhere) is None
            taken_here = {**new_row("projects", a), "slug": a.rows["projects"]["slug"]}
            stmt = insert_sql("projects", taken_here)
            assert sqlstate_of(s, stmt, taken_here) == UNIQUE_VIOLATION  # the key is live
            # A reference to B's project fails exactly like one to a project that never was.
            for project_id in (b.project_id, uuid.uuid4()):
                run = {**new_row("runs", a), "project_id": project_id}
                assert sqlstate_of(s, insert_sql("runs", run), run) == FOREIGN_KEY_VIOLATION

        await session.run_sync(probe)


# --------------------------------------------------------------------------- P7


def test_p7_views_are_security_invoker_and_no_definer_functions(owner: sa.Engine) -> None:
    with owner.connect() as conn:
        assert view_problems(conn) == []
        assert definer_problems(conn) == []


def test_p7_run_counts_give_the_app_role_totals_and_nothing_else(
    owner: sa.Engine, pair: tuple[Graph, Graph]
) -> None:
    # The metrics' one way past RLS: a status and a number, summed over every tenant.
    with owner.connect() as conn, conn.begin():
        total = conn.execute(text("select count(*) from runs")).scalar_one()
        as_app_role(conn, None)
        assert conn.execute(text("select count(*) from runs")).scalar_one() == 0
        rows = conn.execute(text("select * from jeex_run_counts()")).mappings().all()
    assert rows
    assert all(set(row) == {"status", "runs"} for row in rows)
    assert sum(row["runs"] for row in rows) == total >= 2


def test_p7_my_memberships_give_one_user_their_own_and_nothing_else(
    owner: sa.Engine, pair: tuple[Graph, Graph]
) -> None:
    # "My tenants" is the one read of memberships across tenants: only the user the
    # session names, and only tenant, slug, name and role.
    a, b = pair
    with owner.connect() as conn, conn.begin():
        conn.execute(
            text("insert into memberships (tenant_id, user_id, role) values (:t, :u, 'viewer')"),
            {"t": b.tenant_id, "u": a.user_id},
        )
        as_app_role(conn, a.tenant_id)
        mine = "select * from jeex_my_memberships()"
        assert conn.execute(text(mine)).all() == []  # no user named: nothing
        conn.execute(text("select set_config('app.user_id', :u, true)"), {"u": str(a.user_id)})
        rows = conn.execute(text(mine)).mappings().all()
        assert {(r["tenant_id"], r["role"]) for r in rows} == {
            (a.tenant_id, "owner"),
            (b.tenant_id, "viewer"),
        }
        assert all(set(r) == {"tenant_id", "slug", "name", "role"} for r in rows)
        # The function is not a way into the table: b's other rows stay invisible.
        visible = "select count(*) from memberships where tenant_id = :t"
        assert count(conn, visible, t=b.tenant_id) == 0
        conn.execute(text("select set_config('app.user_id', :u, true)"), {"u": str(b.user_id)})
        assert [r.tenant_id for r in conn.execute(text(mine))] == [b.tenant_id]


def as_app_role(conn: sa.Connection, tenant: uuid.UUID | None) -> None:
    """Inside an owner transaction: act as the app role from here to the end of it."""
    conn.exec_driver_sql(f"set local role {APP_ROLE}")
    if tenant is not None:
        conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})


def test_p7_checkers_flag_a_superuser_view_and_a_definer_function(
    owner: sa.Engine, pair: tuple[Graph, Graph]
) -> None:
    a, b = pair
    with owner.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql("create view rls_leaky as select * from projects")
            conn.exec_driver_sql(
                "create view rls_safe with (security_invoker = true) as select * from projects"
            )
            conn.exec_driver_sql(
                "create function rls_definer() returns bigint language sql security definer "
                "as 'select count(*) from projects'"
            )
            views = view_problems(conn)
            assert [p for p in views if p.startswith("rls_leaky:")]
            assert not [p for p in views if p.startswith("rls_safe:")]
            assert [p for p in definer_problems(conn) if p.startswith("rls_definer:")]
            # ... and what they flag is a real bypass for the app role.
            conn.exec_driver_sql(f"grant select on rls_leaky, rls_safe to {APP_ROLE}")
            as_app_role(conn, a.tenant_id)
            leak = "select count(*) from {} where tenant_id = :t"
            assert count(conn, leak.format("rls_leaky"), t=b.tenant_id) == 1
            assert count(conn, leak.format("rls_safe"), t=b.tenant_id) == 0
            assert count(conn, "select rls_definer()") > count(
                conn, "select count(*) from projects"
            )
        finally:
            tx.rollback()


# --------------------------------------------------------------------------- P8


def test_p8_matrix_covers_every_tenant_table(owner: sa.Engine) -> None:
    """A new tenant table must get a row in ``new_row`` before the matrix can pass."""
    with owner.connect() as conn:
        assert set(tenant_tables(conn)) == set(SEEDED_TABLES)


@pytest.mark.parametrize("operation", list(MATRIX))
@pytest.mark.parametrize("table", SEEDED_TABLES)
async def test_p8_isolation_matrix(
    db: Database, pair: tuple[Graph, Graph], table: str, operation: str
) -> None:
    own, other = pair
    async with rolled_back(db, own.tenant_id) as session:
        await session.run_sync(MATRIX[operation], table, own, other)


PREDICATE_SQL = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
# Each way of breaking a table's protection, and the runtime check that must then fail
# (None: the app role is not the owner, so only the catalog check can see it).
MUTATIONS: dict[str, tuple[str, Callable[..., None] | None]] = {
    "disable_rls": ("alter table {t} disable row level security", check_select),
    "no_force": ("alter table {t} no force row level security", None),
    # With RLS on and no policy, PostgreSQL denies everything: own rows vanish.
    "drop_policy": ("drop policy tenant_isolation on {t}", check_select),
    "permissive_true": ("create policy leak on {t} using (true)", check_select),
    "null_or": (
        f"alter policy tenant_isolation on {{t}} using ("
        f"NULLIF(current_setting('app.tenant_id', true), '') is null or {PREDICATE_SQL})",
        check_no_context,
    ),
    "check_true": ("alter policy tenant_isolation on {t} with check (true)", check_insert),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_p8_mutations_are_caught(
    owner: sa.Engine, pair: tuple[Graph, Graph], mutation: str
) -> None:
    """Each mutation, on each tenant table, fails the catalog check and the runtime check."""
    ddl, runtime_check = MUTATIONS[mutation]
    a, b = pair
    with owner.connect() as conn:
        tables = tenant_tables(conn)
        conn.rollback()
        for table in tables:
            tx = conn.begin()
            try:
                conn.exec_driver_sql(ddl.format(t=table))
                assert [p for p in rls_problems(conn) if p.startswith(table)], table
                if runtime_check is not None:
                    as_app_role(conn, None if runtime_check is check_no_context else a.tenant_id)
                    with pytest.raises(AssertionError):
                        runtime_check(conn, table, a, b)
            finally:
                tx.rollback()
