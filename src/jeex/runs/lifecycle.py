"""The run state machine: the only code that changes a run's status.

A run moves by an *action* (queue, start, pause, cancel, fail, complete). ``TRANSITIONS``
says, for every status, which actions it accepts and the status each one leads to;
anything else is an ``InvalidTransition`` (a 409 over HTTP). ``move`` applies one
action and, in the caller's transaction, stamps the run, mirrors the project's status
and appends the run's event, so a reader of the event log, of the run and of the
project never sees them disagree.

Two kinds of callers:

- users (CLI, API): ``pause``, ``resume``, ``retry``, ``cancel``, ``reopen``. A running
  run is not stopped here but asked to stop (``desired_state``); its worker applies it
  at the next section boundary.
- the engine and the queue: ``move`` (a worker starts, finishes, re-queues a run) and
  ``settle`` (a run no worker is executing takes the state it was asked for).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.errors import InvalidTransition, NotFound
from jeex.events import service as events_service
from jeex.events.models import Event
from jeex.projects.models import Project
from jeex.queue import app as queue
from jeex.runs.models import Run
from jeex.runs.service import now
from jeex.vocabulary import (
    TERMINAL_RUN_STATUSES,
    DesiredState,
    EventType,
    ProjectStatus,
    RunStatus,
)


class Action(StrEnum):
    """What can happen to a run."""

    QUEUE = "queue"  # wait for a worker: new attempt, resume, retry, re-queue
    START = "start"  # a worker begins or continues it
    PAUSE = "pause"
    CANCEL = "cancel"
    FAIL = "fail"
    COMPLETE = "complete"


_S, _A = RunStatus, Action

#: (status, action) → the status it leads to. A pair not listed is refused.
TRANSITIONS: Mapping[tuple[RunStatus, Action], RunStatus] = {
    (_S.PENDING, _A.QUEUE): _S.PENDING,
    (_S.PENDING, _A.START): _S.RUNNING,
    (_S.PENDING, _A.PAUSE): _S.PAUSED,
    (_S.PENDING, _A.CANCEL): _S.CANCELLED,
    (_S.PENDING, _A.FAIL): _S.FAILED,
    # A worker died or drained mid-run: another job continues it (re-queue or start).
    (_S.RUNNING, _A.QUEUE): _S.PENDING,
    (_S.RUNNING, _A.START): _S.RUNNING,
    (_S.RUNNING, _A.PAUSE): _S.PAUSED,
    (_S.RUNNING, _A.CANCEL): _S.CANCELLED,
    (_S.RUNNING, _A.FAIL): _S.FAILED,
    (_S.RUNNING, _A.COMPLETE): _S.COMPLETED,
    (_S.PAUSED, _A.QUEUE): _S.PENDING,
    # Resumed while it was pausing: the same job carries on.
    (_S.PAUSED, _A.START): _S.RUNNING,
    (_S.PAUSED, _A.CANCEL): _S.CANCELLED,
    (_S.PAUSED, _A.FAIL): _S.FAILED,
    (_S.FAILED, _A.QUEUE): _S.PENDING,
    # The next attempt of a failed job (queued with a back-off) starts it again.
    (_S.FAILED, _A.START): _S.RUNNING,
    # A failed run whose next attempt is waiting can still be cancelled.
    (_S.FAILED, _A.CANCEL): _S.CANCELLED,
    (_S.CANCELLED, _A.QUEUE): _S.PENDING,
}

#: The project takes the status of its run's last move (a queued run leaves it as it is).
PROJECT_STATUS: Mapping[Action, ProjectStatus] = {
    Action.START: ProjectStatus.RUNNING,
    Action.PAUSE: ProjectStatus.PAUSED,
    Action.CANCEL: ProjectStatus.CANCELLED,
    Action.FAIL: ProjectStatus.FAILED,
    Action.COMPLETE: ProjectStatus.READY,
}

EVENTS: Mapping[Action, EventType] = {
    Action.QUEUE: EventType.RUN_QUEUED,
    Action.START: EventType.RUN_STARTED,
    Action.PAUSE: EventType.RUN_PAUSED,
    Action.CANCEL: EventType.RUN_CANCELLED,
    Action.FAIL: EventType.RUN_FAILED,
    Action.COMPLETE: EventType.RUN_COMPLETED,
}

#: States from which ``jeex plan --project`` carries a step on rather than starting anew.
RESUMABLE = frozenset(
    {RunStatus.PENDING, RunStatus.PAUSED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.RUNNING}
)


def next_status(status: RunStatus, action: Action) -> RunStatus | None:
    """Where ``action`` takes a run in ``status``; None when it is not allowed."""
    return TRANSITIONS.get((status, action))


async def move(
    session: AsyncSession,
    run: Run,
    action: Action,
    *,
    event: EventType | None = None,
    quiet: bool = False,
    data: Mapping[str, Any] | None = None,
    **values: Any,
) -> Event | None:
    """Apply ``action`` to ``run``: its status and ``values``, the project's status and the
    event (``EVENTS[action]`` unless ``event`` names another; none when ``quiet``).

    Returns the event written, so an in-process observer can be told about it too.
    """
    target = next_status(run.status, action)
    if target is None:
        raise InvalidTransition(f"a {run.status} run cannot {action}")
    run.status = target
    for name, value in values.items():
        setattr(run, name, value)
    if target in TERMINAL_RUN_STATUSES or target == RunStatus.PAUSED:
        run.finished_at = now()
    elif action in (Action.QUEUE, Action.START):
        run.finished_at = None
    if action in PROJECT_STATUS:
        project = (await session.scalars(select(Project).where(Project.id == run.project_id))).one()
        project.status = PROJECT_STATUS[action]
        if action == Action.COMPLETE and run.step is not None:
            project.current_step = max(project.current_step, run.step)
    await session.flush()
    if quiet:
        return None
    return await events_service.append(
        session,
        project_id=run.project_id,
        run_id=run.id,
        type=event or EVENTS[action],
        data={"step": run.step, "kind": run.kind, **(data or {})},
    )


_SETTLE = {
    RunStatus.PAUSED: Action.PAUSE,
    RunStatus.CANCELLED: Action.CANCEL,
    RunStatus.FAILED: Action.FAIL,
}


async def settle(
    session: AsyncSession, run: Run, status: RunStatus, *, error: str | None = None
) -> None:
    """A run no worker is executing takes the state it was asked for (paused, cancelled)
    or failed for good; a run the table does not let move there (already there, or
    finished) is left as it is."""
    if next_status(run.status, _SETTLE[status]) is None:
        return
    if error is not None:
        run.error = error
    await move(
        session,
        run,
        _SETTLE[status],
        data={"error": run.error} if run.error else None,
    )


async def requeue(
    session: AsyncSession,
    run: Run,
    *,
    event: EventType = EventType.RUN_QUEUED,
    attempt: int = 1,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Hand the run to the next free worker; its finished sections stay."""
    await move(session, run, Action.QUEUE, event=event, data=data, error=None, queued_at=now())
    await queue.enqueue_run(session, run.id, attempt=attempt)


