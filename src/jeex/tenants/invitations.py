"""Invitations: a single-use, expiring link that makes its holder a member.

The token is ``jeexinv_<tenant hex>_<secret>``: like an API key it names its tenant,
because the person accepting is not a member yet and ``invitations`` is a tenant table
under row-level security. Only a SHA-256 of the secret is stored. Accepting locks the
invitation row and stamps ``accepted_at``, so two clicks at once make one member.
An invitation is for one email: a signed-in account must have that email, and a new
account is created with it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit import service as audit
from jeex.db.context import session_tenant
from jeex.db.session import Database
from jeex.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from jeex.tenants import roles
from jeex.tenants.models import Invitation, Membership, Tenant, User
from jeex.vocabulary import AuditAction, Role

TOKEN_PREFIX = "jeexinv"
INVALID = "this invitation link is not valid: check that it was copied whole"


@dataclass(frozen=True)
class InvitationRow:
    """An invitation as its tenant's managers see it: never its token."""

    id: uuid.UUID
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Preview:
    """What the holder of a link is invited to, before accepting."""

    tenant_name: str
    tenant_slug: str
    email: str
    role: Role
    expires_at: datetime
    account_exists: bool


@dataclass(frozen=True)
class Accepted:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_version: int
    role: Role


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[uuid.UUID, str]:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[2]) < 20:
        raise NotFound(INVALID)
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        raise NotFound(INVALID) from None


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise InvalidInput(f"{email!r} is not an email address")
    return email


async def create(
    session: AsyncSession,
    *,
    caller_role: str,
    actor: audit.Actor,
    email: str,
    role: Role,
    lifetime: timedelta,
) -> tuple[str, InvitationRow]:
    """A new invitation and its token (returned this once). Inviting again replaces the
    earlier pending invitation of the same email, so only the newest link works."""
    roles.require_manager(caller_role)
    roles.require_may_grant(caller_role, role)
    email = normalize_email(email)
    member = await session.scalar(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == email)
    )
    if member is not None:
        raise Conflict(f"{email} is already a member of this tenant")
    tenant_id = session_tenant(session)
    # Two invitations of one email at once would each revoke only what they see, and both
    # stay pending: the second waits here for the first, then revokes it.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"invite:{tenant_id}:{email}", 0)))
    )
    now = datetime.now(UTC)
    await session.execute(
        update(Invitation)
        .where(Invitation.email == email, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )  # fmt: skip
    secret = secrets.token_urlsafe(32)
    row = Invitation(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        email=email,
        role=role,
        token_hash=_hash(secret),
        invited_by=actor.user_id,
        expires_at=now + lifetime,
    )
    session.add(row)
    audit.record(
        session, action=AuditAction.INVITATION_CREATED, actor=actor, target=email,
        detail={"role": str(role), "expires_at": row.expires_at.isoformat()},
    )  # fmt: skip
    await session.flush()
    await session.refresh(row)
    token = f"{TOKEN_PREFIX}_{tenant_id.hex}_{secret}"
    return token, InvitationRow(row.id, email, role, actor.email, row.created_at, row.expires_at)


async def list_pending(session: AsyncSession, *, caller_role: str) -> list[InvitationRow]:
    roles.require_manager(caller_role)
    rows = (
        await session.execute(
            select(Invitation, User.email.label("by"))
            .outerjoin(User, User.id == Invitation.invited_by)
            .where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > datetime.now(UTC),
            )
            .order_by(Invitation.created_at)
        )
    ).all()
    return [
        InvitationRow(r.Invitation.id, r.Invitation.email, r.Invitation.role, r.by or "",
                      r.Invitation.created_at, r.Invitation.expires_at)
        for r in rows
    ]  # fmt: skip


