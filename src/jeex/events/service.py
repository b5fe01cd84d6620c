"""Appending to the durable event log.

The event row is written in the caller's transaction, next to the state change
it reports, so the log never claims something that was rolled back. ``seq`` is
allocated from the project row (one counter per project, serialised by its row
lock); NOTIFY carries only ``tenant:project:seq`` and is delivered on commit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.context import session_tenant
from jeex.events.models import Event
from jeex.vocabulary import EventType

NOTIFY_CHANNEL = "jeex_events"


_APPEND = text(
    """
    with allocated as (
        update projects set last_event_seq = last_event_seq + 1
        where id = :project_id
        returning tenant_id, id, last_event_seq
    ), inserted as (
        insert into events (tenant_id, project_id, seq, run_id, type, data)
        select tenant_id, id, last_event_seq, :run_id, :type, cast(:data as jsonb)
        from allocated
        returning tenant_id, project_id, seq, created_at
    )
    select seq, created_at,
           pg_notify(:channel, tenant_id::text || ':' || project_id::text || ':' || seq::text)
    from inserted
    """
)


async def append(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    type: EventType,
    run_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """One round trip: allocate ``seq``, insert the event, queue its NOTIFY."""
    type = EventType(type)  # an unknown type is a bug: fail before anything is written
    payload = data or {}
    row = (
        await session.execute(
            _APPEND,
            {
                "project_id": project_id,
                "run_id": run_id,
                "type": type,
                "data": json.dumps(payload, default=str),
                "channel": NOTIFY_CHANNEL,
            },
        )
    ).one()
    return Event(
        tenant_id=session_tenant(session),
        project_id=project_id,
        seq=row.seq,
        run_id=run_id,
        type=type,
        data=payload,
        created_at=row.created_at,
    )


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


async def prune_deltas(session: AsyncSession, *, older_than_hours: int) -> int:
    """Delete the session tenant's ``section.delta`` events older than the retention.

    A delta only matters while its section is being written: the finished section's
    text is in ``run_sections``, so old deltas are dropped to bound the table. The
    sequence numbers of the events kept do not change, so a replay stays consistent.
    """
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, older_than_hours)
    result = await session.execute(
        delete(Event).where(Event.type == EventType.SECTION_DELTA, Event.created_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
