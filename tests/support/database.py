"""The test database as its owner sees it: for seeding and clean-up, never for the code under
test (that connects as the application role, under row-level security)."""

from __future__ import annotations

import sqlalchemy as sa

from jeex.db.urls import DatabaseUrls


def clear_queue(urls: DatabaseUrls) -> None:
    """No job or worker left by an earlier test: jobs of its runs would run in the next one."""
    engine = sa.create_engine(urls.owner, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from procrastinate_jobs where status in ('todo', 'doing')"))
        conn.execute(sa.text("delete from procrastinate_workers"))
    engine.dispose()
