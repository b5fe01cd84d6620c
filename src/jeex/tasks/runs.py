"""``runs:execute`` and ``runs:help``: the jobs that execute one run (one step) on a worker.

The job takes ids plus the tenant and is safe to run twice: ``execute_run``
continues from the first unfinished section. Every way a job can end leaves the
run in a state that says what happens next:

- completed → the project's next pending step is queued (steps run in order);
- paused or cancelled at a section boundary → nothing is queued;
- the worker is draining (SIGTERM) → the run is re-queued at its next section;
- aborted by ``jeex runs cancel`` → the run is cancelled, finished sections kept;
- aborted by a worker shutdown timeout → the run is re-queued;
- failed → a new job for attempt n+1 is queued after an exponential back-off, up to
  ``JEEX_QUEUE_MAX_ATTEMPTS``; the last failure leaves the run ``failed``.

Retries are new jobs rather than procrastinate's in-place retry, so a run never has
two waiting jobs (the queueing lock) and a retried job can never collide with one
queued by ``jeex runs resume`` (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import structlog
from procrastinate import Blueprint, JobContext
from procrastinate.job_context import AbortReason
from sqlalchemy import func, select

from jeex import metrics, tracing
from jeex.db.retry import is_connection_lost
from jeex.engine.observer import RunObserver
from jeex.engine.runner import RunnerDeps, execute_run, help_run
from jeex.errors import AppError, NotFound, WorkerStopping, YieldTurn
from jeex.exhibits.models import Exhibit
from jeex.queue.app import EXECUTE_RUN, HELP_RUN, RUNS_QUEUE, enqueue_run
from jeex.queue.resilient_worker import WORKER_KEY, ResilientWorker
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.tasks.deps import deps_of
from jeex.vocabulary import TERMINAL_RUN_STATUSES, DesiredState, ExhibitStatus, RunStatus

log = structlog.get_logger(__name__)

#: How long a run waits for its project's exhibits to be indexed before it writes anyway,
#: and how often it looks again.
EXHIBIT_WAIT = timedelta(minutes=15)
EXHIBIT_POLL_SECONDS = 2.0

#: Registered by a worker under the namespace ``runs`` (``jeex.tasks.registry``).
blueprint = Blueprint()


@blueprint.task(name="execute", queue=RUNS_QUEUE, pass_context=True)
async def execute(
    context: JobContext,
    tenant_id: str,
    run_id: str,
    attempt: int = 1,
    traceparent: str | None = None,
) -> str:
    """Execute (or continue) a run with the worker's process-wide resources."""
    with tracing.job_span(
        EXECUTE_RUN, traceparent, **{"jeex.run_id": run_id, "jeex.attempt": attempt}
    ):
        return await _execute_job(context, tenant_id, run_id, attempt)


async def _execute_job(context: JobContext, tenant_id: str, run_id: str, attempt: int) -> str:
    task_deps = deps_of(context)
    deps, observer = task_deps.runner_or_raise(), task_deps.observer
    tid, rid = uuid.UUID(tenant_id), uuid.UUID(run_id)
    try:
        while True:
            try:
                return await _execute_attempt(deps, tid, rid, attempt, observer)
            except Exception as exc:
                if not _outage(deps, exc):
                    raise
            # The database is away for longer than a checkpoint rides out. Failing now
            # could not even be recorded: wait for it, then go on from the last
            # checkpoint, unless the job was handed to another worker meanwhile.
            log.warning("run lost the database; waiting for it", run_id=run_id)
            if not await _still_mine(context):
                log.warning("run continued by another worker after the outage", run_id=run_id)
                return "handed over"
    except WorkerStopping as exc:
        turn = isinstance(exc, YieldTurn)
        if turn:
            metrics.RUN_TURNS.inc()
        reason = "another tenant's run is waiting" if turn else "worker stopping"
        await _requeue(deps, tid, rid, attempt, reason=reason)
        return "yielded" if turn else "requeued"
    except NotFound:
        # Its project was deleted (the run is a 404 to everyone now): nothing to write.
        log.info("run of a deleted project not executed", run_id=run_id)
        return "project deleted"
    except asyncio.CancelledError:
        await _aborted(context, deps, tid, rid, attempt)
        raise
    except Exception as exc:
        await _failed(deps, tid, rid, attempt, exc)
        raise


def _outage(deps: RunnerDeps, exc: Exception) -> bool:
    """The database went away mid-run and this worker is not stopping: wait, not fail."""
    return is_connection_lost(exc) and not deps.stopping()


async def _still_mine(context: JobContext) -> bool:
    worker = (context.additional_context or {}).get(WORKER_KEY)
    if not isinstance(worker, ResilientWorker) or context.job.id is None:
        return True  # every worker of this code is a ResilientWorker; a test's may not be
    return await worker.still_mine(context.job.id)


async def _execute_attempt(
    deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID, attempt: int, observer: RunObserver | None
) -> str:
    if await _exhibits_pending(deps, tid, rid):
        async with deps.db.tenant_session(tid) as session:
            await enqueue_run(session, rid, attempt=attempt, delay_seconds=EXHIBIT_POLL_SECONDS)
        return "waiting for exhibits"
    return await _execute(deps, tid, rid, observer)


