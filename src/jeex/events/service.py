"""Appending to the durable event log.

The event row is written in the caller's transaction, next to the state change
it reports, so the log never claims something that was rolled back. ``seq`` is
allocated from the project row (one counter per project, serialised by its row
lock); NOTIFY carries only ``tenant:project:seq`` and is delivered on commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.context import session_tenant
from jeex.events.models import EVENT_TYPES, Event
from jeex.projects.models import Project

NOTIFY_CHANNEL = "jeex_events"


async def append(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    type: str,
    run_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    tenant_id = session_tenant(session)
    seq = (
        await session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(last_event_seq=Project.last_event_seq + 1)
            .returning(Project.last_event_seq)
        )
    ).scalar_one()
    event = Event(
        tenant_id=tenant_id,
        project_id=project_id,
        seq=seq,
        run_id=run_id,
        type=type,
        data=data or {},
    )
    session.add(event)
    await session.flush()
    await session.execute(
        text("select pg_notify(:channel, :payload)"),
        {"channel": NOTIFY_CHANNEL, "payload": f"{tenant_id}:{project_id}:{seq}"},
    )
    return event


async def list_after(
    session: AsyncSession, *, project_id: uuid.UUID, after_seq: int = 0, limit: int = 1000
) -> list[Event]:
    statement = (
        select(Event)
        .where(Event.project_id == project_id, Event.seq > after_seq)
        .order_by(Event.seq)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())
