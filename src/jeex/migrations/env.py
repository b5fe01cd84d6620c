"""Alembic environment: runs on the owner connection handed over by ``jeex.db.migrate``.

With ``alembic`` on the command line (``alembic.ini`` at the repository root),
the owner URL comes from the settings (and the embedded server is started).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from jeex.db.migrate import include_name
from jeex.migrations.models import Base

target_metadata = Base.metadata


def _run(connection: sa.engine.Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from jeex.config import get_settings
    from jeex.db.bootstrap import resolve_urls

    engine = sa.create_engine(resolve_urls(get_settings()).owner, poolclass=sa.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


run_migrations_online()
