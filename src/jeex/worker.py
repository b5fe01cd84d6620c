"""A procrastinate worker with JEEX's process-wide resources, and its graceful stop.

``QueueWorker.run()`` serves jobs until ``stop()``: ``jeex worker`` calls it from
SIGTERM/SIGINT, ``jeex plan`` when its own runs are done. Stopping drains: running
runs stop at their next section boundary and are re-queued (``WorkerStopping``);
whatever is still running after ``JEEX_QUEUE_SHUTDOWN_SECONDS`` is aborted and
re-queued. The worker also sweeps for the jobs of dead workers (``reaper``).

**Lanes.** Each queue the worker serves has a procrastinate worker of its own, with its
own slots (``JEEX_QUEUE_CONCURRENCY`` for runs, ``JEEX_QUEUE_EXHIBITS_CONCURRENCY``,
``JEEX_QUEUE_EXPORTS_CONCURRENCY``): one worker serving every queue in arrival order let a
20 MiB exhibit hold the only slot for 18 minutes while runs and exports waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import structlog
from procrastinate import PsycopgConnector
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import URL

from jeex import metrics
from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import libpq_dsn
from jeex.engine.observer import RunObserver
from jeex.engine.runner import RunnerDeps
from jeex.llm.client import LLMClient
from jeex.queue.app import DEFAULT_QUEUES, EXHIBITS_QUEUE, EXPORTS_QUEUE, RUNS_QUEUE, app
from jeex.queue.resilient_worker import RESTART_PAUSE_SECONDS, ResilientWorker
from jeex.retrieval.service import Retrieval
from jeex.tasks import budgets, reaper, registry
from jeex.tasks.deps import CONTEXT_KEY, TaskDeps

log = structlog.get_logger(__name__)

#: How often the exhibit and export lanes look for retried jobs and abort requests.
SIDE_LANE_POLL_SECONDS = 2.0


class QueueWorker:
    """One worker: a database engine, an LLM client and a procrastinate worker loop."""

    def __init__(
        self,
        settings: Settings,
        *,
        app_url: URL,
        llm: LLMClient | None,
        concurrency: int | None = None,
        queues: Sequence[str] = DEFAULT_QUEUES,
        observer: RunObserver | None = None,
        fan_out: bool = True,
        retrieval: Retrieval | None = None,
        refresh_metrics: bool = False,
    ) -> None:
        self.settings = settings
        self.app_url = app_url
        self.llm = llm
        self.concurrency = concurrency or settings.queue_concurrency
        # Exhibit jobs need the embedder and vector store; without them, leave them to others.
        self.queues = [q for q in queues if retrieval is not None or q != EXHIBITS_QUEUE]
        #: ``{lane: (queues, slots)}``: exhibits and exports apart; runs and any other queue
        #: (a test's) in the first lane.
        self.lanes = lanes_of(self.queues, settings, self.concurrency)
        self.observer = observer
        self.fan_out = fan_out
        self.retrieval = retrieval
        #: Read the queue's depth and runs by status for ``/metrics`` (``jeex worker``).
        self.refresh_metrics = refresh_metrics
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = False
        self._task: asyncio.Task[None] | None = None
        #: The procrastinate worker serving each lane now (a new one after a restart), and
        #: how many times one was started again after an error.
        self.current: dict[str, ResilientWorker] = {}
        self.restarts = 0
        self.finished = False
        self.slots = sum(slots for _, slots in self.lanes.values())
        self.db = Database(
            app_url,
            pool_size=max(settings.database_pool_size, self.slots),
            pool_timeout=settings.database_pool_timeout_seconds,
        )

    def stop(self) -> None:
        """Drain: runs stop at their next section, then the worker exits."""
        self.stopping = True
        if self._task is not None:
            self._task.cancel()

    async def _serve(self, lane: str, options: dict[str, Any]) -> None:
        """procrastinate's worker of one lane, started again if it ever stops on an error: a
        worker that cannot register while the database is away waits for it, and never
        gives up."""
        while True:
            worker = ResilientWorker(app=app, **{**app.worker_defaults, **options})
            self.current[lane] = worker
            try:
                await worker.run()  # type: ignore[no-untyped-call]
                return
            except Exception as exc:  # CancelledError (stop) is no Exception: it ends here
                self.restarts += 1
                log.warning("queue worker stopped on an error; starting it again", error=repr(exc))
                await asyncio.sleep(RESTART_PAUSE_SECONDS)

    async def _serve_lanes(self, options: dict[str, Any]) -> None:
        """Every lane until the worker stops; one lane that ends ends them all."""
        lanes = [
            asyncio.create_task(
                self._serve(lane, {**options, **self._lane_options(lane, queues, slots)}),
                name=f"jeex-lane-{lane}",
            )
            for lane, (queues, slots) in self.lanes.items()
        ]
        try:
            await asyncio.wait(lanes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    def _lane_options(self, lane: str, queues: list[str], slots: int) -> dict[str, Any]:
        """One lane's procrastinate options. New jobs wake every lane at once (LISTEN/NOTIFY);
        polling only finds retries and aborts, so the exhibit and export lanes poll at most
        every ``SIDE_LANE_POLL_SECONDS``: three lanes idle cost little more than one."""
        options: dict[str, Any] = {
            "queues": queues, "concurrency": slots, "name": f"{self.name}:{lane}"
        }  # fmt: skip
        if lane in (EXHIBITS_QUEUE, EXPORTS_QUEUE):
            poll = max(self.settings.queue_poll_seconds, SIDE_LANE_POLL_SECONDS)
            options |= {"fetch_job_polling_interval": poll, "abort_job_polling_interval": poll}
        return options

    def crashed(self) -> bool:
        """The worker stopped for good without being asked to (``/health`` then fails, so
        that a supervisor restarts the process)."""
        return self.finished and not self.stopping

    def heartbeat_age(self) -> float | None:
        """Seconds since the database last took the oldest heartbeat of this worker's lanes
        (None: not started)."""
        if not self.current:
            return None
        return time.monotonic() - min(w.last_beat for w in self.current.values())

    async def _open_pool(self) -> AsyncConnectionPool:
        """The queue's pool, opened here rather than by procrastinate so that a database
        that does not answer at start-up fails the worker after
        ``JEEX_DATABASE_POOL_TIMEOUT_SECONDS``, not procrastinate's fixed 30 s."""
        pool = AsyncConnectionPool(
            libpq_dsn(self.app_url),
            min_size=1,
            max_size=self.slots + 4 * len(self.lanes),
            open=False,
            # A connection the server dropped while it sat in the pool is replaced on
            # checkout, not handed to the worker broken (procrastinate's own choice too).
            check=AsyncConnectionPool.check_connection,
            timeout=self.settings.database_pool_timeout_seconds,
            reconnect_timeout=self.settings.database_reconnect_seconds,
        )
        try:
            await pool.open(wait=True, timeout=self.settings.database_pool_timeout_seconds)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def run(self) -> None:
        """Serve jobs until stopped; returns after the graceful shutdown."""
        runner = None
        if self.llm is not None:
            runner = RunnerDeps(
                db=self.db,
                llm=self.llm,
                settings=self.settings,
                stopping=lambda: self.stopping,
                fan_out=self.fan_out,
                worker=self.name,
                retrieval=self.retrieval,
                takes_turns=True,
            )
        deps = TaskDeps(self.db, self.settings, runner, self.retrieval, self.observer)
        context: dict[str, Any] = {CONTEXT_KEY: deps}
        registry.register(app)
        settings = self.settings
        try:
            pool = await self._open_pool()
            with app.replace_connector(PsycopgConnector()):
                async with app.open_async(pool=pool), pool:
                    sweeper = asyncio.create_task(reaper.sweep_forever(self.db, settings))
                    budgets_sweep = (
                        asyncio.create_task(budgets.resume_forever(self.db, settings))
                        if RUNS_QUEUE in self.queues
                        else None
                    )
                    gauges = (
                        asyncio.create_task(metrics.refresh_forever(self.db))
                        if self.refresh_metrics
                        else None
                    )
                    options: dict[str, Any] = {
                        "install_signal_handlers": False,
                        "additional_context": context,
                        "shutdown_graceful_timeout": settings.queue_shutdown_seconds,
                        "update_heartbeat_interval": settings.queue_heartbeat_seconds,
                        "stalled_worker_timeout": settings.queue_stall_seconds,
                        "fetch_job_polling_interval": settings.queue_poll_seconds,
                        "abort_job_polling_interval": settings.queue_poll_seconds,
                    }
                    self._task = asyncio.create_task(self._serve_lanes(options))
                    if self.stopping:
                        self._task.cancel()
                    try:
                        await self._task
                    except asyncio.CancelledError:
                        if not self.stopping:
                            raise
                    finally:
                        for side in (sweeper, budgets_sweep, gauges):
                            if side is not None:
                                side.cancel()
                                with contextlib.suppress(asyncio.CancelledError):
                                    await side
        finally:
            self.finished = True
            await self.db.dispose()


def lanes_of(
    queues: Sequence[str], settings: Settings, run_slots: int
) -> dict[str, tuple[list[str], int]]:
    """``{lane: (queues, slots)}`` for the queues a worker serves: exhibits and exports in
    lanes of their own (their slots from the settings), everything else in one lane with
    ``run_slots``."""
    own = {
        EXHIBITS_QUEUE: settings.queue_exhibits_concurrency,
        EXPORTS_QUEUE: settings.queue_exports_concurrency,
    }
    lanes: dict[str, tuple[list[str], int]] = {}
    shared = [q for q in queues if q not in own]
    if shared:
        lanes[RUNS_QUEUE if RUNS_QUEUE in shared else shared[0]] = (shared, run_slots)
    for queue in queues:
        if queue in own:
            lanes[queue] = ([queue], own[queue])
    return lanes
