"""Runs and their sections: creation, queries, checkpoints, usage (state changes are
``jeex.runs.lifecycle``'s).

Section writes are upserts keyed by ``(run_id, key)`` so that running a step
twice (a retried job, a resumed run) never duplicates a section.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.db.context import session_tenant
from jeex.db.text import without_nul
from jeex.errors import NotFound, RunCancelled, RunPaused
from jeex.events import service as events_service
from jeex.projects.models import Project
from jeex.runs.models import Run, RunSection
from jeex.vocabulary import DesiredState, EventType, RunStatus


def now() -> datetime:
    return datetime.now(UTC)


async def create(
    session: AsyncSession,
    *,
    project: Project,
    kind: kinds.Kind,
    input: dict[str, Any],
    created_by: uuid.UUID | None,
    model: str,
    prompt_version: str,
    template_id: uuid.UUID | None = None,
) -> Run:
    """A pending run of ``kind`` (a plan step's, or a document's; ``template_id`` pins a
    tenant template version), with its ``run.queued`` event."""
    run = Run(
        id=uuid.uuid4(),
        tenant_id=session_tenant(session),
        project_id=project.id,
        kind=kind.key,
        step=kind.step,
        template_id=template_id,
        sections_expected=kind.expected_sections(),
        agent_type=kind.agent or "writer",
        input=input,
        status=RunStatus.PENDING,
        desired_state=DesiredState.RUN,
        model=model,
        prompt_version=prompt_version,
        template_version=kind.version,
        created_by=created_by,
        queued_at=now(),
    )
    session.add(run)
    await session.flush()
    await events_service.append(
        session,
        project_id=project.id,
        run_id=run.id,
        type=EventType.RUN_QUEUED,
        data={
            "step": run.step,
            "kind": run.kind,
            "agent": run.agent_type,
            "correlation_id": str(run.correlation_id),
        },
    )
    return run


async def lock_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    """Serialise starting runs of one project until this transaction ends: "is a run of
    it active?" and "then insert one" must not interleave with another request's."""
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"runs:{project_id}"},
    )


#: A run is reachable only while its project is: a deleted project's runs are 404 to
#: every route and never execute (its job ends on the NotFound).
_LIVE_RUN = (
    select(Run)
    .join(Project, (Project.tenant_id == Run.tenant_id) & (Project.id == Run.project_id))
    .where(Project.deleted_at.is_(None))
)


async def get_or_raise(session: AsyncSession, *, run_id: uuid.UUID) -> Run:
    run = (await session.scalars(_LIVE_RUN.where(Run.id == run_id))).one_or_none()
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


async def list_(session: AsyncSession, *, project_id: uuid.UUID | None = None) -> list[Run]:
    statement = _LIVE_RUN.order_by(Run.created_at, Run.step, Run.id)
    if project_id is not None:
        statement = statement.where(Run.project_id == project_id)
    return list((await session.scalars(statement)).all())


async def current(session: AsyncSession, *, project_id: uuid.UUID) -> list[Run]:
    """The project's current attempt at each kind: the newest run of each plan step (or of
    its document kind), plan steps in order. Earlier runs of a step (cancelled, re-run)
    are its history, not its progress."""
    statement = (
        select(Run)
        .where(Run.project_id == project_id)
        .ext(distinct_on(Run.kind))
        .order_by(Run.kind, Run.created_at.desc(), Run.id.desc())
    )
    runs = list((await session.scalars(statement)).all())
    return sorted(runs, key=lambda r: (r.step is None, r.step or 0, r.created_at))


def expected_sections(
    *, kind: str, sections_expected: int | None, template_id: object, written: int
) -> int:
    """Sections (and structured calls) a run will have written when it completes; the
    run's columns are passed (from an ORM row or the one-query state alike)."""
    expected = sections_expected or 0
    if not expected and template_id is None:  # a run older than the column
        expected = kinds.get(kind).expected_sections()
    return max(expected, written)


async def check_desired_state(session: AsyncSession, *, run_id: uuid.UUID) -> None:
    """Called at every section boundary: a pause or cancel takes effect here."""
    desired = (
        await session.execute(select(Run.desired_state).where(Run.id == run_id))
    ).scalar_one()
    if desired == DesiredState.CANCELLED:
        raise RunCancelled(f"run {run_id} was cancelled")
    if desired == DesiredState.PAUSED:
        raise RunPaused(f"run {run_id} was paused")


async def pause_for_budget(session: AsyncSession, *, run_id: uuid.UUID) -> None:
    """Ask the run to pause because its tenant's budget is spent (not a person's pause)."""
    await session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(desired_state=DesiredState.PAUSED, paused_by="budget")
    )


async def request_state(session: AsyncSession, *, run_id: uuid.UUID, desired: DesiredState) -> None:
    await session.execute(update(Run).where(Run.id == run_id).values(desired_state=desired))


async def get_section(session: AsyncSession, *, run_id: uuid.UUID, key: str) -> RunSection | None:
    statement = select(RunSection).where(RunSection.run_id == run_id, RunSection.key == key)
    return (await session.scalars(statement)).one_or_none()


async def list_sections(session: AsyncSession, *, run_id: uuid.UUID) -> list[RunSection]:
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
    session: AsyncSession, *, run_id: uuid.UUID, tokens_in: int, tokens_out: int, cost: Decimal
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
