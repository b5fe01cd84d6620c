"""Alembic, driven from code: the migrations ship inside the package.

``jeex db upgrade`` and the embedded start-up both call :func:`upgrade` on an
owner connection, so there is one way the schema comes to exist.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

QUEUE_TABLE_PREFIX = "procrastinate_"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares our models only: the queue's tables belong to procrastinate."""
    return not (type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX))


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "jeex:migrations")
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision this code ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the package ships no migration"
    return revision


def known(revision: str) -> bool:
    """Whether this code ships ``revision`` (an older or the newest one)."""
    return any(
        s.revision == revision
        for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def upgrade(conn: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(conn), revision)
    conn.commit()


def downgrade(conn: Connection, revision: str = "base") -> None:
    command.downgrade(alembic_config(conn), revision)
    conn.commit()


def current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
