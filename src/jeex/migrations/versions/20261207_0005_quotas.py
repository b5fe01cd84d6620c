"""Tenant quotas, why a run paused, and the role an API key acts with.

``tenant_quotas`` holds, per tenant, the limits an operator set for it (NULL: the default
from the settings). ``runs.paused_by`` says who paused a run: NULL for a person, ``budget``
when the tenant's token or cost budget stopped it; those are resumed by the workers once
the budget allows (a partial index finds them). ``api_keys.role`` caps what a key may do
(never more than its user's membership; NULL: the membership's role, as before).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "tenant_quotas",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),  # fmt: skip
        sa.Column("tokens_per_day", sa.BigInteger()),
        sa.Column("tokens_per_month", sa.BigInteger()),
        sa.Column("cost_per_day", sa.Numeric(12, 4)),
        sa.Column("cost_per_month", sa.Numeric(12, 4)),
        sa.Column("concurrent_runs", sa.Integer()),
        sa.Column("exhibit_bytes", sa.BigInteger()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),  # fmt: skip
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),  # fmt: skip
        *(
            sa.CheckConstraint(f"{c} is null or {c} >= 0", name=op.f(f"ck_tenant_quotas_{c}"))
            for c in (
                "tokens_per_day",
                "tokens_per_month",
                "cost_per_day",
                "cost_per_month",
                "concurrent_runs",
                "exhibit_bytes",
            )
        ),  # fmt: skip
    )
    op.execute("ALTER TABLE tenant_quotas ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenant_quotas FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON tenant_quotas "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )
    op.execute(
        "CREATE TRIGGER trg_tenant_quotas_updated_at BEFORE UPDATE ON tenant_quotas "
        "FOR EACH ROW EXECUTE FUNCTION jeex_set_updated_at()"
    )
    op.add_column("runs", sa.Column("paused_by", sa.String(20)))
    op.create_check_constraint(
        op.f("ck_runs_paused_by"), "runs", "paused_by is null or paused_by in ('budget')"
    )
    op.add_column("api_keys", sa.Column("role", sa.String(20)))
    op.create_check_constraint(
        op.f("ck_api_keys_role"),
        "api_keys",
        "role is null or role in ('owner', 'editor', 'viewer')",
    )
    op.create_index(
        "ix_runs_budget_paused",
        "runs",
        ["tenant_id"],
        postgresql_where=sa.text("status = 'paused' and paused_by = 'budget'"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_budget_paused", "runs")
    op.drop_constraint(op.f("ck_api_keys_role"), "api_keys")
    op.drop_column("api_keys", "role")
    op.drop_constraint(op.f("ck_runs_paused_by"), "runs")
    op.drop_column("runs", "paused_by")
    op.drop_table("tenant_quotas")
