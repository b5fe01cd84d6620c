"""The whole job behind ``jeex plan``: a project, its runs, their execution, the package.

The CLI (and later the HTTP API) call these functions; they hold no terminal or
HTTP concerns. Runs are created up front in one transaction, with the job of the first one, so
the plan of work is recorded before any of it starts; a worker executes them in
order (each completed run queues the next pending one), and a failure stops the
chain with every finished section kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.agents.prompts import PROMPT_VERSION
from jeex.db.session import Database
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.engine.observer import RunObserver
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.errors import Conflict, InvalidInput
from jeex.exports.bundle import build_bundle
from jeex.exports.package import PackageResult, write_package
from jeex.projects import service as projects_service
from jeex.projects.models import PLAN, Project
from jeex.projects.schemas import ProjectCreate
from jeex.queue import app as queue
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.inputs import StepInput
from jeex.runs.models import Run
from jeex.runs.service import lock_project
from jeex.tenants.service import Principal
from jeex.vocabulary import ProjectStatus, RunStatus


def all_steps() -> tuple[int, ...]:
    """The plan's steps, as the kinds registry declares them."""
    return tuple(kinds.plan_steps())


def parse_steps(text: str) -> tuple[int, ...]:
    """``1-4``, ``2-4``, ``3`` or ``1,3``: the steps to run, in order."""
    every = all_steps()
    steps: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            low, _, high = part.partition("-")
            steps.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise InvalidInput(f"invalid --steps {text!r}; use for example 1-4, 2-4 or 3") from None
    if not steps or not steps <= set(every):
        raise InvalidInput(f"invalid --steps {text!r}; steps are {every[0]} to {every[-1]}")
    return tuple(sorted(steps))


def step_input(project: Project, clarifications: dict[str, str] | None = None) -> StepInput:
    return StepInput(
        idea_description=project.idea,
        target_audience=project.audience,
        language=project.language,
        user_clarifications=clarifications or {},
    )


async def _run_for_step(
    db_session: AsyncSession, project: Project, step: int, principal: Principal, model: str
) -> Run:
    """The unfinished run of this step to continue, or a new one (a new version)."""
    existing = [
        run
        for run in await runs_service.list_(db_session, project_id=project.id)
        if run.step == step and run.status in lifecycle.RESUMABLE
    ]
    if existing:
        return await lifecycle.reopen(db_session, run_id=existing[-1].id)
    return await runs_service.create(
        db_session,
        project=project,
        kind=kinds.by_step(step),
        input=step_input(project).model_dump(),
        created_by=principal.user_id,
        model=model,
        prompt_version=PROMPT_VERSION,
    )


async def create_plan(
    db: Database, principal: Principal, data: ProjectCreate, *, steps: Sequence[int], model: str
) -> tuple[Project, list[Run]]:
    async with db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.create(session, owner=principal, data=data)
        runs = [await _run_for_step(session, project, step, principal, model) for step in steps]
        await queue.enqueue_run(session, runs[0].id)
    return project, runs


async def continue_plan(
    db: Database, principal: Principal, project_ref: str, *, steps: Sequence[int], model: str
) -> tuple[Project, list[Run]]:
    async with db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.resolve_or_raise(session, ref=project_ref)
        if project.status == ProjectStatus.RUNNING:
            raise Conflict(f"project {project.slug!r} is already running")
        runs = [await _run_for_step(session, project, step, principal, model) for step in steps]
        await queue.enqueue_run(session, runs[0].id)
    return project, runs


async def start_step(
    session: AsyncSession,
    *,
    principal: Principal,
    project: Project,
    step: int,
    data: StepInput,
    model: str,
) -> Run:
    """A new run of one step with the caller's input (a new document version), queued in
    the caller's transaction. One step at a time per project: a project with a pending or
    running run is a conflict (pause, cancel or wait for it first)."""
    if project.kind != PLAN:
        raise Conflict(
            f"this project is a {project.kind} document, not a plan: it has no steps; "
            f"start it again with POST /documents/{project.id}/generate"
        )
    await lock_project(session, project.id)
    active = [
        run
        for run in await runs_service.list_(session, project_id=project.id)
        if run.status in (RunStatus.PENDING, RunStatus.RUNNING)
    ]
    if active:
        raise Conflict(
            f"step {active[0].step} of this project is {active[0].status}; "
            "wait for it, or pause or cancel it first"
        )
    run = await runs_service.create(
        session,
        project=project,
        kind=kinds.by_step(step),
        input=data.model_dump(),
        created_by=principal.user_id,
        model=model,
        prompt_version=PROMPT_VERSION,
    )
    await queue.enqueue_run(session, run.id)
    return run


async def execute_runs(
    deps: RunnerDeps, principal: Principal, runs: Sequence[Run], observer: RunObserver
) -> list[Run]:
    """Execute in order; an exception stops the chain (the failed run is already recorded)."""
    return [
        await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id, observer=observer)
        for run in runs
    ]


#: A run in one of these states, with no job waiting or executing, will not move on its own.
SETTLED = frozenset({RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PAUSED})


async def wait_for_runs(
    db: Database,
    principal: Principal,
    run_ids: Sequence[uuid.UUID],
    serving: asyncio.Task[None],
    *,
    poll_seconds: float = 0.25,
) -> list[Run]:
    """Wait until every run completed, or one has settled short of it (failed for good,
    cancelled, paused); raises if the worker serving them stops first."""
    while True:
        if serving.done():
            serving.result()
            raise RuntimeError("the worker stopped before the runs finished")
        async with db.tenant_session(principal.tenant_id) as session:
            runs = [await runs_service.get_or_raise(session, run_id=run_id) for run_id in run_ids]
            if all(run.status == RunStatus.COMPLETED for run in runs):
                return runs
            for run in runs:
                if run.status in SETTLED and not await queue.live_jobs(session, run.id):
                    return runs
        await asyncio.sleep(poll_seconds)


async def cancel_runs(
    db: Database,
    principal: Principal,
    run_ids: Sequence[uuid.UUID],
    *,
    reason: str,
    wait_seconds: float = 10.0,
) -> None:
    """Cancel unfinished runs (finished sections stay) and wait for their jobs to let go."""
    async with db.tenant_session(principal.tenant_id) as session:
        for run_id in run_ids:
            run = await runs_service.get_or_raise(session, run_id=run_id)
            await lifecycle.cancel_now(session, run, error=reason)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while asyncio.get_running_loop().time() < deadline:
        async with db.tenant_session(principal.tenant_id) as session:
            if not any([await queue.live_jobs(session, run_id) for run_id in run_ids]):
                return
        await asyncio.sleep(0.1)


async def write_project_package(
    db: Database, principal: Principal, project_id: uuid.UUID, out_dir: Path
) -> tuple[PackageResult, list[DocumentVersion]]:
    async with db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.get_or_raise(session, project_id=project_id)
        documents = await documents_service.latest_package(session, project_id=project_id)
    if not documents:
        raise Conflict(f"project {project.slug!r} has no documents yet; run step 1 first")
    bundle = build_bundle(project, documents)
    docs = [item.doc for item in bundle.documents]
    return write_package(out_dir, bundle.project, docs), documents
