"""Steps, runs and progress: start a step, list and read runs, pause/resume/cancel/retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.api.deps import EDITOR, PrincipalDep, ProjectDep, RunDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.api.state import ApiState
from jeex.auth.service import AuthPrincipal
from jeex.engine import plans as pipeline
from jeex.projects.models import Project
from jeex.runs import lifecycle
from jeex.runs import progress as progress_service
from jeex.runs import service as runs_service
from jeex.runs.schemas import ProgressOut, RunOut, StepRequest
from jeex.tenants import quotas
from jeex.vocabulary import RunStatus

router = APIRouter(tags=["runs"])

OptionalStepBody = Annotated[StepRequest | None, Body()]
STEP_RESPONSES = responses(401, 403, 404, 409, 413, 422)
CHANGE_RESPONSES = responses(401, 403, 404, 409, 422)


async def _start(
    step: int,
    session: AsyncSession,
    state: ApiState,
    principal: AuthPrincipal,
    project: Project,
    body: StepRequest | None,
) -> RunOut:
    await quotas.check_run(session, state.settings)
    run = await pipeline.start_step(
        session,
        principal=principal,
        project=project,
        step=step,
        data=(body or StepRequest()).to_input(project),
        model=state.settings.llm_model,
    )
    await session.refresh(run)  # the defaults the database filled in
    return RunOut.model_validate(run)


@router.post(
    "/projects/{project_id}/step1",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run step 1: Business Analyst → about.md",
    dependencies=EDITOR,
    responses=STEP_RESPONSES,
)
async def start_step1(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    body: OptionalStepBody = None,
) -> RunOut:
    """Queue step 1 (Business Analyst → about.md) as a new run; a worker executes it.
    Fields left out of the body come from the project. Watch it on /events."""
    return await _start(1, session, state, principal, project, body)


@router.post(
    "/projects/{project_id}/step2",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run step 2: Engineering Standards → specs.md",
    dependencies=EDITOR,
    responses=STEP_RESPONSES,
)
async def start_step2(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    body: OptionalStepBody = None,
) -> RunOut:
    """Queue step 2 (Engineering Standards → specs.md) as a new run; a worker executes it.
    Fields left out of the body come from the project. Watch it on /events."""
    return await _start(2, session, state, principal, project, body)


@router.post(
    "/projects/{project_id}/step3",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run step 3: Architect → architecture.md",
    dependencies=EDITOR,
    responses=STEP_RESPONSES,
)
async def start_step3(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    body: OptionalStepBody = None,
) -> RunOut:
    """Queue step 3 (Architect → architecture.md) as a new run; a worker executes it.
    Fields left out of the body come from the project. Watch it on /events."""
    return await _start(3, session, state, principal, project, body)


@router.post(
    "/projects/{project_id}/step4",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run step 4: Implementation Planner → plans/",
    dependencies=EDITOR,
    responses=STEP_RESPONSES,
)
async def start_step4(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    body: OptionalStepBody = None,
) -> RunOut:
    """Queue step 4 (Implementation Planner → plans/overview.md and one file per epic) as a
    new run; a worker executes it. Fields left out of the body come from the project."""
    return await _start(4, session, state, principal, project, body)


@router.get(
    "/projects/{project_id}/runs",
    summary="List a project's runs",
    responses=responses(401, 403, 404, 422),
)
async def list_runs(session: SessionDep, project: ProjectDep) -> list[RunOut]:
    """Every run of the project, oldest first: the audit of each agent execution."""
    runs = await runs_service.list_(session, project_id=project.id)
    return [RunOut.model_validate(run) for run in runs]


@router.get("/runs/{run_id}", summary="Get a run", responses=responses(401, 403, 404, 422))
async def get_run(run: RunDep) -> RunOut:
    """One run with its input, output, usage and timings."""
    return RunOut.model_validate(run)


@router.post(
    "/runs/{run_id}/pause", summary="Pause a run", dependencies=EDITOR, responses=CHANGE_RESPONSES
)
async def pause_run(session: SessionDep, run: RunDep) -> RunOut:
    """Pause a queued or running run (after its current section). A move the run's state
    does not allow is a 409."""
    return RunOut.model_validate(await lifecycle.pause(session, run_id=run.id))


@router.post(
    "/runs/{run_id}/resume", summary="Resume a run", dependencies=EDITOR, responses=CHANGE_RESPONSES
)
async def resume_run(session: SessionDep, state: StateDep, run: RunDep) -> RunOut:
    """Queue a paused run again; finished sections are kept. A move the run's state does not
    allow is a 409; a tenant without a free run slot or budget left is a 429."""
    if run.status == RunStatus.PAUSED:
        await quotas.check_run(session, state.settings)
    return RunOut.model_validate(await lifecycle.resume(session, run_id=run.id))


@router.post(
    "/runs/{run_id}/cancel", summary="Cancel a run", dependencies=EDITOR, responses=CHANGE_RESPONSES
)
async def cancel_run(session: SessionDep, run: RunDep) -> RunOut:
    """Cancel a run; a running section is aborted within seconds. A move the run's state does
    not allow is a 409."""
    return RunOut.model_validate(await lifecycle.cancel(session, run_id=run.id))


@router.post(
    "/runs/{run_id}/retry", summary="Retry a run", dependencies=EDITOR, responses=CHANGE_RESPONSES
)
async def retry_run(session: SessionDep, state: StateDep, run: RunDep) -> RunOut:
    """Run a failed or cancelled run again from where it stopped. A move the run's state does
    not allow is a 409; a tenant without a free run slot or budget left is a 429."""
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        await quotas.check_run(session, state.settings)
    return RunOut.model_validate(await lifecycle.retry(session, run_id=run.id))


@router.get(
    "/projects/{project_id}/progress",
    summary="Progress snapshot",
    responses=responses(401, 403, 404, 422),
)
async def get_progress(session: SessionDep, project: ProjectDep) -> ProgressOut:
    """Status, sections (with sanitised HTML), percentage, elapsed, ETA, tokens, cost and
    the last 50 log lines, read from the database in one transaction."""
    snapshot = await progress_service.snapshot(session, project=project, with_html=True)
    return ProgressOut.model_validate(snapshot.as_dict())
