"""Where a person signed in by a provider lands: their account, and the tenant of their token.

The account is found (or created) by the verified email, so a local account with the same
email is the same person (the provider vouched for the address). The tenant is the
account's default one while it is still a member there; otherwise a personal workspace is
created with the person as its owner and becomes their default. Memberships are tenant
rows under row-level security, so "the first tenant they belong to" cannot be looked up
across tenants; the default tenant stands for it (docs/decisions.md).
"""

from __future__ import annotations

import re
import secrets
import uuid

from sqlalchemy import select

from jeex.db.session import Database
from jeex.errors import Unauthorized
from jeex.tenants import service as tenants_service
from jeex.tenants.models import Membership, User

#: A slug is at most 63 characters; the local part keeps room for "-" and the suffix.
SLUG_PART_CHARS = 40


def personal_slug(email: str) -> str:
    """``ana-lima-3f9a2c`` for ana.lima@example.com: readable, and unlikely to collide."""
    local = re.sub(r"[^a-z0-9]+", "-", email.split("@", 1)[0].lower()).strip("-")
    return f"{local[:SLUG_PART_CHARS].strip('-') or 'user'}-{secrets.token_hex(3)}"


async def upsert_user(db: Database, *, email: str, name: str) -> User:
    """The account with this (verified) email, created on first sign-in; an inactive one
    is refused. The provider's ``name`` fills an empty display name."""
    async with db.global_session() as session:
        user = await tenants_service.get_or_create_user(session, email=email, display_name=name)
        if not user.is_active:
            raise Unauthorized("this account is disabled")
        if name and not user.display_name:
            user.display_name = name[:200]
    return user


async def _is_member(db: Database, *, user_id: uuid.UUID, tenant_id: uuid.UUID) -> bool:
    async with db.tenant_session(tenant_id) as session:
        role = await session.scalar(select(Membership.role).where(Membership.user_id == user_id))
    return role is not None


async def create_personal_tenant(db: Database, *, user: User, name: str) -> uuid.UUID:
    """A new tenant owned by the user alone, made their default."""
    local = user.email.split("@", 1)[0]
    async with db.global_session() as session:
        tenant = await tenants_service.get_or_create_tenant(
            session, slug=personal_slug(user.email), name=f"{name or local}'s workspace"[:200]
        )
    async with db.tenant_session(tenant.id) as session:
        await tenants_service.ensure_membership(session, user_id=user.id, tenant_id=tenant.id)
    async with db.global_session() as session:
        row = (await session.scalars(select(User).where(User.id == user.id))).one()
        row.default_tenant_id = tenant.id
    return tenant.id


async def tenant_for(db: Database, *, user: User, name: str) -> uuid.UUID:
    """The tenant the user's token will name (see the module's docstring)."""
    tenant_id = user.default_tenant_id
    if tenant_id is not None and await _is_member(db, user_id=user.id, tenant_id=tenant_id):
        return tenant_id
    return await create_personal_tenant(db, user=user, name=name)
