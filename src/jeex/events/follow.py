"""Follow a project's event log live: replay after a sequence number, then wait for more.

Events: every type of ``jeex.events.models.EVENT_TYPES`` (run.*, section.*, document.created).
New events wake the follower through ``LISTEN jeex_events`` (the payload names tenant,
project and sequence only); it also re-reads every ``poll_seconds``, so a missed
notification costs a poll, never an event. No session is held while waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import psycopg
from sqlalchemy.engine import URL

from jeex.db.session import Database
from jeex.db.urls import libpq_dsn
from jeex.events import service as events_service
from jeex.events.models import Event
from jeex.queue import app as queue
from jeex.runs import service as runs_service
from jeex.vocabulary import RunStatus

ACTIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING})


async def _batch(
    db: Database, tenant_id: uuid.UUID, project_id: uuid.UUID, after: int
) -> tuple[list[Event], bool]:
    """Events after ``after`` and whether any run of the project is still active."""
    async with db.tenant_session(tenant_id) as session:
        events = await events_service.list_after(session, project_id=project_id, after_seq=after)
        runs = await runs_service.list_(session, project_id=project_id)
        active = [
            run.status in ACTIVE or bool(await queue.live_jobs(session, run.id)) for run in runs
        ]
    return events, any(active)


async def follow(
    db: Database,
    url: URL,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    after_seq: int = 0,
    until_settled: bool = True,
    poll_seconds: float = 2.0,
) -> AsyncIterator[Event]:
    """Yield events in order; ends once no run is pending or running (if ``until_settled``)."""
    wake = asyncio.Event()
    async with await psycopg.AsyncConnection.connect(libpq_dsn(url), autocommit=True) as conn:
        await conn.execute(f"LISTEN {events_service.NOTIFY_CHANNEL}")
        listener = asyncio.create_task(_listen(conn, project_id, wake))
        try:
            while True:
                wake.clear()
                events, active = await _batch(db, tenant_id, project_id, after_seq)
                for event in events:
                    after_seq = event.seq
                    yield event
                if events:
                    continue
                if until_settled and not active:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


async def _listen(
    conn: psycopg.AsyncConnection[object], project_id: uuid.UUID, wake: asyncio.Event
) -> None:
    async for notify in conn.notifies():
        if f":{project_id}:" in notify.payload:
            wake.set()
