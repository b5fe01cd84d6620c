"""Tenant templates: document kinds a tenant's owners and admins upload as YAML.

- ``tenant_templates`` (tenant rows): one row per *version* of a kind; a version is
  never changed (only ``retired_at`` is stamped) nor deleted by the application.
  ``(tenant_id, key, version)`` is unique; ``source`` is the YAML as uploaded and
  ``fingerprint`` the content hash a run records (``jeex.templates.template_fingerprint``).
- ``runs.template_id`` (added by 0008) now points at the version a run pinned. The
  foreign key is NO ACTION rather than RESTRICT: both refuse deleting a pinned version,
  but NO ACTION is checked at the end of the statement, so deleting a whole tenant (which
  cascades to its runs and its templates in one statement) still works.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def _isolate(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )


def upgrade() -> None:
    op.create_table(
        "tenant_templates",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_tenant_templates_version")),
        sa.UniqueConstraint(
            "tenant_id", "key", "version", name=op.f("uq_tenant_templates_tenant_id_key_version")
        ),
    )
    _isolate("tenant_templates")
    op.execute(
        "CREATE TRIGGER trg_tenant_templates_updated_at BEFORE UPDATE ON tenant_templates "
        "FOR EACH ROW EXECUTE FUNCTION jeex_set_updated_at()"
    )
    op.create_foreign_key(
        op.f("fk_runs_tenant_id_template_id_tenant_templates"),
        "runs",
        "tenant_templates",
        ["tenant_id", "template_id"],
        ["tenant_id", "id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_runs_tenant_id_template_id_tenant_templates"), "runs", type_="foreignkey"
    )
    op.drop_table("tenant_templates")
