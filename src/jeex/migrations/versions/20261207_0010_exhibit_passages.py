"""Exhibit passages: how many an exhibit has, how many are indexed, and a tenant quota.

- ``exhibits.passages``: the chunks its text makes; ``exhibits.passages_indexed``: how
  many of them are embedded so far (progress while pending; fewer than ``passages`` when
  ready means partially indexed, capped by ``JEEX_EXHIBITS_MAX_PASSAGES`` or the quota).
- ``tenant_quotas.exhibit_passages``: a tenant's own cap on indexed passages (issue 21,
  part 4: embedding is the slow part, so it is what a tenant's share is counted in).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("passages", "passages_indexed"):
        op.add_column(
            "exhibits", sa.Column(column, sa.Integer(), server_default="0", nullable=False)
        )
    op.add_column("tenant_quotas", sa.Column("exhibit_passages", sa.BigInteger()))
    op.create_check_constraint(
        op.f("ck_tenant_quotas_exhibit_passages"),
        "tenant_quotas",
        "exhibit_passages is null or exhibit_passages >= 0",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_tenant_quotas_exhibit_passages"), "tenant_quotas")
    op.drop_column("tenant_quotas", "exhibit_passages")
    op.drop_column("exhibits", "passages_indexed")
    op.drop_column("exhibits", "passages")
