"""Global identities (tenants, users) and the tenant-scoped links to them.

``tenants`` and ``users`` are the only tables without row-level security: a user
may belong to several tenants, and only the auth service reads them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TenantMixin, TimestampMixin, Vocabulary
from jeex.vocabulary import Role

ROLES_SQL = ", ".join(f"'{role}'" for role in Role)


class Tenant(TimestampMixin, Base):
    """An organisation; every tenant-owned row points here."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(TimestampMixin, Base):
    """A person (or the local CLI user); email is unique across all tenants."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    #: Where a password login lands when the client names no tenant.
    default_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )
    #: Part of every access token; logout increments it, revoking the tokens issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Membership(TenantMixin, TimestampMixin, Base):
    """A user's role inside one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(Vocabulary(Role), default=Role.EDITOR)


class ApiKey(TenantIdMixin, TimestampMixin, Base):
    """A hashed API key of one user inside one tenant; the secret is never stored."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(f"role is null or role in ({ROLES_SQL})", name="role"),
        UniqueConstraint("tenant_id", "key_hash"),
        UniqueConstraint("tenant_id", "prefix"),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["memberships.tenant_id", "memberships.user_id"],
            ondelete="CASCADE",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: What the key may do, never more than its user's membership; None: the membership's.
    role: Mapped[Role | None] = mapped_column(Vocabulary(Role, 20))


class TenantQuota(TenantMixin, TimestampMixin, Base):
    """An operator's limits for one tenant; NULL: the installation's default
    (``JEEX_QUOTA_*``). Read by the tenant (``/usage``), written by ``jeex tenants quota``."""

    __tablename__ = "tenant_quotas"

    tokens_per_day: Mapped[int | None] = mapped_column(BigInteger)
    tokens_per_month: Mapped[int | None] = mapped_column(BigInteger)
    cost_per_day: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    cost_per_month: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    concurrent_runs: Mapped[int | None] = mapped_column(Integer)
    exhibit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    exhibit_passages: Mapped[int | None] = mapped_column(BigInteger)


class Invitation(TenantIdMixin, TimestampMixin, Base):
    """An invitation to join a tenant: single-use, expiring, only its token's hash stored.

    The token names its tenant (like an API key), so the person accepting it, who is not a
    member yet, is checked inside that tenant's row-level security context.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),
        UniqueConstraint("tenant_id", "token_hash"),
    )

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(Vocabulary(Role))
    token_hash: Mapped[str] = mapped_column(String(128))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