async def _locked(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """The run, row-locked: a state change and the worker's own writes are serialised."""
    statement = select(Run).where(Run.id == run_id).with_for_update()
    run = (await session.scalars(statement)).one_or_none()
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def _refuse(run: Run, action: str, hint: str = "") -> InvalidTransition:
    requested = run.desired_state not in (DesiredState.RUN, run.status)
    state = f"{run.status} run" + (f" ({run.desired_state} requested)" if requested else "")
    return InvalidTransition(f"cannot {action} a {state}{hint}")


async def pause(session: AsyncSession, *, run_id: uuid.UUID) -> Run:
    """Pause a queued or running run; a running one stops at its next section boundary."""
    run = await _locked(session, run_id)
    active = run.status in (RunStatus.PENDING, RunStatus.RUNNING)
    if not active or run.desired_state != DesiredState.RUN:
        raise _refuse(run, "pause")
    run.desired_state = DesiredState.PAUSED
    if run.status == RunStatus.PENDING:
        await settle(session, run, RunStatus.PAUSED)
    await session.flush()
    return run


async def resume(session: AsyncSession, *, run_id: uuid.UUID) -> Run:
    """Continue a paused run from its first unfinished section (re-queued)."""
    run = await _locked(session, run_id)
    pausing = run.status == RunStatus.RUNNING and run.desired_state == DesiredState.PAUSED
    if run.status != RunStatus.PAUSED and not pausing:
        retryable = run.status in (RunStatus.FAILED, RunStatus.CANCELLED)
        raise _refuse(run, "resume", "; retry it instead" if retryable else "")
    run.desired_state = DesiredState.RUN
    run.paused_by = None
    if not pausing:
        await requeue(session, run, event=EventType.RUN_RESUMED)
    await session.flush()
    return run


async def retry(session: AsyncSession, *, run_id: uuid.UUID) -> Run:
    """Run a failed or cancelled run again from its first unfinished section."""
    run = await _locked(session, run_id)
    if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        raise _refuse(run, "retry")
    run.desired_state = DesiredState.RUN
    await requeue(session, run)
    await session.flush()
    return run


async def cancel(session: AsyncSession, *, run_id: uuid.UUID, error: str | None = None) -> Run:
    """Cancel a run; a running one is aborted by its worker within seconds."""
    run = await _locked(session, run_id)
    # A failed run whose next attempt is queued is not over yet: it can be cancelled.
    retrying = run.status == RunStatus.FAILED and bool(await queue.live_jobs(session, run.id))
    over = run.status in TERMINAL_RUN_STATUSES and not retrying
    if over or run.desired_state == DesiredState.CANCELLED:
        raise _refuse(run, "cancel")
    run.desired_state = DesiredState.CANCELLED
    if run.status != RunStatus.RUNNING:
        await settle(session, run, RunStatus.CANCELLED, error=error)
    await queue.request_abort(session, run.id)
    await session.flush()
    return run


async def cancel_now(
    session: AsyncSession, run: Run, *, error: str | None = None, abort_jobs: bool = True
) -> None:
    """Cancel a run at once, even a running one: its own process is going away (Ctrl-C
    on ``jeex plan``, an aborted job). Finished sections stay."""
    if run.status in TERMINAL_RUN_STATUSES:
        return
    run.desired_state = DesiredState.CANCELLED
    await settle(session, run, RunStatus.CANCELLED, error=error)
    if abort_jobs:
        await queue.request_abort(session, run.id)


async def reopen(session: AsyncSession, *, run_id: uuid.UUID) -> Run:
    """Let a stopped run continue from its first unfinished section when next executed."""
    run = await _locked(session, run_id)
    if run.status not in RESUMABLE:
        raise InvalidTransition(f"cannot resume a {run.status} run; run the step again instead")
    run.desired_state = DesiredState.RUN
    if run.status != RunStatus.PENDING:
        # Pending again, so that the step before it queues it when it completes.
        await move(session, run, Action.QUEUE, quiet=True)
    await session.flush()
    return run
