"""Tenants and users: the global identities, and the local default ones for the CLI.

The CLI works inside a default local tenant and user, created on first run, so a
single-user machine needs no sign-up; the HTTP API will add real accounts.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit import service as audit
from jeex.db.session import Database
from jeex.errors import Conflict, InvalidInput
from jeex.tenants.models import Membership, Tenant, User
from jeex.vocabulary import AuditAction

LOCAL_TENANT_SLUG = "local"
LOCAL_USER_EMAIL = "local@jeex.invalid"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")


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


async def create_tenant(db: Database, *, name: str, slug: str | None, actor: audit.Actor) -> Tenant:
    """A new tenant whose creator is its owner, in one transaction (no ownerless tenant).

    The slug defaults to one made from the name; a slug already taken is a 409, never a
    second tenant and never a silent suffix the user did not choose.
    """
    assert actor.user_id is not None
    slug = slug or slugify(name, max_length=63, word_boundary=True) or ""
    if not SLUG.fullmatch(slug):
        raise InvalidInput(
            "a tenant slug is 2 to 63 lowercase letters, digits and dashes, starting with a "
            "letter or digit"
        )
    tenant_id = uuid.uuid4()
    async with db.tenant_session(tenant_id) as session:
        created = await session.scalar(
            insert(Tenant)
            .values(id=tenant_id, slug=slug, name=name)
            .on_conflict_do_nothing()
            .returning(Tenant.id)
        )
        if created is None:
            raise Conflict(f"the tenant slug {slug!r} is taken; choose another")
        await ensure_membership(session, user_id=actor.user_id, tenant_id=tenant_id, role="owner")
        audit.record(
            session, action=AuditAction.TENANT_CREATED, actor=actor, target=slug,
            detail={"name": name},
        )  # fmt: skip
        tenant = (await session.scalars(select(Tenant).where(Tenant.id == tenant_id))).one()
    return tenant


async def token_version(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """The user's current token version, for a token issued without a password."""
    return int((await session.scalars(select(User.token_version).where(User.id == user_id))).one())
