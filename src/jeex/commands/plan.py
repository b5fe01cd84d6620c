"""``jeex plan``: validate, start what is needed, run the steps live, write the package."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from jeex import pipeline
from jeex.cli_support import check_writable_dir, fail, print_json, run_async, stderr, stdout
from jeex.config import Settings
from jeex.console.progress import PlanProgress
from jeex.console.summary import summary_rows, summary_table
from jeex.errors import AppError, InvalidInput
from jeex.projects.schemas import ProjectCreate
from jeex.runs.models import Run
from jeex.runs.runner import RunnerDeps, mark_interrupted
from jeex.runtime import Runtime
from jeex.tenants.service import ensure_local_principal


@dataclass(frozen=True)
class PlanRequest:
    """A validated ``jeex plan`` invocation: nothing runs until all of it is valid."""

    out: Path
    steps: tuple[int, ...]
    create: ProjectCreate | None
    project: str | None

    @classmethod
    def build(
        cls,
        *,
        idea: str | None,
        audience: str,
        language: str,
        out: Path,
        name: str | None,
        project: str | None,
        steps: str,
    ) -> PlanRequest:
        parsed_steps = pipeline.parse_steps(steps)
        out_dir = check_writable_dir(out)
        if project is not None:
            if idea:
                raise InvalidInput("give either an idea or --project, not both")
            return cls(out=out_dir, steps=parsed_steps, create=None, project=project)
        if parsed_steps[0] != 1:
            raise InvalidInput("a new project starts at step 1; use --project to continue one")
        data = ProjectCreate(idea=idea or "", audience=audience, language=language, name=name)
        return cls(out=out_dir, steps=parsed_steps, create=data, project=None)


@dataclass
class Outcome:
    project_id: str = ""
    project_slug: str = ""
    run_ids: list[str] | None = None
    failure: AppError | None = None
    failed_step: int | None = None
    report: dict[str, Any] | None = None


async def _execute(runtime: Runtime, request: PlanRequest, *, quiet: bool) -> Outcome:
    db, llm = runtime.database(), runtime.llm_client()
    deps = RunnerDeps(db=db, llm=llm, settings=runtime.settings)
    outcome = Outcome()
    try:
        principal = await ensure_local_principal(db)
        if request.create is not None:
            project, runs = await pipeline.create_plan(
                db, principal, request.create, steps=request.steps, model=llm.model
            )
        else:
            assert request.project is not None
            project, runs = await pipeline.continue_plan(
                db, principal, request.project, steps=request.steps, model=llm.model
            )
        outcome.project_id, outcome.project_slug = str(project.id), project.slug
        outcome.run_ids = [str(run.id) for run in runs]
        await _run_live(deps, principal, runs, outcome, quiet=quiet)
        if outcome.failure is None:
            package, documents = await pipeline.write_project_package(
                db, principal, project.id, request.out
            )
            rows = summary_rows(documents, package)
            outcome.report = {
                "out_dir": str(package.root),
                "zip_path": str(package.zip_path),
                "files": [str(f) for f in package.files],
                "documents": rows,
            }
    finally:
        await llm.close()
        await db.dispose()
    return outcome


async def _run_live(
    deps: RunnerDeps, principal: Any, runs: list[Run], outcome: Outcome, *, quiet: bool
) -> None:
    observer = PlanProgress(runs, console=stderr)
    try:
        if quiet:
            await pipeline.execute_runs(deps, principal, runs, observer)
        else:
            with observer:
                await pipeline.execute_runs(deps, principal, runs, observer)
    except asyncio.CancelledError:
        for run in runs:
            await mark_interrupted(
                deps, tenant_id=principal.tenant_id, run_id=run.id, reason="interrupted by user"
            )
        raise
    except AppError as exc:
        outcome.failure = exc
        outcome.failed_step = await _failed_step(deps, principal, runs)


async def _failed_step(deps: RunnerDeps, principal: Any, runs: list[Run]) -> int | None:
    from jeex.runs import service as runs_service

    async with deps.db.tenant_session(principal.tenant_id) as session:
        for run in runs:
            current = await runs_service.get_or_raise(session, run.id)
            if current.status != "completed":
                return current.step
    return None


def plan(settings: Settings, request: PlanRequest, *, json_output: bool, quiet: bool) -> None:
    try:
        with Runtime(settings, need_llm=True) as runtime:
            outcome = run_async(lambda: _execute(runtime, request, quiet=quiet or json_output))
    except KeyboardInterrupt:
        fail(
            "interrupted: the run is marked cancelled and finished sections are kept; "
            "continue with `jeex plan --project <slug> --steps N-4`",
            130,
        )
    except AppError as exc:
        fail(exc.message, exc.exit_code)
    except OSError as exc:
        fail(f"cannot write the package: {exc}", 2)
    _report(outcome, json_output=json_output)


def _report(outcome: Outcome, *, json_output: bool) -> None:
    document: dict[str, Any] = {
        "project_id": outcome.project_id,
        "project_slug": outcome.project_slug,
        "run_ids": outcome.run_ids or [],
    }
    if outcome.failure is not None:
        step = outcome.failed_step or 1
        hint = f"jeex plan --project {outcome.project_slug} --steps {step}-4"
        message = f"step {step} failed: {outcome.failure.message}"
        if json_output:
            print_json({**document, "status": "failed", "error": message, "retry": hint})
        fail(f"{message}. Finished sections are kept; fix the cause, then run `{hint}`", 1)
    report = outcome.report or {}
    if json_output:
        print_json({**document, "status": "completed", **report})
        return
    stdout.print(summary_table(report["documents"], Path(report["zip_path"])))
    stdout.print(f"Package: {report['out_dir']}\nZIP:     {report['zip_path']}", highlight=False)
    raise typer.Exit(0)
