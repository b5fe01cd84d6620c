"""Steps, runs and progress: start a step, list and read runs, pause/resume/cancel/retry."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, status
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import pipeline
from jeex.api.errors import responses
from jeex.deps import EDITOR, PrincipalDep, ProjectDep, RunDep, SessionDep, StateDep
from jeex.runs import progress as progress_service
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.runs.schemas import ProgressOut, RunOut, StepRequest
from jeex.tenants.service import Principal

router = APIRouter(tags=["runs"])

STEP_TITLES = {
    1: "Business Analyst → about.md",
    2: "Engineering Standards → specs.md",
    3: "Architect → architecture.md",
    4: "Implementation Planner → plans/",
}
OptionalStepBody = Annotated[StepRequest | None, Body()]


def _add_step_route(step: int) -> None:
    async def start_step(
        session: SessionDep,
        state: StateDep,
        principal: PrincipalDep,
        project: ProjectDep,
        body: OptionalStepBody = None,
    ) -> RunOut:
        run = await pipeline.start_step(
            session,
            principal=Principal(tenant_id=principal.tenant_id, user_id=principal.user_id),
            project=project,
            step=step,
            data=(body or StepRequest()).to_input(project),
            model=state.settings.llm_model,
        )
        await session.refresh(run)  # the defaults the database filled in
        return RunOut.model_validate(run)

    start_step.__doc__ = (
        f"Queue step {step} ({STEP_TITLES[step]}) as a new run; a worker executes it. "
        "Fields left out of the body come from the project. Watch it on /events."
    )
    router.add_api_route(
        f"/projects/{{project_id}}/step{step}",
        start_step,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        summary=f"Run step {step}: {STEP_TITLES[step]}",
        name=f"start_step{step}",
        dependencies=EDITOR,
        responses=responses(401, 403, 404, 409, 413, 422),
    )


for _step in STEP_TITLES:
    _add_step_route(_step)


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


Change = Callable[[AsyncSession, uuid.UUID], Awaitable[Run]]
CHANGES: dict[str, tuple[Change, str]] = {
    "pause": (runs_service.pause, "Pause a queued or running run (after its current section)."),
    "resume": (runs_service.resume, "Queue a paused run again; finished sections are kept."),
    "cancel": (runs_service.cancel, "Cancel a run; a running section is aborted within seconds."),
    "retry": (runs_service.retry, "Run a failed or cancelled run again from where it stopped."),
}


def _add_change_route(action: str, change: Change, doc: str) -> None:
    async def change_run(session: SessionDep, run: RunDep) -> RunOut:
        return RunOut.model_validate(await change(session, run.id))

    change_run.__doc__ = doc + " A move the run's state does not allow is a 409."
    router.add_api_route(
        f"/runs/{{run_id}}/{action}",
        change_run,
        methods=["POST"],
        summary=f"{action.capitalize()} a run",
        name=f"{action}_run",
        dependencies=EDITOR,
        responses=responses(401, 403, 404, 409, 422),
    )


for _action, (_change, _doc) in CHANGES.items():
    _add_change_route(_action, _change, _doc)


@router.get(
    "/projects/{project_id}/progress",
    summary="Progress snapshot",
    responses=responses(401, 403, 404, 422),
)
async def get_progress(session: SessionDep, project: ProjectDep) -> ProgressOut:
    """Status, sections (with sanitised HTML), percentage, elapsed, ETA, tokens, cost and
    the last 50 log lines, read from the database in one transaction."""
    snapshot = await progress_service.snapshot(session, project, with_html=True)
    return ProgressOut.model_validate(snapshot.as_dict())
