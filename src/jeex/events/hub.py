"""One ``LISTEN jeex_events`` connection per API process, fanned out to subscribers.

A notification names ``tenant:project:seq``. When a project has subscribers, the hub
reads the new events once (in that tenant's context) and hands the rows to every
subscriber's bounded queue, so a thousand streams of one project cost one query per
batch, not a thousand. A subscriber whose queue is full is marked overflowed and
its stream ends (the client reconnects with ``Last-Event-ID`` and loses nothing),
so a slow client never blocks the hub or the others. If the connection drops, the
hub reconnects and tells every subscriber to re-read the log (``RESYNC``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import structlog
from sqlalchemy.engine import URL

from jeex.db.session import Database
from jeex.db.urls import libpq_dsn
from jeex.events import service as events_service
from jeex.events.models import Event

log = structlog.get_logger("jeex.events")

#: Put in a subscriber's queue when notifications may have been missed.
RESYNC = "resync"
#: Put in a subscriber's queue by its stream to end it (its caller lost access).
STOP = "stop"
ProjectKey = tuple[uuid.UUID, uuid.UUID]


@dataclass(eq=False)
class Subscription:
    """One stream's view of the hub: events (or ``RESYNC``) in order, bounded."""

    key: ProjectKey
    queue: asyncio.Queue[Event | str]
    overflowed: bool = False

    def offer(self, item: Event | str) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


@dataclass
class EventHub:
    db: Database
    url: URL
    buffer: int = 1000
    reconnect_seconds: float = 1.0
    _subscribers: dict[ProjectKey, set[Subscription]] = field(default_factory=dict)
    _fetched: dict[ProjectKey, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="jeex-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self, tenant_id: uuid.UUID, project_id: uuid.UUID) -> Iterator[Subscription]:
        key = (tenant_id, project_id)
        subscription = Subscription(key, asyncio.Queue(maxsize=self.buffer))
        self._subscribers.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            remaining = self._subscribers.get(key, set())
            remaining.discard(subscription)
            if not remaining:
                self._subscribers.pop(key, None)
                self._fetched.pop(key, None)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or the network dropped
                log.warning("event listener lost its connection", error=str(exc))
            self.connected.clear()
            await asyncio.sleep(self.reconnect_seconds)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            libpq_dsn(self.url), autocommit=True
        ) as conn:
            await conn.execute(f"LISTEN {events_service.NOTIFY_CHANNEL}")
            self.connected.set()
            self._broadcast_resync()  # whatever happened while we were not listening
            async for notify in conn.notifies():
                await self._dispatch(notify.payload)

    def _broadcast_resync(self) -> None:
        self._fetched.clear()
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.offer(RESYNC)

    async def _dispatch(self, payload: str) -> None:
        try:
            tenant_text, project_text, seq_text = payload.split(":")
            key = (uuid.UUID(tenant_text), uuid.UUID(project_text))
            seq = int(seq_text)
        except ValueError:
            return
        if key not in self._subscribers or seq <= self._fetched.get(key, seq - 1):
            return
        try:
            events = await self._read(key, after=self._fetched.get(key, seq - 1))
        except Exception as exc:
            log.warning("event fan-out read failed", error=str(exc))
            for subscription in self._subscribers.get(key, set()):
                subscription.offer(RESYNC)
            return
        if events:
            self._fetched[key] = events[-1].seq
        for subscription in list(self._subscribers.get(key, set())):
            for event in events:
                subscription.offer(event)

    async def _read(self, key: ProjectKey, *, after: int) -> list[Event]:
        tenant_id, project_id = key
        async with self.db.tenant_session(tenant_id) as session:
            return await events_service.list_after(session, project_id=project_id, after_seq=after)
