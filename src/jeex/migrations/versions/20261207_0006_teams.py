"""Teams: the admin role, invitations, the security audit log, and "my tenants".

- ``admin`` joins owner, editor and viewer: admins manage members and read the audit
  log, but cannot make owners or touch them.
- ``invitations`` (tenant rows): an email, a role, the hash of a single-use token and
  when it expires; accepting stamps ``accepted_at`` once.
- ``audit_events`` (tenant rows, append-only for the app): sign-ins, invitations, role
  changes, API keys and quota refusals.
- ``jeex_my_memberships()``: memberships are tenant rows, so under row-level security a
  user cannot see in which *other* tenants they are a member. This SECURITY DEFINER
  function returns the memberships of exactly one user, the one the session names in
  ``app.user_id`` (set by the server after it checked the caller's credentials), and
  nothing else: tenant id, slug, name and role.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
ROLES_NEW = "'owner', 'admin', 'editor', 'viewer'"
ROLES_OLD = "'owner', 'editor', 'viewer'"


def _isolate(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )


def _roles(roles: str) -> None:
    op.drop_constraint(op.f("ck_memberships_role"), "memberships")
    op.create_check_constraint(op.f("ck_memberships_role"), "memberships", f"role IN ({roles})")
    op.drop_constraint(op.f("ck_api_keys_role"), "api_keys")
    op.create_check_constraint(
        op.f("ck_api_keys_role"), "api_keys", f"role is null or role in ({roles})"
    )


def upgrade() -> None:
    _roles(ROLES_NEW)
    op.create_table(
        "invitations",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("invited_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("accepted_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"role IN ({ROLES_NEW})", name=op.f("ck_invitations_role")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_invitations_tenant_id_token_hash")
        ),
    )
    _isolate("invitations")
    op.execute(
        "CREATE TRIGGER trg_invitations_updated_at BEFORE UPDATE ON invitations "
        "FOR EACH ROW EXECUTE FUNCTION jeex_set_updated_at()"
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("actor_email", sa.String(320), nullable=False, server_default=""),
        sa.Column("target", sa.String(400), nullable=False, server_default=""),
        sa.Column("detail", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    _isolate("audit_events")
    op.execute(
        """
        create function jeex_my_memberships()
        returns table(tenant_id uuid, slug text, name text, role text)
        language sql stable security definer
        set search_path = pg_catalog, public
        as $$
          select t.id, t.slug::text, t.name::text, m.role::text
          from public.memberships m join public.tenants t on t.id = m.tenant_id
          where m.user_id = nullif(current_setting('app.user_id', true), '')::uuid
          order by t.name, t.slug
        $$
        """
    )
    op.execute("revoke all on function jeex_my_memberships() from public")


def downgrade() -> None:
    op.execute("drop function if exists jeex_my_memberships()")
    op.drop_table("audit_events")
    op.drop_table("invitations")
    op.execute("update memberships set role = 'editor' where role = 'admin'")
    op.execute("update api_keys set role = 'editor' where role = 'admin'")
    _roles(ROLES_OLD)
