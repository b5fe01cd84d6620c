"""Local accounts, API keys and the checks that turn credentials into a principal.

Users and tenants are global rows; memberships and API keys are tenant rows, so
every check of them runs in a session already bound to the tenant being claimed
(row-level security does the scoping). Every failure is the same 401 whatever its
cause, so a client cannot probe which emails or keys exist.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit import service as audit
from jeex.auth import keys, passwords
from jeex.auth.tokens import AccessClaims
from jeex.db.context import session_tenant
from jeex.db.session import Database
from jeex.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from jeex.tenants import roles
from jeex.tenants import service as tenants_service
from jeex.tenants.models import ApiKey, Membership, Tenant, User
from jeex.tenants.service import Principal
from jeex.vocabulary import AuditAction, Role

ROLES = tuple(Role)
#: ``last_used_at`` is kept to the minute: a busy key does not write on every request.
KEY_USE_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class AuthPrincipal(Principal):
    """The authenticated caller inside the tenant of this request: a ``Principal`` (what
    every service takes) with how it signed in and its role."""

    email: str
    role: str
    via: Literal["token", "api_key"]


@dataclass(frozen=True)
class NewUser:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str


async def create_user(
    db: Database, *, email: str, password: str, tenant_slug: str, role: str = "owner"
) -> NewUser:
    """A local account in a tenant (both created when missing); sets the password."""
    principal = await tenants_service.ensure_principal(
        db, tenant_slug=tenant_slug, tenant_name=tenant_slug, email=email, role=role
    )
    async with db.global_session() as session:
        user = (await session.scalars(select(User).where(User.id == principal.user_id))).one()
        user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
        user.default_tenant_id = user.default_tenant_id or principal.tenant_id
    return NewUser(principal.user_id, principal.tenant_id, user.email)


async def create_api_key(
    db: Database, *, tenant_slug: str, email: str, name: str = ""
) -> tuple[str, uuid.UUID]:
    """A new key (returned once, stored hashed) for the user in the tenant."""
    principal = await tenants_service.ensure_principal(
        db, tenant_slug=tenant_slug, tenant_name=tenant_slug, email=email
    )
    key, row = _new_key(principal, name=name, role=None)
    async with db.tenant_session(principal.tenant_id) as session:
        session.add(row)
    return key, row.id


def _new_key(principal: Principal, *, name: str, role: str | None) -> tuple[str, ApiKey]:
    """A new key's secret (to show once) and its row (only the secret's hash)."""
    key, parsed = keys.new_key(principal.tenant_id)
    row = ApiKey(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        name=name,
        prefix=parsed.prefix,
        key_hash=keys.hash_secret(parsed.secret),
        role=role,
    )
    return key, row


rank = roles.rank


@dataclass(frozen=True)
class KeyRow:
    """An API key as its tenant's members see it: never its secret."""

    id: uuid.UUID
    prefix: str
    name: str
    role: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def issue_api_key(
    session: AsyncSession,
    *,
    principal: AuthPrincipal,
    actor: audit.Actor,
    name: str,
    role: str | None,
) -> tuple[str, KeyRow]:
    """A key for the caller in the caller's tenant, acting with ``role`` (default: the
    caller's), never more than the caller may; the secret is returned this once."""
    if principal.via != "token":
        raise Forbidden("API keys are created with a signed-in session, not with another key")
    role = role or principal.role
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; use owner, admin, editor or viewer")
    if rank(role) < rank(principal.role):
        raise Forbidden(
            f"{roles.with_article(principal.role)} cannot create a key that acts as {role}"
        )
    key, row = _new_key(principal, name=name, role=role)
    session.add(row)
    audit.record(
        session, action=AuditAction.API_KEY_CREATED, actor=actor, target=row.prefix,
        detail={"name": name, "role": role},
    )  # fmt: skip
    await session.flush()
    await session.refresh(row)
    return key, _key_row(row, principal.email, principal.role)


