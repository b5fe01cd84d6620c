"""``jeex projects``, ``jeex docs`` and ``jeex runs``: what is stored, for people and scripts."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.cli_support import print_json, settings_or_exit, stdout, with_database
from jeex.db.session import Database
from jeex.documents import service as documents_service
from jeex.errors import InvalidInput
from jeex.events.follow import follow as follow_events
from jeex.exports.package import front_matter
from jeex.projects import service as projects_service
from jeex.runs import lifecycle, progress
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.runtime import Runtime
from jeex.tenants.service import Principal, ensure_local_principal
from jeex.vocabulary import EventType

T = TypeVar("T")
projects_app = typer.Typer(help="Projects of the local tenant.", no_args_is_help=True)
docs_app = typer.Typer(help="Documents and their versions.", no_args_is_help=True)
runs_app = typer.Typer(help="Runs (executions of steps).", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _with_db(work: Callable[[Database, Principal], Awaitable[T]]) -> T:
    async def as_local_user(_runtime: Runtime, db: Database) -> T:
        return await work(db, await ensure_local_principal(db))

    return with_database(settings_or_exit(), as_local_user)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


@projects_app.command("list")
def projects_list(json_output: JsonOption = False) -> None:
    """Every project, newest first."""

    async def work(db: Database, principal: Principal) -> list[dict[str, Any]]:
        async with db.tenant_session(principal.tenant_id) as session:
            return [
                {
                    "id": str(p.id),
                    "slug": p.slug,
                    "name": p.name,
                    "status": p.status,
                    "current_step": p.current_step,
                    "language": p.language,
                    "created_at": p.created_at.isoformat(),
                    "updated_at": p.updated_at.isoformat(),
                }
                for p in await projects_service.list_(session)
            ]

    rows = _with_db(work)
    if json_output:
        print_json(rows)
        return
    columns = ["slug", "name", "status", "current_step", "updated_at", "id"]
    stdout.print(_table("Projects", columns, [[r[c] for c in columns] for r in rows]))


@docs_app.command("list")
def docs_list(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    json_output: JsonOption = False,
) -> None:
    """Every version of every document of a project."""

    async def work(db: Database, principal: Principal) -> list[dict[str, Any]]:
        async with db.tenant_session(principal.tenant_id) as session:
            found = await projects_service.resolve_or_raise(session, ref=project)
            return [
                {
                    "id": str(d.id),
                    "document_type": d.document_type,
                    "epic_number": d.epic_number,
                    "version": d.version,
                    "title": d.title,
                    "words": len(d.content.split()),
                    "readability_score": d.readability_score,
                    "run_id": str(d.run_id),
                    "confidence": d.metadata_.get("confidence"),
                    "created_at": d.created_at.isoformat(),
                }
                for d in await documents_service.list_(session, project_id=found.id)
            ]

    rows = _with_db(work)
    if json_output:
        print_json(rows)
        return
    columns = ["document_type", "epic_number", "version", "words", "confidence", "title", "id"]
    stdout.print(_table("Documents", columns, [[r[c] for c in columns] for r in rows]))


@docs_app.command("show")
def docs_show(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    document: Annotated[
        str, typer.Argument(help="about, specs, architecture, overview, epic-N, NAME@VERSION or id")
    ],
    json_output: JsonOption = False,
) -> None:
    """Print a document as Markdown, with its front matter."""

    async def work(db: Database, principal: Principal) -> dict[str, Any]:
        async with db.tenant_session(principal.tenant_id) as session:
            found = await projects_service.resolve_or_raise(session, ref=project)
            doc = await documents_service.resolve_or_raise(
                session, project_id=found.id, ref=document
            )
            meta = {
                "title": doc.title,
                "document_type": doc.document_type,
                "version": doc.version,
                "project": found.name,
                "language": found.language,
                "generated_at": doc.created_at.isoformat(),
                "model": doc.metadata_.get("model", ""),
            }
            if doc.epic_number:
                meta["epic_number"] = doc.epic_number
            return {"id": str(doc.id), "metadata": meta, "content": doc.content}

    result = _with_db(work)
    if json_output:
        print_json(result)
        return
    typer.echo(front_matter(result["metadata"]) + result["content"], nl=False)


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "project_id": str(run.project_id),
        "step": run.step,
        "kind": run.kind,
        "agent_type": run.agent_type,
        "status": run.status,
        "attempts": run.attempts,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": str(run.cost),
        "model": run.model,
        "error": run.error,
        "desired_state": run.desired_state,
        "correlation_id": str(run.correlation_id),
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@runs_app.command("list")
def runs_list(
    project: Annotated[str | None, typer.Option(help="Only this project (id or slug).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Runs, oldest first."""

    async def work(db: Database, principal: Principal) -> list[dict[str, Any]]:
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = None
            if project is not None:
                project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
            return [_run_row(r) for r in await runs_service.list_(session, project_id=project_id)]

    rows = _with_db(work)
    if json_output:
        print_json(rows)
        return
    columns = ["step", "agent_type", "status", "attempts", "tokens_out", "error", "id"]
    stdout.print(_table("Runs", columns, [[r[c] for c in columns] for r in rows]))


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id.")], json_output: JsonOption = False
) -> None:
    """One run with its sections."""

    async def work(db: Database, principal: Principal) -> dict[str, Any]:
        run_id = _parse_run_id(run)
        async with db.tenant_session(principal.tenant_id) as session:
            found = await runs_service.get_or_raise(session, run_id=run_id)
            sections = await runs_service.list_sections(session, run_id=run_id)
            return {
                **_run_row(found),
                "sections": [
                    {
                        "key": s.key,
                        "title": s.title,
                        "status": s.status,
                        "attempts": s.attempts,
                        "words": len(s.content.split()),
                        "tokens_out": s.tokens_out,
                    }
                    for s in sections
                ],
            }

    result = _with_db(work)
    if json_output:
        print_json(result)
        return
    stdout.print(
        _table(
            f"Run {result['id']}",
            ["field", "value"],
            [[k, v] for k, v in result.items() if k != "sections"],
        )
    )
    columns = ["key", "title", "status", "attempts", "words", "tokens_out"]
    stdout.print(_table("Sections", columns, [[s[c] for c in columns] for s in result["sections"]]))


