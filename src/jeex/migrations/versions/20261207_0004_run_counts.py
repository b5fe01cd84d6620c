"""Run counts for metrics: how many runs are in each status, across tenants.

``runs`` is a tenant table under row-level security, so the application role sees no
run without a tenant; a process exporting metrics needs the totals only. This SECURITY
DEFINER function returns exactly that — a status and a number, no tenant, no id — with
a fixed ``search_path`` so nothing the caller controls is looked up through it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        create function jeex_run_counts()
        returns table(status text, runs bigint)
        language sql stable security definer
        set search_path = pg_catalog, public
        as $$ select status::text, count(*) from public.runs group by status $$
        """
    )
    op.execute("revoke all on function jeex_run_counts() from public")


def downgrade() -> None:
    op.execute("drop function if exists jeex_run_counts()")
