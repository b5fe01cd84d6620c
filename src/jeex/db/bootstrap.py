"""Prepare a database for the application: role, schema, grants, safety check.

Runs as the owner (migrations must); the application then connects as a role
that owns nothing and cannot bypass row-level security (SECURITY.md P1). Two
processes may prepare the same database at once (two ``jeex`` commands on the
embedded server), so the work is serialised by an advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from psycopg import sql as psql
from sqlalchemy.engine import URL, Connection

from jeex.config import Settings
from jeex.db.urls import DatabaseUrls, to_sqlalchemy_url
from jeex.errors import DatabaseUnavailable, DatabaseUnsafe, SchemaMismatch

BOOTSTRAP_LOCK_KEY = 0x4A454558  # "JEEX"

TENANT_TABLES_SQL = """
select c.relname from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
where n.nspname = 'public' and c.relkind in ('r', 'p')
"""


def resolve_urls(settings: Settings) -> DatabaseUrls:
    """Owner and app URLs, starting the embedded server when no URL is configured."""
    if settings.database_url is None:
        # Not a cycle: pgserver loads only in the embedded shape.
        from jeex.db.embedded import start_embedded_postgres

        server = start_embedded_postgres(settings.data_dir)
        ensure_database(server, settings.database_name)
        owner = server.set(database=settings.database_name)
    else:
        owner = to_sqlalchemy_url(settings.database_url)
    return DatabaseUrls.derive(
        owner,
        app_user=settings.database_app_user,
        app_password=settings.database_app_password.get_secret_value(),
    )


def ensure_database(server: URL, name: str) -> None:
    """Create the database on the embedded server the first time."""
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(BOOTSTRAP_LOCK_KEY)))
        exists = conn.execute(
            sa.text("select 1 from pg_database where datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            conn.execute(sa.text(f'create database "{_ident(name)}"'))
        conn.execute(sa.select(sa.func.pg_advisory_unlock(BOOTSTRAP_LOCK_KEY)))
    engine.dispose()


def _ident(name: str) -> str:
    """Role and database names come from settings; allow only plain identifiers."""
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"invalid PostgreSQL identifier {name!r}")
    return name


@contextmanager
def _connect(engine: sa.Engine) -> Iterator[Connection]:
    """A connection, or one clear sentence when the server or database cannot be reached
    (a wrong ``JEEX_DATABASE_URL`` is a setting to fix, not a traceback to read)."""
    try:
        conn = engine.connect()
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot connect to the database {where}: {reason}") from exc
    with conn:
        yield conn


@contextmanager
def owner_connection(url: URL) -> Iterator[Connection]:
    """An owner connection holding the bootstrap advisory lock for its lifetime."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with _connect(engine) as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(BOOTSTRAP_LOCK_KEY)))
            conn.commit()
            try:
                yield conn
            except BaseException:
                # An error leaves the transaction aborted: end it, or the unlock below
                # fails too and its error replaces the real one.
                conn.rollback()
                raise
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(BOOTSTRAP_LOCK_KEY)))
                conn.commit()
    finally:
        engine.dispose()


def ensure_app_role(conn: Connection, role: str, password: str) -> None:
    """Create the application role, never superuser, never BYPASSRLS."""
    role = _ident(role)
    exists = conn.execute(
        sa.text("select 1 from pg_roles where rolname = :r"), {"r": role}
    ).scalar()
    options = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
    if not exists:
        conn.execute(sa.text(f'create role "{role}" {options}'))
    if password:
        # DDL takes no bind parameters; psycopg composes the literal safely.
        statement = psql.SQL("alter role {} password {}").format(
            psql.Identifier(role), psql.Literal(password)
        )
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    conn.commit()


