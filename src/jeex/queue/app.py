"""The procrastinate App, and enqueueing through the caller's own transaction.

A job is written with the SQLAlchemy session's psycopg connection, so it commits or
rolls back with the write that causes it (a run row and its ``run.queued`` event).
Each run has at most one waiting job: ``queueing_lock`` is the run id, and so is
``lock``, so two jobs of one run never execute at the same time. A step-4 run may
add helper jobs (``runs:help``, lock ``<run>:help:<n>``) that write epics beside it;
units they share are claimed one by one (``jeex.engine.claims``).

This layer knows the jobs only by name and queue (``JOBS``); the tasks that execute
them live above, in ``jeex.tasks``, one procrastinate blueprint per domain, and only a
worker registers them (``jeex.tasks.registry``).
"""

from __future__ import annotations

import uuid
from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import tracing
from jeex.db.context import session_tenant
from jeex.queue import fairness

RUNS_QUEUE = "runs"
EXPORTS_QUEUE = "exports"
EXHIBITS_QUEUE = "exhibits"
#: What a worker serves unless told otherwise.
DEFAULT_QUEUES = (RUNS_QUEUE, EXHIBITS_QUEUE, EXPORTS_QUEUE)

#: Task names are ``<blueprint namespace>:<task>`` (procrastinate's blueprints).
EXECUTE_RUN = "runs:execute"
HELP_RUN = "runs:help"
RENDER_EXPORT = "exports:render"
CLEANUP_EXPORTS = "exports:cleanup"
PROCESS_EXHIBIT = "exhibits:process"
PURGE_PROJECT = "projects:purge"

#: Every job this code defers, and the queue it goes to.
JOBS: dict[str, str] = {
    EXECUTE_RUN: RUNS_QUEUE,
    HELP_RUN: RUNS_QUEUE,
    RENDER_EXPORT: EXPORTS_QUEUE,
    CLEANUP_EXPORTS: EXPORTS_QUEUE,
    PROCESS_EXHIBIT: EXHIBITS_QUEUE,
    # On the exhibits queue: its workers own the vector store (see ``enqueue_purge``).
    PURGE_PROJECT: EXHIBITS_QUEUE,
}
#: The names earlier versions gave these tasks: jobs queued under them still run.
LEGACY_NAMES: dict[str, str] = {
    EXECUTE_RUN: "runs.execute",
    HELP_RUN: "runs.help",
    RENDER_EXPORT: "exports.render",
    CLEANUP_EXPORTS: "exports.cleanup",
    PROCESS_EXHIBIT: "exhibits.process",
}

#: The App; a worker registers the tasks (``jeex.tasks.registry``) and swaps in a connector
#: with its own pool (``App.replace_connector``). Deferring uses the caller's connection.
app = App(connector=PsycopgConnector())

_LIVE_JOBS = text(
    "select id, status from procrastinate_jobs "
    "where lock = :lock and status in ('todo', 'doing') order by id"
)
_ABORT_JOBS = text(
    "select procrastinate_cancel_job_v1(id, true, false) from procrastinate_jobs "
    "where (lock = :lock or lock like :helpers) and status in ('todo', 'doing')"
)
_DROP_HELPERS = text(
    "select procrastinate_cancel_job_v1(id, false, true) from procrastinate_jobs "
    "where lock like :helpers and status = 'todo'"
)


