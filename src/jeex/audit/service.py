"""Write and read the security audit log of a tenant.

A change and its audit row share one transaction (``record``): the log never claims a
change that rolled back, and a change never lands unlogged. A *refusal* rolls its
request back, so refusals are written in a transaction of their own (``record_apart``).
Reading is for owners and admins; row-level security keeps every tenant to its own rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit.models import AuditEvent
from jeex.db.context import session_tenant
from jeex.db.session import Database
from jeex.errors import Forbidden
from jeex.vocabulary import AuditAction, Role

log = structlog.get_logger("jeex.audit")
#: Who may read the log.
READERS = (Role.OWNER, Role.ADMIN)


@dataclass(frozen=True)
class Actor:
    """Who did it, and from which client address (empty when not over HTTP)."""

    user_id: uuid.UUID | None
    email: str
    address: str = ""


@dataclass(frozen=True)
class Entry:
    """One line of the log as its readers see it."""

    id: int
    action: AuditAction
    actor_email: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)
    address: str = ""
    created_at: datetime | None = None


def record(
    session: AsyncSession,
    *,
    action: AuditAction,
    actor: Actor,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add a line in the session's tenant, committed (or not) with the change it reports."""
    session.add(
        AuditEvent(
            tenant_id=session_tenant(session),
            action=action,
            actor_id=actor.user_id,
            actor_email=actor.email[:320],
            target=target[:400],
            detail=detail or {},
            address=actor.address[:64],
        )
    )


async def record_apart(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    action: AuditAction,
    actor: Actor,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """``record`` in a transaction of its own, for a refusal whose request rolls back.

    A log that cannot be written (database gone) must not turn the refusal into a 500:
    the failure is logged and the refusal stands.
    """
    try:
        async with db.tenant_session(tenant_id) as session:
            record(session, action=action, actor=actor, target=target, detail=detail)
    except Exception:  # noqa: BLE001 - the refusal matters more than its log line
        log.warning("audit.write_failed", action=str(action), exc_info=True)


async def list_(
    session: AsyncSession,
    *,
    role: str,
    limit: int = 50,
    offset: int = 0,
    action: AuditAction | None = None,
) -> list[Entry]:
    """The newest lines first; owners and admins only."""
    if role not in READERS:
        raise Forbidden("only owners and admins read the security log")
    statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    rows = (await session.scalars(statement)).all()
    return [
        Entry(row.id, row.action, row.actor_email, row.target, row.detail, row.address,
              row.created_at)
        for row in rows
    ]  # fmt: skip
