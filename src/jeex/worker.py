"""A procrastinate worker with JEEX's process-wide resources, and its graceful stop.

``QueueWorker.run()`` serves jobs until ``stop()``: ``jeex worker`` calls it from
SIGTERM/SIGINT, ``jeex plan`` when its own runs are done. Stopping drains: running
runs stop at their next section boundary and are re-queued (``WorkerStopping``);
whatever is still running after ``JEEX_QUEUE_SHUTDOWN_SECONDS`` is aborted and
re-queued. The worker also sweeps for the jobs of dead workers (``reaper``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Any

from procrastinate import PsycopgConnector
from sqlalchemy.engine import URL

from jeex import metrics
from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import libpq_dsn
from jeex.engine.observer import RunObserver
from jeex.engine.runner import RunnerDeps
from jeex.llm.client import LLMClient
from jeex.queue.app import DEFAULT_QUEUES, EXHIBITS_QUEUE, RUNS_QUEUE, app
from jeex.queue.resilient_worker import run_resilient_worker
from jeex.retrieval.service import Retrieval
from jeex.tasks import budgets, reaper, registry
from jeex.tasks.deps import CONTEXT_KEY, TaskDeps


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
        self.observer = observer
        self.fan_out = fan_out
        self.retrieval = retrieval
        #: Read the queue's depth and runs by status for ``/metrics`` (``jeex worker``).
        self.refresh_metrics = refresh_metrics
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = False
        self._task: asyncio.Task[None] | None = None
        self.db = Database(app_url, pool_size=max(settings.database_pool_size, self.concurrency))

    def stop(self) -> None:
        """Drain: runs stop at their next section, then the worker exits."""
        self.stopping = True
        if self._task is not None:
            self._task.cancel()

    def _connector(self) -> PsycopgConnector:
        return PsycopgConnector(
            conninfo=libpq_dsn(self.app_url),
            min_size=1,
            max_size=self.concurrency + 4,
        )

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
            )
        deps = TaskDeps(self.db, self.settings, runner, self.retrieval, self.observer)
        context: dict[str, Any] = {CONTEXT_KEY: deps}
        registry.register(app)
        settings = self.settings
        try:
            with app.replace_connector(self._connector()):
                async with app.open_async():
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
                    self._task = asyncio.create_task(
                        run_resilient_worker(
                            app,
                            queues=self.queues,
                            name=self.name,
                            concurrency=self.concurrency,
                            install_signal_handlers=False,
                            additional_context=context,
                            shutdown_graceful_timeout=settings.queue_shutdown_seconds,
                            update_heartbeat_interval=settings.queue_heartbeat_seconds,
                            stalled_worker_timeout=settings.queue_stall_seconds,
                            fetch_job_polling_interval=settings.queue_poll_seconds,
                            abort_job_polling_interval=settings.queue_poll_seconds,
                        )
                    )
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
            await self.db.dispose()
