"""A procrastinate worker that neither sleeps through a wake-up nor stops on an outage.

**Wake-ups.** procrastinate 3.10's worker clears its "new job" event after every fetch.
A job whose NOTIFY arrives while a fetch is in flight (committed just after the fetch's
snapshot) is therefore forgotten, and waits for the next poll (``JEEX_QUEUE_POLL_SECONDS``):
about one job in fifty when jobs arrive one after another (``bench/queue_latency.py``).
Here a notification that arrives during a fetch-and-process pass sets the event again
when the pass ends, which costs at most one extra (empty) fetch per such notification.

**Outages, short or long.** procrastinate stops the whole worker when a fetch fails or
one of its side tasks (heartbeat, NOTIFY listener, periodic deferrer, abort poller)
fails, and it drops a job's outcome when the database is away as the job ends; the job
then stays ``doing`` under a live worker, and nobody takes it again. Here:

- a failed fetch waits a moment and fetches again; a failed side task is started again;
- a job's outcome is written once the database answers again;
- the heartbeat is retried every second while the database is away, and when it finds
  that this worker was given up for dead meanwhile (its row pruned by a sweep, its jobs
  re-queued), the jobs it still holds are aborted (another worker continues them from
  their last checkpoint) and the worker registers again;
- a job that lost the database (``jeex.tasks.runs``) asks ``still_mine`` whether to go on:
  one statement that beats the heartbeat and checks that the job is still this worker's,
  so a job is continued by exactly one worker.

``last_beat`` (monotonic) is what ``/ready`` reads. It relies on private members of the
pinned procrastinate release; the tests that fail if a release changes them are
``tests/queue/test_wakeups.py`` and the outage tests in ``tests/queue/test_workers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import structlog
from procrastinate import worker as procrastinate_worker
from procrastinate.exceptions import ConnectorException
from procrastinate.job_context import AbortReason

log = structlog.get_logger(__name__)

#: Pause before a failed fetch, heartbeat or side task is tried again.
RESTART_PAUSE_SECONDS = 1.0
#: Key of the worker itself in each job's ``additional_context``.
WORKER_KEY = "jeex.worker"

_BEAT = (
    "update procrastinate_workers set last_heartbeat = now() where id = %(worker_id)s returning id"
)
_STILL_MINE = (
    "with beat as (update procrastinate_workers set last_heartbeat = now() "
    "where id = %(worker_id)s returning id) "
    "select exists (select 1 from procrastinate_jobs j join beat on j.worker_id = beat.id "
    "where j.id = %(job_id)s and j.status = 'doing') as mine"
)


def database_away(exc: BaseException) -> bool:
    """A lost, refused or timed-out connection, as opposed to a statement that failed."""
    cause = exc.__cause__ if isinstance(exc, ConnectorException) else exc
    return isinstance(cause, psycopg.OperationalError)  # psycopg_pool.PoolTimeout is one too


class ResilientWorker(procrastinate_worker.Worker):
    """Re-arms missed wake-ups; outlives database outages of any length."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inserted_notifications = 0
        #: ``time.monotonic()`` of the last heartbeat the database took.
        self.last_beat = time.monotonic()
        self.additional_context = {**(self.additional_context or {}), WORKER_KEY: self}

    async def _handle_notification(self, *, channel: str, notification: Any) -> None:
        if notification.get("type") == "job_inserted":
            self.inserted_notifications += 1
        await super()._handle_notification(channel=channel, notification=notification)

    async def _fetch_and_process_jobs(self) -> None:
        seen = self.inserted_notifications
        try:
            await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
        except ConnectorException as exc:
            log.warning("could not fetch a job; trying again", error=repr(exc.__cause__))
            await self._pause()
            if not self._stop_event.is_set():
                self._new_job_event.set()
            return
        if self.inserted_notifications != seen and not self._stop_event.is_set():
            self._new_job_event.set()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), RESTART_PAUSE_SECONDS)

    async def _update_heartbeat(self) -> None:
        while True:
            try:
                await self._beat()
                wait = self.update_heartbeat_interval
            except ConnectorException as exc:
                log.warning("worker heartbeat failed; trying again", error=repr(exc.__cause__))
                wait = RESTART_PAUSE_SECONDS
            await asyncio.sleep(wait)

    async def _beat(self) -> None:
        connector = self.app.connector
        row = await connector.execute_query_one_async(_BEAT, worker_id=self.worker_id)
        if row is None:
            await self._rejoin()
        self.last_beat = time.monotonic()

    async def _rejoin(self) -> None:
        """This worker was pruned as dead while the database was away: its jobs were
        re-queued, so the copies still running here stop, and it registers again."""
        log.warning(
            "this worker was given up for dead during an outage; rejoining",
            worker_id=self.worker_id,
            aborted_jobs=len(self._running_jobs),
        )
        for task, context in list(self._running_jobs.items()):
            self._abort_job(task, context, AbortReason.SHUTDOWN)
        self.worker_id = await self.app.job_manager.register_worker()

    async def still_mine(self, job_id: int) -> bool:
        """For a job that lost the database: wait until it answers, then beat the heartbeat
        and say whether the job is still this worker's (False: it was re-queued meanwhile,
        and the job must end without doing more). Raises ``CancelledError`` when aborted."""
        while True:
            try:
                row = await self.app.connector.execute_query_one_async(
                    _STILL_MINE, worker_id=self.worker_id, job_id=job_id
                )
            except ConnectorException as exc:
                if not database_away(exc):
                    raise
                await asyncio.sleep(RESTART_PAUSE_SECONDS)
                continue
            self.last_beat = time.monotonic()
            return bool(row["mine"])

    async def _persist_job_status(self, *args: Any, **kwargs: Any) -> None:
        """procrastinate's, written once the database answers again (a job that ended
        during an outage would otherwise stay ``doing`` under this live worker)."""
        stopped_at: float | None = None
        while True:
            try:
                await super()._persist_job_status(*args, **kwargs)
                return
            except ConnectorException as exc:
                if not database_away(exc):
                    # Re-queued while this worker was given up for dead: not ours to record.
                    log.warning("job outcome not recorded", error=repr(exc.__cause__))
                    return
                if self._stop_event.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > (self.shutdown_graceful_timeout or 0.0):
                        return  # stopping for good: the sweep re-queues the job later
                await asyncio.sleep(RESTART_PAUSE_SECONDS)

    def _start_side_tasks(self) -> list[asyncio.Task[Any]]:
        side_tasks: dict[str, Callable[[], Awaitable[Any]]] = {
            "update_heartbeats": self._update_heartbeat,
            "deferrer": self._periodic_deferrer,
            "poll_jobs_to_abort": self._poll_jobs_to_abort,
        }
        if self.listen_notify:
            side_tasks["listener"] = lambda: self.app.job_manager.listen_for_jobs(
                on_notification=self._handle_notification, queues=self.queues
            )
        return [
            asyncio.create_task(self._restarting(name, start), name=name)
            for name, start in side_tasks.items()
        ]

    async def _restarting(self, name: str, start: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            try:
                return await start()
            except ConnectorException as exc:
                log.warning("worker side task lost the database; restarting it", task=name)
                log.debug("side task error", task=name, error=str(exc))
                await asyncio.sleep(RESTART_PAUSE_SECONDS)
                self._new_job_event.set()