def _key_row(row: ApiKey, email: str, member_role: str | None) -> KeyRow:
    role = row.role or member_role or "viewer"
    return KeyRow(
        row.id, row.prefix, row.name, role, email, row.created_at, row.last_used_at,
        row.revoked_at,
    )  # fmt: skip


def _sees(principal: AuthPrincipal, user_id: uuid.UUID, member_role: str | None) -> bool:
    """One's own keys; an owner or admin also every key of a member not ranked above them."""
    if user_id == principal.user_id:
        return True
    return principal.role in roles.MANAGERS and (
        member_role is None or rank(member_role) >= rank(principal.role)
    )


async def list_api_keys(session: AsyncSession, *, principal: AuthPrincipal) -> list[KeyRow]:
    """Owners see every key of the tenant, admins every key but owners'; others their own."""
    statement = (
        select(ApiKey, User.email, Membership.role)
        .join(User, User.id == ApiKey.user_id)
        .outerjoin(Membership, Membership.user_id == ApiKey.user_id)
        .order_by(ApiKey.created_at)
    )
    if principal.role not in roles.MANAGERS:
        statement = statement.where(ApiKey.user_id == principal.user_id)
    rows = (await session.execute(statement)).all()
    return [
        _key_row(row.ApiKey, row.email, row.role)
        for row in rows
        if _sees(principal, row.ApiKey.user_id, row.role)
    ]


async def revoke_api_key_as(
    session: AsyncSession, *, principal: AuthPrincipal, actor: audit.Actor, key_id: uuid.UUID
) -> None:
    """Revoke a key the caller sees (``list_api_keys``); any other key is a 404."""
    row = (
        await session.execute(
            select(ApiKey, Membership.role)
            .outerjoin(Membership, Membership.user_id == ApiKey.user_id)
            .where(ApiKey.id == key_id)
        )
    ).one_or_none()
    if row is None or not _sees(principal, row.ApiKey.user_id, row.role):
        raise NotFound(f"no API key {key_id}")
    if row.ApiKey.revoked_at is None:
        row.ApiKey.revoked_at = datetime.now(UTC)
        audit.record(
            session, action=AuditAction.API_KEY_REVOKED, actor=actor, target=row.ApiKey.prefix,
            detail={"name": row.ApiKey.name},
        )  # fmt: skip
        await session.flush()


async def revoke_api_key(db: Database, *, tenant_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    async with db.tenant_session(tenant_id) as session:
        result = await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def login(
    session: AsyncSession, *, email: str, password: str, tenant_slug: str | None
) -> tuple[User, uuid.UUID]:
    """The user and the tenant its token will name (the default one unless asked).

    Runs in a global session: the membership in the chosen tenant is checked when the
    token is used, under that tenant's context.
    """
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    # argon2 takes ~50 ms of CPU on purpose: off the event loop, or one client stalls all.
    valid = await asyncio.to_thread(
        passwords.verify_password, user.password_hash if user else None, password
    )
    if user is None or not valid or not user.is_active:
        raise Unauthorized("wrong email or password")
    tenant_id = user.default_tenant_id
    if tenant_slug:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == tenant_slug))
    if tenant_id is None:
        raise Unauthorized("no such tenant for this account")
    return user, tenant_id


async def login_to_tenant(
    db: Database, *, email: str, password: str, tenant_slug: str | None
) -> tuple[User, uuid.UUID]:
    """``login``, then the membership in the chosen tenant, checked in its own context."""
    async with db.global_session() as session:
        user, tenant_id = await login(
            session, email=email, password=password, tenant_slug=tenant_slug
        )
    async with db.tenant_session(tenant_id) as session:
        if await _role(session, user.id) is None:
            raise Unauthorized("no such tenant for this account")
    return user, tenant_id