async def _driver_connection(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def defer(
    session: AsyncSession,
    task_name: str,
    *,
    lock: str,
    args: dict[str, Any],
    delay_seconds: float = 0.0,
    queue: str | None = None,
) -> int | None:
    """Defer a job in the session's transaction; None if one with this lock is waiting.

    The queue is the job's in ``JOBS`` unless given (a job only a test defines); its
    priority puts it behind the jobs of tenants with less queued (``fairness``)."""
    schedule = {"schedule_in": {"seconds": delay_seconds}} if delay_seconds > 0 else {}
    queue = queue or JOBS[task_name]
    priority = await fairness.priority_for(session, queue, args.get("tenant_id"))
    # The job's span continues the trace of the request (or job) that queued it.
    args = {**args, **tracing.carrier()}
    driver = await _driver_connection(session)
    # By name: the tasks are registered only in workers, above this layer.
    deferrer = app.configure_task(
        task_name,
        allow_unknown=True,
        queue=queue,
        priority=priority,
        lock=lock,
        queueing_lock=lock,
        connection=driver,
        **schedule,
    )
    try:
        # psycopg makes this a savepoint (the session's transaction is open), so the
        # unique-index violation of a second waiting job leaves the caller's work intact.
        async with driver.transaction():
            job_id: int = await deferrer.defer_async(**args)
            return job_id
    except AlreadyEnqueued:
        return None


async def enqueue_run(
    session: AsyncSession, run_id: uuid.UUID, *, attempt: int = 1, delay_seconds: float = 0.0
) -> int | None:
    """Queue ``runs:execute`` for a run of the session's tenant (no-op if already waiting)."""
    args = {"tenant_id": str(session_tenant(session)), "run_id": str(run_id), "attempt": attempt}
    return await defer(
        session, EXECUTE_RUN, lock=str(run_id), args=args, delay_seconds=delay_seconds
    )


async def enqueue_export(session: AsyncSession, export_id: uuid.UUID) -> int | None:
    """Queue ``exports:render`` for an export of the session's tenant (once per export)."""
    args = {"tenant_id": str(session_tenant(session)), "export_id": str(export_id)}
    return await defer(session, RENDER_EXPORT, lock=f"export:{export_id}", args=args)


async def enqueue_exhibit(session: AsyncSession, exhibit_id: uuid.UUID) -> int | None:
    """Queue ``exhibits:process`` for an exhibit of the session's tenant."""
    args = {"tenant_id": str(session_tenant(session)), "exhibit_id": str(exhibit_id)}
    return await defer(session, PROCESS_EXHIBIT, lock=f"exhibit:{exhibit_id}", args=args)


async def enqueue_purge(
    session: AsyncSession, project_id: uuid.UUID, *, vectors: bool
) -> int | None:
    """Queue ``projects:purge`` for a project deleted in this transaction.

    With retrieval on it goes to the exhibits queue, whose workers own the vector store;
    with it off nobody serves that queue, and there are no vectors: the exports queue."""
    args = {"tenant_id": str(session_tenant(session)), "project_id": str(project_id)}
    queue = EXHIBITS_QUEUE if vectors else EXPORTS_QUEUE
    return await defer(session, PURGE_PROJECT, lock=f"purge:{project_id}", args=args, queue=queue)


def _helpers_pattern(run_id: uuid.UUID) -> str:
    return f"{run_id}:help:%"


async def enqueue_helpers(session: AsyncSession, run_id: uuid.UUID, count: int) -> int:
    """Queue up to ``count`` ``runs:help`` jobs that share the run's independent units.

    Each has a lock of its own (``<run>:help:<n>``), so they run beside the run's own
    job and each other; one already waiting is not queued twice.
    """
    args = {"tenant_id": str(session_tenant(session)), "run_id": str(run_id)}
    queued = 0
    for index in range(1, count + 1):
        lock = f"{run_id}:help:{index}"
        if await defer(session, HELP_RUN, lock=lock, args=args) is not None:
            queued += 1
    return queued


async def drop_helpers(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Helper jobs still waiting when the run stops have nothing left to do."""
    await session.execute(_DROP_HELPERS, {"helpers": _helpers_pattern(run_id)})


async def live_jobs(session: AsyncSession, run_id: uuid.UUID) -> list[tuple[int, str]]:
    """The run's jobs that are waiting (``todo``) or executing (``doing``)."""
    rows = await session.execute(_LIVE_JOBS, {"lock": str(run_id)})
    return [(row.id, row.status) for row in rows]


async def request_abort(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Cancel the run's waiting jobs and ask the workers executing them to abort (NOTIFY)."""
    await session.execute(_ABORT_JOBS, {"lock": str(run_id), "helpers": _helpers_pattern(run_id)})
