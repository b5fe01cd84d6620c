"""Re-queue the jobs of dead workers (procrastinate leaves them in ``doing``).

Every worker sweeps every heartbeat interval; an advisory lock lets one sweep run at
a time, and the whole sweep is one transaction. A worker whose heartbeat is older
than ``JEEX_QUEUE_STALL_SECONDS`` is deleted (procrastinate then sets its jobs'
``worker_id`` to NULL) and each of its jobs is retried in place, unless

- the run already has a waiting job (then that one continues it and this one ends), or
- the job has been retried ``JEEX_QUEUE_MAX_ATTEMPTS - 1`` times already: a job that
  keeps killing its worker is a poison job; it ends ``failed`` and so does its run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import Settings
from jeex.db.session import Database
from jeex.events import service as events_service
from jeex.queue.app import EXECUTE_RUN, LEGACY_NAMES
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.tenants import service as tenants_service
from jeex.vocabulary import RunStatus

log = structlog.get_logger(__name__)

SWEEP_LOCK_KEY = 0x4A455851  # "JEXQ"
_TRY_LOCK = text("select pg_try_advisory_xact_lock(:key)")
_PRUNE_WORKERS = text("select procrastinate_prune_stalled_workers_v1(:seconds)")
_ORPHANS = text(
    "select id, lock, attempts, args, queue_name, task_name from procrastinate_jobs "
    "where status = 'doing' and worker_id is null order by id for update skip locked"
)
_WAITING = text("select 1 from procrastinate_jobs where lock = :lock and status = 'todo'")
_FINISH = text("select procrastinate_finish_job_v1(:id, 'failed', false)")
_RETRY = text("select procrastinate_retry_job_v2(:id, now(), null, null, null)")
_PRUNE_JOBS = text(
    "delete from procrastinate_jobs where status in ('succeeded', 'failed', 'cancelled', "
    "'aborted') and id in (select job_id from procrastinate_events group by job_id "
    "having max(at) < now() - make_interval(hours => :hours))"
)
PRUNE_EVERY_SECONDS = 600.0
# procrastinate's NOTIFY fires on insert only: wake the workers for a retried job too.
_WAKE = text("select pg_notify(:channel, :payload)")


@dataclass(frozen=True)
class Reaped:
    """What one sweep did with one stalled job."""

    job_id: int
    outcome: str  # retried | superseded | poisoned
    tenant_id: str | None
    run_id: str | None
    task: str = EXECUTE_RUN


async def sweep(db: Database, settings: Settings) -> list[Reaped]:
    """One sweep; returns what it did (empty when another worker holds the sweep lock)."""
    async with db.global_session() as session:
        if not (await session.execute(_TRY_LOCK, {"key": SWEEP_LOCK_KEY})).scalar_one():
            return []
        await session.execute(_PRUNE_WORKERS, {"seconds": settings.queue_stall_seconds})
        reaped = [
            await _reap(session, row, settings) for row in (await session.execute(_ORPHANS)).all()
        ]
    for item in reaped:
        log.warning("stalled job reaped", job_id=item.job_id, outcome=item.outcome)
        # A poisoned helper only ends itself: the run's own job writes what it left.
        if (
            item.outcome == "poisoned"
            and item.task in (EXECUTE_RUN, LEGACY_NAMES[EXECUTE_RUN])
            and item.tenant_id
            and item.run_id
        ):
            await _fail_run(db, item, settings.queue_max_attempts)
    return reaped


async def _reap(session: AsyncSession, row: object, settings: Settings) -> Reaped:
    job_id, lock, attempts = row.id, row.lock, row.attempts  # type: ignore[attr-defined]
    args, queue = row.args or {}, row.queue_name  # type: ignore[attr-defined]
    tenant_id, run_id = args.get("tenant_id"), args.get("run_id")
    task = row.task_name  # type: ignore[attr-defined]
    if lock is not None and (await session.execute(_WAITING, {"lock": lock})).first():
        await session.execute(_FINISH, {"id": job_id})
        return Reaped(job_id, "superseded", tenant_id, run_id, task)
    if attempts + 1 >= settings.queue_max_attempts:
        await session.execute(_FINISH, {"id": job_id})
        return Reaped(job_id, "poisoned", tenant_id, run_id, task)
    await session.execute(_RETRY, {"id": job_id})
    payload = json.dumps({"type": "job_inserted", "job_id": job_id})
    for channel in ("procrastinate_any_queue_v1", f"procrastinate_queue_v1#{queue}"):
        await session.execute(_WAKE, {"channel": channel, "payload": payload})
    return Reaped(job_id, "retried", tenant_id, run_id, task)


async def _fail_run(db: Database, item: Reaped, attempts: int) -> None:
    assert item.tenant_id is not None
    assert item.run_id is not None
    message = f"the worker executing this run died {attempts} times; giving up"
    async with db.tenant_session(uuid.UUID(item.tenant_id)) as session:
        run = await runs_service.get_or_raise(session, run_id=uuid.UUID(item.run_id))
        await lifecycle.settle(session, run, RunStatus.FAILED, error=message)


async def prune(db: Database, settings: Settings) -> int:
    """Delete finished jobs and old streamed deltas; returns how many deltas went.

    Finished jobs go after ``JEEX_QUEUE_JOB_RETENTION_HOURS`` (the runs keep the history),
    ``section.delta`` events after ``JEEX_EVENTS_DELTA_RETENTION_HOURS``. Events are tenant
    rows under RLS, so they are pruned tenant by tenant, each in its own transaction.
    """
    async with db.global_session() as session:
        if not (await session.execute(_TRY_LOCK, {"key": SWEEP_LOCK_KEY})).scalar_one():
            return 0
        await session.execute(_PRUNE_JOBS, {"hours": settings.queue_job_retention_hours})
        tenant_ids = await tenants_service.list_tenant_ids(session)
    deleted = 0
    for tenant_id in tenant_ids:
        async with db.tenant_session(tenant_id) as session:
            deleted += await events_service.prune_deltas(
                session, older_than_hours=settings.events_delta_retention_hours
            )
    return deleted


async def sweep_forever(db: Database, settings: Settings) -> None:
    """The worker's side task: sweep every heartbeat interval; a sweep that fails is logged
    with its exception and the next one runs all the same (a silent reaper would leave
    stalled runs stalled forever).

    After the database was unreachable, every worker's heartbeat is stale, live ones
    included; reaping then would re-queue jobs that are still running. So no sweep
    happens until a whole stall period after the database answers again, which gives
    every live worker time to beat again.
    """
    loop = asyncio.get_running_loop()
    pruned_at = loop.time()
    # At start-up the sweep runs at once: this worker has not missed any beat.
    reachable_since: float | None = loop.time() - settings.queue_stall_seconds
    while True:
        if not await _reachable(db):
            reachable_since = None
        elif reachable_since is None:
            reachable_since = loop.time()
            log.warning("database reachable again; next sweep after the stall period")
        elif loop.time() - reachable_since >= settings.queue_stall_seconds:
            try:
                await sweep(db, settings)
                if loop.time() - pruned_at > PRUNE_EVERY_SECONDS:
                    pruned_at = loop.time()
                    await prune(db, settings)
            except Exception as exc:  # seen in the log, and the next sweep still runs
                log.error("queue sweep failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        await asyncio.sleep(settings.queue_heartbeat_seconds)


async def _reachable(db: Database) -> bool:
    try:
        async with db.global_session() as session:
            await session.execute(text("select 1"))
    except Exception:
        return False
    return True
