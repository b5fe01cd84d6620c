"""Runs and their sections: creation, state changes, checkpoints, usage.

Section writes are upserts keyed by ``(run_id, key)`` so that running a step
twice (a retried job, a resumed run) never duplicates a section.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.agents.repair_json import without_nul
from jeex.db.context import session_tenant
from jeex.errors import InvalidTransition, NotFound, RunCancelled, RunPaused
from jeex.events import service as events_service
from jeex.projects.models import Project
from jeex.runs.models import Run, RunSection

STEP_AGENTS = {
    1: "business_analyst",
    2: "engineering_standards",
    3: "architect",
    4: "implementation_planner",
}
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def now() -> datetime:
    return datetime.now(UTC)


async def create(
    session: AsyncSession,
    *,
    project: Project,
    step: int,
    input: dict[str, Any],
    created_by: uuid.UUID | None,
    model: str,
    prompt_version: str,
    template_version: str,
) -> Run:
    run = Run(
        id=uuid.uuid4(),
        tenant_id=session_tenant(session),
        project_id=project.id,
        step=step,
        agent_type=STEP_AGENTS[step],
        input=input,
        status="pending",
        desired_state="run",
        model=model,
        prompt_version=prompt_version,
        template_version=template_version,
        created_by=created_by,
        queued_at=now(),
    )
    session.add(run)
    await session.flush()
    await events_service.append(
        session,
        project_id=project.id,
        run_id=run.id,
        type="run.queued",
        data={"step": step, "agent": run.agent_type, "correlation_id": str(run.correlation_id)},
    )
    return run


async def get_or_raise(session: AsyncSession, run_id: uuid.UUID) -> Run:
    run = (await session.scalars(select(Run).where(Run.id == run_id))).one_or_none()
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


async def list_(session: AsyncSession, *, project_id: uuid.UUID | None = None) -> list[Run]:
    statement = select(Run).order_by(Run.created_at, Run.step)
    if project_id is not None:
        statement = statement.where(Run.project_id == project_id)
    return list((await session.scalars(statement)).all())


async def check_desired_state(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Called at every section boundary: a pause or cancel takes effect here."""
    desired = (
        await session.execute(select(Run.desired_state).where(Run.id == run_id))
    ).scalar_one()
    if desired == "cancelled":
        raise RunCancelled(f"run {run_id} was cancelled")
    if desired == "paused":
        raise RunPaused(f"run {run_id} was paused")


async def request_state(session: AsyncSession, run_id: uuid.UUID, desired: str) -> None:
    await session.execute(update(Run).where(Run.id == run_id).values(desired_state=desired))


#: States from which ``jeex plan --project`` carries a step on rather than starting anew.
RESUMABLE = frozenset({"pending", "paused", "failed", "cancelled", "running"})