def grant_app_role(conn: Connection, role: str) -> None:
    """Let the app role use the tables it needs (idempotent; re-run after every upgrade)."""
    role = _ident(role)
    database = conn.execute(sa.text("select current_database()")).scalar_one()
    statements = [
        f'grant connect on database "{database}" to "{role}"',
        f'grant usage on schema public to "{role}"',
        f'grant select, insert, update, delete on all tables in schema public to "{role}"',
        f'grant usage, select on all sequences in schema public to "{role}"',
        f'revoke all on table alembic_version from "{role}"',
        # Read-only: a process that does not migrate checks the schema's revision.
        f'grant select on table alembic_version to "{role}"',
    ]
    # Totals for metrics, no tenant data (from migration 0004 on; absent below it).
    if conn.execute(sa.text("select to_regprocedure('jeex_run_counts()')")).scalar():
        statements.append(f'grant execute on function jeex_run_counts() to "{role}"')
    # From 0006 on: "my tenants" (one user's memberships), and an append-only audit log.
    if conn.execute(sa.text("select to_regprocedure('jeex_my_memberships()')")).scalar():
        statements.append(f'grant execute on function jeex_my_memberships() to "{role}"')
    if conn.execute(sa.text("select to_regclass('audit_events')")).scalar():
        statements.append(f'revoke update, delete, truncate on table audit_events from "{role}"')
    for statement in statements:
        conn.execute(sa.text(statement))
    conn.commit()


def check_app_role(conn: Connection) -> None:
    """Refuse to run when the app role could bypass row-level security (P1)."""
    row = conn.execute(
        sa.text("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
    ).one()
    if row.rolsuper or row.rolbypassrls:
        raise DatabaseUnsafe(
            "the application role is a superuser or has BYPASSRLS; refusing to run"
        )
    owned = conn.execute(
        sa.text(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relowner = "
            "(select oid from pg_roles where rolname = current_user)"
        )
    ).scalar_one()
    if owned:
        raise DatabaseUnsafe("the application role owns tables; row-level security would not apply")
    memberships = conn.execute(
        sa.text(
            "select count(*) from pg_auth_members "
            "where member = (select oid from pg_roles where rolname = current_user)"
        )
    ).scalar_one()
    if memberships:
        raise DatabaseUnsafe(
            "the application role is a member of other roles and could act as their owner"
        )


def prepare(urls: DatabaseUrls, settings: Settings) -> None:
    """Role, migrations to head, grants, then the safety check as the app role."""
    # Not a cycle: Alembic and the models of every domain load only to migrate.
    from jeex.db.migrate import upgrade

    with owner_connection(urls.owner) as conn:
        ensure_app_role(
            conn, settings.database_app_user, settings.database_app_password.get_secret_value()
        )
        upgrade(conn)
        grant_app_role(conn, settings.database_app_user)
    verify_app_connection(urls.app)


def verify_schema(url: URL) -> None:
    """As the app role: the schema is the one this code needs and the role is safe (P1).

    What every process does in the distributed shape, where only ``jeex db upgrade`` (with
    the owner's credentials) migrates. One-line refusals name what to do.
    """
    # Not a cycle: Alembic loads only to read the revisions this code ships.
    from jeex.db.migrate import head, known

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with _connect(engine) as conn:
            check_app_role(conn)
            try:
                version = conn.execute(sa.text("select version_num from alembic_version")).scalar()
            except sa.exc.ProgrammingError:
                version = None
    finally:
        engine.dispose()
    newest = head()
    if version is None:
        raise SchemaMismatch(
            "the database has no JEEX schema the application role can read; "
            "run `jeex db upgrade` with the owner's credentials first"
        )
    if version == newest:
        return
    if known(version):
        raise SchemaMismatch(
            f"the database schema is at revision {version}, this JEEX needs {newest}; "
            "run `jeex db upgrade` with the owner's credentials first"
        )
    raise SchemaMismatch(
        f"the database schema is at revision {version}, newer than this JEEX knows "
        f"(its newest is {newest}); run the JEEX version that migrated it"
    )


def verify_app_connection(url: URL) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            check_app_role(conn)
    finally:
        engine.dispose()