def _parse_run_id(run: str) -> uuid.UUID:
    try:
        return uuid.UUID(run)
    except ValueError:
        raise InvalidInput(f"{run!r} is not a run id") from None


class _RunAction(Protocol):
    """A user action of ``jeex.runs.lifecycle``: pause, resume, cancel, retry."""

    def __call__(self, session: AsyncSession, *, run_id: uuid.UUID) -> Awaitable[Run]: ...


def _change(run: str, action: _RunAction, json_output: bool) -> None:
    async def work(db: Database, principal: Principal) -> dict[str, Any]:
        run_id = _parse_run_id(run)
        async with db.tenant_session(principal.tenant_id) as session:
            changed = await action(session, run_id=run_id)
            return _run_row(changed)

    result = _with_db(work)
    if json_output:
        print_json(result)
        return
    stdout.print(
        f"run {result['id']}: {result['status']} (desired: {result['desired_state']})",
        highlight=False,
    )


RunArgument = Annotated[str, typer.Argument(help="Run id.")]


@runs_app.command("pause")
def runs_pause(run: RunArgument, json_output: JsonOption = False) -> None:
    """Pause a run; a running one stops after its current section."""
    _change(run, lifecycle.pause, json_output)


@runs_app.command("resume")
def runs_resume(run: RunArgument, json_output: JsonOption = False) -> None:
    """Queue a paused run again; it continues from its first unfinished section."""
    _change(run, lifecycle.resume, json_output)


@runs_app.command("cancel")
def runs_cancel(run: RunArgument, json_output: JsonOption = False) -> None:
    """Cancel a run; a running one is aborted within seconds, finished sections stay."""
    _change(run, lifecycle.cancel, json_output)


@runs_app.command("retry")
def runs_retry(run: RunArgument, json_output: JsonOption = False) -> None:
    """Queue a failed or cancelled run again, from its first unfinished section."""
    _change(run, lifecycle.retry, json_output)


@runs_app.command("watch")
def runs_watch(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    after: Annotated[int, typer.Option(help="Replay events after this sequence number.")] = 0,
    follow: Annotated[
        bool, typer.Option(help="Keep following after the runs settle (until Ctrl-C).")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per event per line (JSON Lines).")
    ] = False,
) -> None:
    """Print a project's events as they happen, from any machine; ends when no run is
    pending or running (unless --follow)."""

    async def work(db: Database, principal: Principal) -> None:
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
        events = follow_events(
            db, db.url, tenant_id=principal.tenant_id, project_id=project_id,
            after_seq=after, until_settled=not follow,
        )  # fmt: skip
        async for event in events:
            _print_event(event, json_output=json_output)

    _with_db(work)


def _print_event(event: Any, *, json_output: bool) -> None:
    document = {
        "seq": event.seq,
        "type": event.type,
        "run_id": str(event.run_id) if event.run_id else None,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }
    if json_output:
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    data = event.data
    detail = data.get("text") if event.type == EventType.SECTION_DELTA else data.get("key") or ""
    line = f"{event.seq:>6} {event.created_at:%H:%M:%S} {event.type:<18} {detail}".rstrip()
    typer.echo(line.replace("\n", " ") if event.type == EventType.SECTION_DELTA else line)


@runs_app.command("progress")
def runs_progress(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    json_output: JsonOption = False,
) -> None:
    """A project's progress now: runs, sections, percentage, elapsed, ETA, tokens, cost, log."""

    async def work(db: Database, principal: Principal) -> dict[str, Any]:
        async with db.tenant_session(principal.tenant_id) as session:
            found = await projects_service.resolve_or_raise(session, ref=project)
            return (await progress.snapshot(session, project=found)).as_dict()

    result = _with_db(work)
    if json_output:
        print_json(result)
        return
    eta = "–" if result["eta_seconds"] is None else f"{result['eta_seconds']:.0f} s"
    stdout.print(
        f"{result['status']}: {result['percentage']:.0f} %, {result['elapsed_seconds']:.0f} s "
        f"elapsed, ETA {eta}, {result['tokens_out']} tokens out, cost {result['cost']}",
        highlight=False,
    )
    columns = ["step", "status", "desired_state", "sections_done", "sections_expected", "id"]
    stdout.print(_table("Runs", columns, [[r[c] for c in columns] for r in result["runs"]]))
    for line in result["log"]:
        stdout.print(line, highlight=False)
