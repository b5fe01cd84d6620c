"""Auth: a user's default tenant (where a password login lands) and a token version
(incremented by logout, which revokes every token issued before).

``users`` is a global table without row-level security, so both columns are readable
before any tenant is chosen; memberships stay tenant rows under RLS.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("default_tenant_id", sa.Uuid(), nullable=True))
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_foreign_key(
        op.f("fk_users_default_tenant_id_tenants"),
        "users",
        "tenants",
        ["default_tenant_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_users_default_tenant_id_tenants"), "users", type_="foreignkey")
    op.drop_column("users", "token_version")
    op.drop_column("users", "default_tenant_id")
