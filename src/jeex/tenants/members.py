"""Members of a tenant: list them, change a role, remove one, and the tenants I belong to.

Every function runs in a session bound to the tenant (memberships are tenant rows). The
one way across tenants is ``my_tenants``: the ``jeex_my_memberships()`` database function
returns the memberships of the user the session names in ``app.user_id``, and nothing
else (docs/security.md, P7).

"The last owner cannot leave or be demoted" must hold under concurrency too: role
changes and removals of one tenant take turns (a transaction-scoped advisory lock taken
before any row), then lock the tenant's owner rows (``FOR UPDATE``), so two owners
demoting each other at once cannot both succeed. Without the turn, each locked its own
target row first and then waited for the other's: a deadlock, which PostgreSQL broke by
failing one request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit import service as audit
from jeex.db.context import session_tenant
from jeex.db.session import as_user
from jeex.errors import Conflict, NotFound
from jeex.tenants import roles
from jeex.tenants.models import Membership, User
from jeex.vocabulary import AuditAction, Role


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True)
class MyTenant:
    id: uuid.UUID
    slug: str
    name: str
    role: Role


async def list_(session: AsyncSession) -> list[Member]:
    rows = (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .order_by(Membership.created_at, User.email)
        )
    ).all()
    return [
        Member(r.User.id, r.User.email, r.User.display_name, r.Membership.role,
               r.Membership.created_at)
        for r in rows
    ]  # fmt: skip


async def _member(session: AsyncSession, user_id: uuid.UUID) -> Membership:
    """The member's row, locked, after this tenant's other membership changes."""
    key = f"members:{session_tenant(session)}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    row = await session.scalar(
        select(Membership).where(Membership.user_id == user_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"no member {user_id} in this tenant")
    return row


async def _require_another_owner(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Lock the owner rows, then refuse if ``user_id`` is the only owner left."""
    owners = (
        await session.scalars(
            select(Membership.user_id).where(Membership.role == Role.OWNER).with_for_update()
        )
    ).all()
    if list(owners) == [user_id]:
        raise Conflict("the last owner cannot leave or be demoted: make another member owner first")


async def change_role(
    session: AsyncSession, *, caller_role: str, actor: audit.Actor, user_id: uuid.UUID, role: Role
) -> Member:
    """Give a member another role; owners and admins only, within their own rank."""
    roles.require_manager(caller_role)
    roles.require_may_grant(caller_role, role)
    row = await _member(session, user_id)
    roles.require_may_change(caller_role, row.role)
    before = row.role
    if before == Role.OWNER and role != Role.OWNER:
        await _require_another_owner(session, user_id)
    row.role = role
    await session.flush()
    user = (await session.scalars(select(User).where(User.id == user_id))).one()
    if before != role:
        audit.record(
            session,
            action=AuditAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            target=user.email,
            detail={"from": str(before), "to": str(role)},
        )
    return Member(user.id, user.email, user.display_name, row.role, row.created_at)


async def remove(
    session: AsyncSession, *, caller_role: str, actor: audit.Actor, user_id: uuid.UUID
) -> None:
    """Remove a member (their API keys go with the membership); anyone may leave."""
    leaving = user_id == actor.user_id
    if not leaving:
        roles.require_manager(caller_role)
    row = await _member(session, user_id)
    if not leaving:
        roles.require_may_change(caller_role, row.role)
    if row.role == Role.OWNER:
        await _require_another_owner(session, user_id)
    email = await session.scalar(select(User.email).where(User.id == user_id)) or ""
    await session.execute(delete(Membership).where(Membership.user_id == user_id))
    audit.record(
        session,
        action=AuditAction.MEMBER_REMOVED,
        actor=actor,
        target=email,
        detail={"role": str(row.role), "left": leaving},
    )


async def my_tenants(session: AsyncSession, *, user_id: uuid.UUID) -> list[MyTenant]:
    """Every tenant the user belongs to, with their role there, whatever tenant the
    session is bound to; the only query that reads memberships across tenants."""
    await as_user(session, user_id)
    rows = (await session.execute(text("select * from jeex_my_memberships()"))).all()
    await as_user(session, None)
    return [MyTenant(r.tenant_id, r.slug, r.name, Role(r.role)) for r in rows]
