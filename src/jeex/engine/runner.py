"""``execute_run``: run one step from its row to its document, safely twice.

This is the function the job queue calls. It takes ids, opens its own tenant
sessions, and writes every state change with its event in one transaction.
A completed run is returned as is; a paused, failed or interrupted one continues
from its first unfinished section. Failures are recorded on the run (with every
finished section kept) and then raised, so the caller can report them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.agents.architect import Architect
from jeex.agents.base import DocumentAgent
from jeex.agents.business_analyst import BusinessAnalyst
from jeex.agents.engineering_standards import EngineeringStandards
from jeex.agents.implementation_planner import ImplementationPlanner
from jeex.agents.prompts import Brief
from jeex.config import Settings
from jeex.db.retry import ride_out_restart
from jeex.db.session import Database
from jeex.engine.context import RunContext
from jeex.engine.documents import DocumentSaver
from jeex.engine.observer import NullObserver, RunObserver
from jeex.engine.scope import RunScope
from jeex.engine.sections import SectionWriter
from jeex.engine.sources import RunSources
from jeex.engine.units import RunUnits
from jeex.errors import AppError, RunCancelled, RunPaused, WorkerStopping
from jeex.kinds import Kind
from jeex.llm.client import LLMClient
from jeex.projects import service as projects_service
from jeex.projects.models import Project
from jeex.queue import app as queue
from jeex.retrieval.service import Retrieval
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.inputs import StepInput
from jeex.runs.lifecycle import Action
from jeex.runs.models import Run
from jeex.vocabulary import TERMINAL_RUN_STATUSES, DesiredState, EventType, RunStatus

log = structlog.get_logger(__name__)

#: The agent modules, by the name a template's ``agent`` gives; a kind without one is
#: written by the generic ``DocumentAgent``.
AGENTS: dict[str, type[DocumentAgent]] = {
    agent.agent: agent
    for agent in (BusinessAnalyst, EngineeringStandards, Architect, ImplementationPlanner)
}


def agent_for(kind: Kind) -> type[DocumentAgent]:
    """The class that writes ``kind``."""
    return DocumentAgent if kind.agent is None else AGENTS[kind.agent]


@dataclass(frozen=True)
class RunnerDeps:
    """What a runner needs from the process: the database, the model, the settings."""

    db: Database
    llm: LLMClient
    settings: Settings
    #: A worker sets this while draining, so runs stop at their next section boundary.
    stopping: Callable[[], bool] = field(default=lambda: False)
    #: True on queue workers: a run may queue helper jobs for its independent units.
    fan_out: bool = False
    #: The worker's name, recorded on the sections it writes.
    worker: str = ""
    #: Embedder and vector store of the process; None writes without retrieval.
    retrieval: Retrieval | None = None
    #: True on queue workers: a run hands its slot to another tenant's waiting run at a
    #: section boundary (``jeex.queue.fairness``).
    takes_turns: bool = False


async def kind_of(session: AsyncSession, run: Run) -> Kind:
    """The kind a run writes: the tenant template version it pinned, or a built-in kind."""
    if run.template_id is not None:
        return await kinds.pinned(session, run.template_id)
    return kinds.get(run.kind)


def _context(
    deps: RunnerDeps, run: Run, kind: Kind, project: Project, observer: RunObserver
) -> RunContext:
    step_input = StepInput.model_validate(run.input)
    run_id = run.id

    async def helpers(session: AsyncSession, count: int) -> int:
        return await queue.enqueue_helpers(session, run_id, count)

    scope = RunScope(
        db=deps.db,
        tenant_id=run.tenant_id,
        run_id=run.id,
        project_id=project.id,
        observer=observer,
        worker=deps.worker,
    )
    language = step_input.language
    sources = RunSources(scope, deps.settings, language, deps.retrieval)
    return RunContext(
        kind=kind,
        settings=deps.settings,
        llm=deps.llm,
        brief=Brief(
            idea=step_input.idea_description,
            audience=step_input.target_audience,
            language=language,
            clarifications=step_input.user_clarifications,
            facts=tuple(step_input.facts),
        ),
        project_name=project.name,
        scope=scope,
        sections=SectionWriter(
            scope, deps.llm, deps.settings, deps.stopping, takes_turns=deps.takes_turns
        ),
        sources=sources,
        documents=DocumentSaver(scope, sources, language, run.created_by),
        units=RunUnits(scope, deps.settings, deps.stopping, helpers if deps.fan_out else None),
    )


async def _start(
    deps: RunnerDeps, tenant_id: uuid.UUID, run_id: uuid.UUID, observer: RunObserver
) -> RunContext | None:
    return await ride_out_restart(lambda: _start_once(deps, tenant_id, run_id, observer))


async def _start_once(
    deps: RunnerDeps, tenant_id: uuid.UUID, run_id: uuid.UUID, observer: RunObserver
) -> RunContext | None:
    async with deps.db.tenant_session(tenant_id) as session:
        run = await runs_service.get_or_raise(session, run_id=run_id)
        if run.status == RunStatus.COMPLETED:
            return None
        project = await projects_service.get_or_raise(session, project_id=run.project_id)
        resumed = run.attempts > 0
        event = await lifecycle.move(
            session,
            run,
            Action.START,
            event=EventType.RUN_RESUMED if resumed else EventType.RUN_STARTED,
            data={"attempt": run.attempts + 1},
            attempts=run.attempts + 1,
            started_at=run.started_at or runs_service.now(),
            error=None,
            model=deps.llm.model,
        )
        ctx = _context(deps, run, await kind_of(session, run), project, observer)
    if event is not None:
        observer.event(run_id, event.type, event.data)
    return ctx


async def _finish(
    ctx: RunContext,
    action: Action,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    reason: str | None = None,
) -> Run:
    return await ride_out_restart(
        lambda: _finish_once(ctx, action, output=output, error=error, reason=reason)
    )


async def _finish_once(
    ctx: RunContext,
    action: Action,
    *,
    output: dict[str, Any] | None,
    error: str | None,
    reason: str | None = None,
) -> Run:
    event = None
    async with ctx.scope.session() as session:
        run = await runs_service.get_or_raise(session, run_id=ctx.scope.run_id)
        await queue.drop_helpers(session, run.id)
        # Settled meanwhile by whoever cancelled it for good (Ctrl-C on ``jeex plan``).
        if run.status in TERMINAL_RUN_STATUSES:
            return run
        values: dict[str, Any] = {"error": error}
        if output is not None:
            values["output"] = output
        data: dict[str, Any] = {
            "tokens_in": run.tokens_in,
            "tokens_out": run.tokens_out,
            "cost": str(run.cost),
        }
        if error:
            data["error"] = error
        if action == Action.PAUSE and run.paused_by is not None:
            data |= {"paused_by": run.paused_by, "reason": reason or ""}
        event = await lifecycle.move(session, run, action, data=data, **values)
    if event is not None:
        ctx.scope.observer.event(ctx.scope.run_id, event.type, event.data)
    return run


async def execute_run(
    deps: RunnerDeps,
    *,
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    observer: RunObserver | None = None,
) -> Run:
    """Run (or continue) one step; returns the finished run, raises on failure."""
    ctx = await _start(deps, tenant_id, run_id, observer or NullObserver())
    if ctx is None:
        async with deps.db.tenant_session(tenant_id) as session:
            return await runs_service.get_or_raise(session, run_id=run_id)
    structlog.contextvars.bind_contextvars(run_id=str(run_id), tenant_id=str(tenant_id))
    try:
        output = await agent_for(ctx.kind)(ctx).run()
    except RunPaused as exc:
        return await _finish(ctx, Action.PAUSE, reason=exc.message)
    except RunCancelled:
        return await _finish(ctx, Action.CANCEL)
    except AppError as exc:
        await _finish(ctx, Action.FAIL, error=exc.message)
        raise
    finally:
        structlog.contextvars.unbind_contextvars("run_id", "tenant_id")
    return await _finish(ctx, Action.COMPLETE, output=output.model_dump(mode="json"))


async def help_run(
    deps: RunnerDeps,
    *,
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    observer: RunObserver | None = None,
) -> int:
    """A helper job's work: write the run's unclaimed units; returns how many it wrote.

    The run's own job owns the run's status; a helper only writes checkpointed units,
    and stops quietly on a pause, cancel, drain or failure (the run's job then takes
    the unit over, and reports any failure itself).
    """
    async with deps.db.tenant_session(tenant_id) as session:
        run = await runs_service.get_or_raise(session, run_id=run_id)
        if run.status != RunStatus.RUNNING or run.desired_state != DesiredState.RUN:
            return 0
        project = await projects_service.get_or_raise(session, project_id=run.project_id)
        kind = await kind_of(session, run)
        ctx = _context(deps, run, kind, project, observer or NullObserver())
    agent = agent_for(ctx.kind)
    if not agent.shares_units:
        return 0
    try:
        return await agent(ctx).help()
    except (AppError, WorkerStopping) as exc:
        log.info("helper stopped", run_id=str(run_id), reason=str(exc))
        return 0
