"""A procrastinate worker that neither sleeps through a wake-up nor stops on an outage.

**Wake-ups.** procrastinate 3.10's worker clears its "new job" event after every fetch.
A job whose NOTIFY arrives while a fetch is in flight (committed just after the fetch's
snapshot) is therefore forgotten, and waits for the next poll (``JEEX_QUEUE_POLL_SECONDS``):
about one job in fifty when jobs arrive one after another (``bench/queue_latency.py``).
Here a notification that arrives during a fetch-and-process pass sets the event again
when the pass ends, which costs at most one extra (empty) fetch per such notification.

**Outages.** procrastinate stops the whole worker when one of its side tasks (heartbeat,
NOTIFY listener, periodic deferrer, abort poller) fails, and the listener fails when it
cannot reconnect while the database restarts; the worker's running jobs are then aborted.
Here a side task that fails with a database error is started again after a pause, and
the worker fetches once in case notifications were lost meanwhile. Any other failure
still stops the worker, as procrastinate intends.

It relies on private members of the pinned procrastinate release; the tests that fail
if a release changes them are ``tests/queue/test_wakeups.py`` and the database-restart
test in ``tests/queue/test_workers.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from procrastinate import App
from procrastinate import worker as procrastinate_worker
from procrastinate.exceptions import ConnectorException

log = structlog.get_logger(__name__)

#: Pause before a failed side task is started again (the database is restarting).
RESTART_PAUSE_SECONDS = 1.0


class ResilientWorker(procrastinate_worker.Worker):
    """Re-arms missed wake-ups; restarts side tasks that a database outage broke."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inserted_notifications = 0

    async def _handle_notification(self, *, channel: str, notification: Any) -> None:
        if notification.get("type") == "job_inserted":
            self.inserted_notifications += 1
        await super()._handle_notification(channel=channel, notification=notification)

    async def _fetch_and_process_jobs(self) -> None:
        seen = self.inserted_notifications
        await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
        if self.inserted_notifications != seen and not self._stop_event.is_set():
            self._new_job_event.set()

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


async def run_resilient_worker(app: App, **options: Any) -> None:
    """``App.run_worker_async`` with ``ResilientWorker`` in place of procrastinate's worker."""
    worker = ResilientWorker(app=app, **{**app.worker_defaults, **options})
    await worker.run()  # type: ignore[no-untyped-call]