@blueprint.task(name="help", queue=RUNS_QUEUE, pass_context=True)
async def help_(
    context: JobContext, tenant_id: str, run_id: str, traceparent: str | None = None
) -> str:
    """Write some of a running run's independent units (epics) beside its own job.

    Never retried and never fails the run: whatever a helper leaves unwritten, the
    run's own job writes (docs/decisions.md, "Epics across workers").
    """
    task_deps = deps_of(context)
    deps, observer = task_deps.runner_or_raise(), task_deps.observer
    with tracing.job_span(HELP_RUN, traceparent, **{"jeex.run_id": run_id}):
        try:
            written = await help_run(
                deps, tenant_id=uuid.UUID(tenant_id), run_id=uuid.UUID(run_id), observer=observer
            )
        except NotFound:
            return "project deleted"
    return f"wrote {written} units"


async def _exhibits_pending(deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID) -> bool:
    """True while an exhibit of the run's project is still being indexed (for at most
    ``EXHIBIT_WAIT``): a document started right after its uploads must see them."""
    async with deps.db.tenant_session(tid) as session:
        run = await runs_service.get_or_raise(session, run_id=rid)
        if run.status == RunStatus.COMPLETED or run.desired_state != DesiredState.RUN:
            return False
        pending = await session.scalar(
            select(func.count())
            .select_from(Exhibit)
            .where(
                Exhibit.project_id == run.project_id,
                Exhibit.status == ExhibitStatus.PENDING,
                Exhibit.created_at > func.now() - EXHIBIT_WAIT,
            )
        )
    return bool(pending)


async def _execute(
    deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID, observer: RunObserver | None
) -> str:
    while await _wanted(deps, tid, rid):
        run = await execute_run(deps, tenant_id=tid, run_id=rid, observer=observer)
        if run.status == RunStatus.COMPLETED:
            await _queue_next_step(deps, tid, run)
            return "completed"
        # Resumed while it was pausing: carry on here rather than leave it stranded.
        resumed = await _desired(deps, tid, rid) == DesiredState.RUN
        if not (run.status == RunStatus.PAUSED and resumed):
            return str(run.status)
    return "skipped"


async def _desired(deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID) -> DesiredState:
    async with deps.db.tenant_session(tid) as session:
        return (await runs_service.get_or_raise(session, run_id=rid)).desired_state


async def _wanted(deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID) -> bool:
    """False when there is nothing to do; a pause or cancel asked for meanwhile is applied."""
    async with deps.db.tenant_session(tid) as session:
        run = await runs_service.get_or_raise(session, run_id=rid)
        if run.status == RunStatus.COMPLETED:
            return False
        if run.desired_state != DesiredState.RUN:
            if run.status != RunStatus(run.desired_state):
                await lifecycle.settle(session, run, RunStatus(run.desired_state))
            return False
        return True


async def _queue_next_step(deps: RunnerDeps, tid: uuid.UUID, done: Run) -> None:
    if done.step is None:  # a document, not a plan step: nothing follows it
        return
    async with deps.db.tenant_session(tid) as session:
        later = [
            run
            for run in await runs_service.list_(session, project_id=done.project_id)
            if run.step is not None
            and run.step > done.step
            and run.status == RunStatus.PENDING
            and run.desired_state == DesiredState.RUN
        ]
        if later:
            await enqueue_run(session, min(later, key=lambda r: r.step or 0).id)


async def _requeue(
    deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID, attempt: int, *, reason: str
) -> None:
    """Hand the run to the next free worker; finished sections stay."""
    async with deps.db.tenant_session(tid) as session:
        run = await runs_service.get_or_raise(session, run_id=rid)
        if run.status in TERMINAL_RUN_STATUSES:
            return
        await lifecycle.requeue(session, run, attempt=attempt, data={"reason": reason})
    log.info("run re-queued", run_id=str(rid), reason=reason)


async def _aborted(
    context: JobContext, deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID, attempt: int
) -> None:
    try:
        async with deps.db.tenant_session(tid) as session:
            desired = (await runs_service.get_or_raise(session, run_id=rid)).desired_state
        if desired == DesiredState.CANCELLED or context.abort_reason() == AbortReason.USER_REQUEST:
            async with deps.db.tenant_session(tid) as session:
                run = await runs_service.get_or_raise(session, run_id=rid)
                await lifecycle.cancel_now(session, run, abort_jobs=False)
            return
        await _requeue(deps, tid, rid, attempt, reason="worker shutdown timeout")
    except Exception:  # the abort itself must still reach the worker
        log.exception("could not record the aborted run", run_id=str(rid))


async def _failed(
    deps: RunnerDeps, tid: uuid.UUID, rid: uuid.UUID, attempt: int, exc: Exception
) -> None:
    settings = deps.settings
    message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
    try:
        async with deps.db.tenant_session(tid) as session:
            run = await runs_service.get_or_raise(session, run_id=rid)
            if attempt < settings.queue_max_attempts and run.desired_state == DesiredState.RUN:
                delay = settings.queue_retry_base_seconds * 2 ** (attempt - 1)
                await enqueue_run(session, rid, attempt=attempt + 1, delay_seconds=delay)
                log.warning("run failed, retrying", run_id=str(rid), attempt=attempt, delay=delay)
            else:
                await lifecycle.settle(session, run, RunStatus.FAILED, error=message)
    except Exception:
        log.exception("could not record the failed run", run_id=str(rid))
