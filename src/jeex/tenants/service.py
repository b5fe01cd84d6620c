"""Tenants and users: the global identities, and the local default ones for the CLI.

The CLI works inside a default local tenant and user, created on first run, so a
single-user machine needs no sign-up; the HTTP API will add real accounts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.session import Database
from jeex.tenants.models import Membership, Tenant, User

LOCAL_TENANT_SLUG = "local"
LOCAL_USER_EMAIL = "local@jeex.invalid"


@dataclass(frozen=True)
class Principal:
    """Who is acting, and inside which tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID


async def list_tenant_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every tenant's id: housekeeping visits each tenant under its own RLS context."""
    return list((await session.scalars(select(Tenant.id).order_by(Tenant.created_at))).all())


async def get_tenant_by_slug(session: AsyncSession, *, slug: str) -> uuid.UUID | None:
    """The id of the tenant with this slug (tenants are global rows)."""
    found: uuid.UUID | None = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    return found


async def get_or_create_tenant(session: AsyncSession, *, slug: str, name: str) -> Tenant:
    await session.execute(
        insert(Tenant).values(id=uuid.uuid4(), slug=slug, name=name).on_conflict_do_nothing()
    )
    return (await session.scalars(select(Tenant).where(Tenant.slug == slug))).one()


async def get_or_create_user(session: AsyncSession, *, email: str, display_name: str = "") -> User:
    email = email.strip().lower()
    await session.execute(
        insert(User)
        .values(id=uuid.uuid4(), email=email, display_name=display_name)
        .on_conflict_do_nothing()
    )
    return (await session.scalars(select(User).where(User.email == email))).one()


async def ensure_membership(
    session: AsyncSession, *, user_id: uuid.UUID, tenant_id: uuid.UUID, role: str = "owner"
) -> None:
    """Needs a session bound to ``tenant_id``: memberships are tenant rows."""
    await session.execute(
        insert(Membership)
        .values(tenant_id=tenant_id, user_id=user_id, role=role)
        .on_conflict_do_nothing()
    )


async def ensure_principal(
    db: Database, *, tenant_slug: str, tenant_name: str, email: str, role: str = "owner"
) -> Principal:
    async with db.global_session() as session:
        tenant = await get_or_create_tenant(session, slug=tenant_slug, name=tenant_name)
        user = await get_or_create_user(session, email=email)
    async with db.tenant_session(tenant.id) as session:
        await ensure_membership(session, user_id=user.id, tenant_id=tenant.id, role=role)
    return Principal(tenant_id=tenant.id, user_id=user.id)


async def ensure_local_principal(db: Database) -> Principal:
    """The default tenant and user the CLI acts as on this machine."""
    return await ensure_principal(
        db, tenant_slug=LOCAL_TENANT_SLUG, tenant_name="Local", email=LOCAL_USER_EMAIL
    )
