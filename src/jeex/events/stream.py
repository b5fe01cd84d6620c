"""A project's events for one stream client: replay after a sequence, then live.

Events: every type of ``jeex.events.models.EVENT_TYPES`` — ``run.queued``,
``run.started``, ``section.started``, ``section.delta``, ``section.completed``,
``run.paused``, ``run.resumed``, ``run.cancelled``, ``run.failed``, ``run.completed``,
``document.created``, ``export.ready`` (``include_deltas=False`` leaves out
``section.delta``). Each is yielded once, in ``seq`` order.

The subscription is taken before the replay, so nothing committed in between is
lost; anything the hub delivers that the replay already covered is skipped; a gap
(or a ``RESYNC``, or a quiet ``poll_seconds``) re-reads the log. Each read is a
short transaction: no session is open while waiting for the client or for events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from jeex.db.session import Database
from jeex.events import service as events_service
from jeex.events.hub import STOP, EventHub, Subscription
from jeex.events.models import Event
from jeex.vocabulary import EventType


class StreamOverflow(Exception):  # noqa: N818 - a reason to end the stream
    """The client fell more than the buffer behind; it should reconnect."""


async def _read(
    db: Database, tenant_id: uuid.UUID, project_id: uuid.UUID, after: int
) -> list[Event]:
    async with db.tenant_session(tenant_id) as session:
        return await events_service.list_after(session, project_id=project_id, after_seq=after)


async def _catch_up(
    db: Database, tenant_id: uuid.UUID, project_id: uuid.UUID, after: int
) -> AsyncIterator[Event]:
    while True:
        batch = await _read(db, tenant_id, project_id, after)
        for event in batch:
            after = event.seq
            yield event
        if len(batch) < 1000:
            return


async def _next(subscription: Subscription, timeout: float) -> Event | str | None:
    try:
        return await asyncio.wait_for(subscription.queue.get(), timeout)
    except TimeoutError:
        return None


async def project_events(
    db: Database,
    hub: EventHub,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    after: int = 0,
    include_deltas: bool = True,
    poll_seconds: float = 15.0,
    subscribed: Callable[[Subscription], None] | None = None,
) -> AsyncGenerator[Event]:
    """Events after ``after``, until the caller stops iterating or ``STOP`` is offered to
    the subscription (``subscribed`` is given it, for that)."""
    with hub.subscribe(tenant_id, project_id) as subscription:
        if subscribed is not None:
            subscribed(subscription)
        last = after
        pending: Event | str | None = None
        while True:
            if pending is None or isinstance(pending, str) or pending.seq > last + 1:
                async for event in _catch_up(db, tenant_id, project_id, last):
                    last = event.seq
                    if include_deltas or event.type != EventType.SECTION_DELTA:
                        yield event
            elif pending.seq == last + 1:
                last = pending.seq
                if include_deltas or pending.type != EventType.SECTION_DELTA:
                    yield pending
            if subscription.overflowed:
                raise StreamOverflow
            pending = await _next(subscription, poll_seconds)
            while isinstance(pending, Event) and pending.seq <= last:
                pending = await _next(subscription, poll_seconds)
            if pending == STOP:
                return