async def revoke(
    session: AsyncSession, *, caller_role: str, actor: audit.Actor, invitation_id: uuid.UUID
) -> None:
    """The link stops working at once; an accepted or unknown invitation is a 404."""
    roles.require_manager(caller_role)
    email = await session.scalar(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(Invitation.email)
    )  # fmt: skip
    if email is None:
        raise NotFound(f"no pending invitation {invitation_id}")
    audit.record(session, action=AuditAction.INVITATION_REVOKED, actor=actor, target=email)


def _usable(row: Invitation | None, now: datetime) -> Invitation:
    if row is None:
        raise NotFound(INVALID)
    if row.accepted_at is not None:
        raise Gone("this invitation was already used; ask for a new one if you need it")
    if row.revoked_at is not None:
        raise Gone("this invitation was withdrawn; ask for a new one")
    if row.expires_at <= now:
        raise Gone("this invitation has expired; ask for a new one")
    return row


async def preview(db: Database, *, token: str) -> Preview:
    tenant_id, secret = parse(token)
    async with db.tenant_session(tenant_id) as session:
        row = _usable(
            await session.scalar(select(Invitation).where(Invitation.token_hash == _hash(secret))),
            datetime.now(UTC),
        )
        tenant = (await session.scalars(select(Tenant).where(Tenant.id == tenant_id))).one()
        exists = await session.scalar(select(User.id).where(User.email == row.email))
    return Preview(
        tenant.name, tenant.slug, row.email, row.role, row.expires_at, exists is not None
    )


async def accept(
    db: Database,
    *,
    token: str,
    signed_in: User | None,
    password_hash: str | None,
    display_name: str = "",
    address: str = "",
) -> Accepted:
    """Make the invited person a member, once.

    ``signed_in``: the account of the caller's access token (its email must be the
    invitation's); without one, a new account is made with ``password_hash``. An
    existing account must sign in first, so an invitation never adds a password to
    somebody else's account.
    """
    tenant_id, secret = parse(token)
    now = datetime.now(UTC)
    async with db.tenant_session(tenant_id) as session:
        row = _usable(
            await session.scalar(
                select(Invitation).where(Invitation.token_hash == _hash(secret)).with_for_update()
            ),
            now,
        )
        if signed_in is not None:
            if signed_in.email != row.email:
                raise Forbidden(
                    f"this invitation is for {row.email}; you are signed in as {signed_in.email}"
                )
            user = signed_in
        else:
            user = await _new_account(session, row, password_hash, display_name, tenant_id)
        joined = await session.scalar(
            insert(Membership)
            .values(tenant_id=tenant_id, user_id=user.id, role=row.role)
            .on_conflict_do_nothing()
            .returning(Membership.user_id)
        )
        if joined is None:
            raise Conflict(f"{row.email} is already a member of this tenant")
        row.accepted_at = now
        row.accepted_by = user.id
        audit.record(
            session,
            action=AuditAction.INVITATION_ACCEPTED,
            actor=audit.Actor(user.id, user.email, address),
            target=row.email,
            detail={"role": str(row.role)},
        )
        return Accepted(user.id, tenant_id, user.token_version, row.role)


async def _new_account(
    session: AsyncSession,
    row: Invitation,
    password_hash: str | None,
    display_name: str,
    tenant_id: uuid.UUID,
) -> User:
    exists = Conflict(
        f"an account for {row.email} exists: sign in with it, then open the link again"
    )
    if await session.scalar(select(User.id).where(User.email == row.email)) is not None:
        raise exists
    if password_hash is None:
        raise InvalidInput("choose a password (at least 8 characters) for your new account")
    created = await session.scalar(
        insert(User)
        .values(id=uuid.uuid4(), email=row.email, display_name=display_name,
                password_hash=password_hash, default_tenant_id=tenant_id)
        .on_conflict_do_nothing()
        .returning(User.id)
    )  # fmt: skip
    if created is None:  # the same email signed up a moment ago, through another link
        raise exists
    return (await session.scalars(select(User).where(User.id == created))).one()