async def signin_tenant(
    db: Database, *, email: str, tenant_slug: str | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Whose audit log a sign-in attempt for ``email`` belongs in: the named tenant when the
    account is a member there, else the account's default tenant; None for an unknown
    email (no tenant's log is the place for it; it still goes to the server log)."""
    async with db.global_session() as session:
        user = await session.scalar(select(User).where(User.email == email.strip().lower()))
        named = None
        if tenant_slug:
            named = await session.scalar(select(Tenant.id).where(Tenant.slug == tenant_slug))
    if user is None:
        return None
    if named is not None:
        async with db.tenant_session(named) as session:
            if await _role(session, user.id) is not None:
                return named, user.id
    if user.default_tenant_id is None:
        return None
    return user.default_tenant_id, user.id


async def _role(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    return await session.scalar(select(Membership.role).where(Membership.user_id == user_id))


#: The user (global) and its role in the session's tenant (RLS), in one round trip; built
#: once, since every request signed in with a token runs it.
_USER_AND_ROLE = (
    select(User, Membership.role)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


async def principal_from_token(
    session: AsyncSession, claims: AccessClaims, *, chosen: bool
) -> AuthPrincipal:
    """Check a verified token against the database, in the session's tenant.

    ``chosen``: the tenant came from ``X-Tenant-ID`` rather than from the token, so
    a missing membership is a 403 (the token itself is fine).
    """
    row = (await session.execute(_USER_AND_ROLE, {"user_id": claims.user_id})).one_or_none()
    user, role = (row.User, row.role) if row is not None else (None, None)
    if user is None or not user.is_active or user.token_version != claims.version:
        raise Unauthorized("the token has been revoked")
    if role is None:
        if chosen:
            raise Forbidden("you are not a member of that tenant")
        raise Unauthorized("the token's tenant membership no longer exists")
    return AuthPrincipal(session_tenant(session), user.id, user.email, role, "token")


#: A key's row, its user and the user's role in the session's tenant (RLS), by prefix.
_KEY_PRINCIPAL = (
    select(
        ApiKey.id,
        ApiKey.key_hash,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.role.label("key_role"),
        User.id.label("user_id"),
        User.email,
        User.is_active,
        Membership.role,
    )
    .join(User, User.id == ApiKey.user_id)
    .outerjoin(Membership, Membership.user_id == ApiKey.user_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


async def principal_from_key(session: AsyncSession, parsed: keys.ParsedKey) -> AuthPrincipal:
    """Look the key up in its tenant; revoked, expired or unknown keys are one 401.

    Columns, not entities, and a statement built once: this runs on every request made
    with a key, and building the statement and loading two ORM objects into the session
    cost more than running it."""
    row = (await session.execute(_KEY_PRINCIPAL, {"prefix": parsed.prefix})).one_or_none()
    now = datetime.now(UTC)
    if (
        row is None
        or not keys.matches(row.key_hash, parsed.secret)
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or not row.is_active
        or row.role is None
    ):
        raise Unauthorized("invalid API key")
    role = row.role
    if row.key_role is not None and rank(row.key_role) > rank(role):
        role = row.key_role  # the key's own cap; a demoted member caps every key
    if row.last_used_at is None or now - row.last_used_at > KEY_USE_PRECISION:
        # At most one write a minute per key.
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return AuthPrincipal(parsed.tenant_id, row.user_id, row.email, role, "api_key")


async def logout(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Revoke every access token of the user issued so far."""
    await session.execute(
        update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
    )


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    return (await session.scalars(select(Tenant).where(Tenant.id == tenant_id))).one()


async def revoke_api_key_in(db: Database, *, tenant_slug: str, key_id: uuid.UUID) -> bool:
    """Revoke a key of the tenant named by its slug; False if there is no such live key."""
    async with db.global_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == tenant_slug))
    if tenant_id is None:
        return False
    return await revoke_api_key(db, tenant_id=tenant_id, key_id=key_id)