async def reopen(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """Let a stopped run continue from its first unfinished section when next executed."""
    run = await get_or_raise(session, run_id)
    if run.status not in RESUMABLE:
        raise InvalidTransition(f"cannot resume a {run.status} run; run the step again instead")
    run.desired_state = "run"
    if run.status != "pending":
        # Pending again, so that the step before it queues it when it completes.
        await set_status(session, run, "pending", finished_at=None)
    await session.flush()
    return run


async def _locked(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """The run, row-locked: a state change and the worker's own writes are serialised."""
    statement = select(Run).where(Run.id == run_id).with_for_update()
    run = (await session.scalars(statement)).one_or_none()
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def _refuse(run: Run, action: str, hint: str = "") -> InvalidTransition:
    requested = run.desired_state not in ("run", run.status)
    state = f"{run.status} run" + (f" ({run.desired_state} requested)" if requested else "")
    return InvalidTransition(f"cannot {action} a {state}{hint}")


async def settle(session: AsyncSession, run: Run, status: str, **values: Any) -> None:
    """A run no worker is executing takes its new state (paused, cancelled, failed), its
    event, and its project the same status (so the project is no longer "running")."""
    await set_status(session, run, status, **values)
    project = (await session.scalars(select(Project).where(Project.id == run.project_id))).one()
    project.status = status
    await emit(session, run, f"run.{status}", **({"error": run.error} if run.error else {}))


async def emit(session: AsyncSession, run: Run, type: str, **data: Any) -> None:
    """Append a run event (with its step) in the session's transaction."""
    await events_service.append(
        session,
        project_id=run.project_id,
        run_id=run.id,
        type=type,
        data={"step": run.step, **data},
    )


async def pause(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """Pause a queued or running run; a running one stops at its next section boundary."""
    run = await _locked(session, run_id)
    if run.status not in ("pending", "running") or run.desired_state != "run":
        raise _refuse(run, "pause")
    run.desired_state = "paused"
    if run.status == "pending":
        await settle(session, run, "paused")
    await session.flush()
    return run


async def resume(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """Continue a paused run from its first unfinished section (re-queued)."""
    run = await _locked(session, run_id)
    pausing = run.status == "running" and run.desired_state == "paused"
    if run.status != "paused" and not pausing:
        retryable = run.status in ("failed", "cancelled")
        raise _refuse(run, "resume", "; retry it instead" if retryable else "")
    run.desired_state = "run"
    if not pausing:
        await _requeue(session, run, "run.resumed")
    await session.flush()
    return run


async def retry(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """Run a failed or cancelled run again from its first unfinished section."""
    run = await _locked(session, run_id)
    if run.status not in ("failed", "cancelled"):
        raise _refuse(run, "retry")
    run.desired_state = "run"
    await _requeue(session, run, "run.queued")
    await session.flush()
    return run


async def cancel(session: AsyncSession, run_id: uuid.UUID) -> Run:
    """Cancel a run; a running one is aborted by its worker within seconds."""
    from jeex.queue import app as queue

    run = await _locked(session, run_id)
    # A failed run whose next attempt is queued is not over yet: it can be cancelled.
    retrying = run.status == "failed" and bool(await queue.live_jobs(session, run.id))
    if (run.status in TERMINAL and not retrying) or run.desired_state == "cancelled":
        raise _refuse(run, "cancel")
    run.desired_state = "cancelled"
    if run.status != "running":
        await settle(session, run, "cancelled")
    await queue.request_abort(session, run.id)
    await session.flush()
    return run


async def _requeue(session: AsyncSession, run: Run, event: str) -> None:
    from jeex.queue import app as queue

    run.status, run.error, run.finished_at = "pending", None, None
    run.queued_at = now()
    await queue.enqueue_run(session, run.id)
    await emit(session, run, event)


async def get_section(session: AsyncSession, run_id: uuid.UUID, key: str) -> RunSection | None:
    statement = select(RunSection).where(RunSection.run_id == run_id, RunSection.key == key)
    return (await session.scalars(statement)).one_or_none()


async def list_sections(session: AsyncSession, run_id: uuid.UUID) -> list[RunSection]:
    statement = select(RunSection).where(RunSection.run_id == run_id).order_by(RunSection.position)
    return list((await session.scalars(statement)).all())


async def upsert_section(
    session: AsyncSession, *, run_id: uuid.UUID, key: str, **values: Any
) -> None:
    """Insert or update one section; the key makes a repeated write harmless."""
    columns = {
        ("metadata" if name == "metadata_" else name): without_nul(v) for name, v in values.items()
    }
    row = {"tenant_id": session_tenant(session), "run_id": run_id, "key": key, **columns}
    row.setdefault("position", 0)
    statement = insert(cast(Table, RunSection.__table__)).values(**row)
    changes: dict[str, Any] = {name: statement.excluded[name] for name in columns}
    changes["updated_at"] = func.now()
    await session.execute(
        statement.on_conflict_do_update(index_elements=["tenant_id", "run_id", "key"], set_=changes)
    )


async def add_usage(
    session: AsyncSession, run_id: uuid.UUID, *, tokens_in: int, tokens_out: int, cost: Decimal
) -> None:
    await session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            tokens_in=Run.tokens_in + tokens_in,
            tokens_out=Run.tokens_out + tokens_out,
            cost=Run.cost + cost,
        )
    )


async def set_status(session: AsyncSession, run: Run, status: str, **values: Any) -> None:
    run.status = status
    for name, value in values.items():
        setattr(run, name, value)
    if status in TERMINAL or status == "paused":
        run.finished_at = now()
    await session.flush()
