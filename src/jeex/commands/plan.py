"""``jeex plan``: validate, start what is needed, run the steps live, write the package."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from jeex.cli_support import check_writable_dir, fail, print_json, run_async, stderr, stdout
from jeex.config import Settings
from jeex.console.progress import PlanProgress
from jeex.console.summary import summary_rows, summary_table
from jeex.engine import plans as pipeline
from jeex.errors import AppError, InvalidInput
from jeex.projects.schemas import ProjectCreate
from jeex.runs.models import Run
from jeex.runtime import Runtime
from jeex.tenants.service import ensure_local_principal
from jeex.vocabulary import RunStatus
from jeex.worker import QueueWorker


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


async def _execute(
    runtime: Runtime, request: PlanRequest, *, quiet: bool, detach: bool = False
) -> Outcome:
    db, llm = runtime.database(), runtime.llm_client()
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
        if detach:
            return outcome
        await _run_live(runtime, llm, principal, runs, outcome, quiet=quiet)
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
    runtime: Runtime, llm: Any, principal: Any, runs: list[Run], outcome: Outcome, *, quiet: bool
) -> None:
    """The embedded shape: an in-process worker serves the queue until these runs settle."""
    observer = PlanProgress(runs, console=stderr)
    assert runtime.urls is not None
    # One process, one worker: helper jobs would only wait for this worker's own slot.
    worker = QueueWorker(
        runtime.settings,
        app_url=runtime.urls.app,
        llm=llm,
        observer=observer,
        fan_out=False,
        retrieval=runtime.retrieval(),
    )
    serving = asyncio.create_task(worker.run())
    ids = [run.id for run in runs]
    try:
        with contextlib.nullcontext() if quiet else observer:
            settled = await pipeline.wait_for_runs(worker.db, principal, ids, serving)
    except asyncio.CancelledError:
        await pipeline.cancel_runs(worker.db, principal, ids, reason="interrupted by user")
        await _stop(worker, serving)
        raise
    await _stop(worker, serving)
    unfinished = [run for run in settled if run.status != RunStatus.COMPLETED]
    if unfinished:
        run = unfinished[0]
        outcome.failed_step = run.step
        outcome.failure = AppError(run.error or f"the run is {run.status}")


async def _stop(worker: QueueWorker, serving: asyncio.Task[None]) -> None:
    worker.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


def plan(
    settings: Settings,
    request: PlanRequest,
    *,
    json_output: bool,
    quiet: bool,
    detach: bool = False,
) -> None:
    try:
        with Runtime(settings, need_llm=not detach) as runtime:
            outcome = run_async(
                lambda: _execute(runtime, request, quiet=quiet or json_output, detach=detach)
            )
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
    if detach:
        _report_detached(outcome, json_output=json_output)
    _report(outcome, json_output=json_output)


def _report_detached(outcome: Outcome, *, json_output: bool) -> None:
    document = {
        "project_id": outcome.project_id,
        "project_slug": outcome.project_slug,
        "run_ids": outcome.run_ids or [],
        "status": "queued",
    }
    if json_output:
        print_json(document)
    else:
        stdout.print(
            f"Queued project {outcome.project_slug} ({outcome.project_id}); runs: "
            + ", ".join(document["run_ids"])
            + f"\nFollow it with `jeex runs list --project {outcome.project_slug}`; "
            "a `jeex worker` executes it.",
            highlight=False,
        )
    raise typer.Exit(0)


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
