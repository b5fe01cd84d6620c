"""``jeex exhibits add|list|show|delete`` and ``jeex search``.

``exhibits add`` stores each file and queues its processing in one transaction,
then (unless ``--detach``) serves the exhibits queue itself until its files are
``ready`` or ``failed``: the embedded shape needs no other process. With
``--detach`` a running ``jeex worker`` processes them; that is also the way when a
worker holds the local vector store (local Qdrant allows one process per folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from jeex.cli_support import (
    fail,
    print_json,
    settings_or_exit,
    stderr,
    stdout,
    with_database,
)
from jeex.db.session import Database
from jeex.exhibits import files
from jeex.exhibits import search as search_service
from jeex.exhibits import service as exhibits_service
from jeex.exhibits.models import Exhibit
from jeex.projects import service as projects_service
from jeex.queue.app import EXHIBITS_QUEUE
from jeex.runtime import Runtime
from jeex.tenants.service import Principal, ensure_local_principal
from jeex.vocabulary import ExhibitStatus
from jeex.worker import QueueWorker

T = TypeVar("T")
exhibits_app = typer.Typer(help="Exhibits: files the agents use as sources.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SETTLE_POLL_SECONDS = 0.25


def _with_runtime(work: Callable[[Runtime, Database, Principal], Awaitable[T]]) -> T:
    async def as_local_user(runtime: Runtime, db: Database) -> T:
        return await work(runtime, db, await ensure_local_principal(db))

    return with_database(settings_or_exit(), as_local_user)


def exhibit_row(exhibit: Exhibit, label: str = "") -> dict[str, Any]:
    return {
        "id": str(exhibit.id),
        "label": label,
        "filename": exhibit.filename,
        "media_type": exhibit.media_type,
        "size": exhibit.size,
        "sha256": exhibit.sha256,
        "status": exhibit.status,
        "error": exhibit.error,
        "text_chars": exhibit.text_chars,
        "created_at": exhibit.created_at.isoformat() if exhibit.created_at else None,
    }


def _print_rows(rows: list[dict[str, Any]], title: str) -> None:
    columns = ("label", "filename", "media_type", "size", "status", "error", "id")
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    stdout.print(table)


async def _rows(db: Database, principal: Principal, project_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.tenant_session(principal.tenant_id) as session:
        exhibits = await exhibits_service.list_(session, project_id=project_id)
    labels = exhibits_service.labels(exhibits)
    return [exhibit_row(e, labels[str(e.id)]) for e in exhibits]


async def _serve_until_settled(
    runtime: Runtime, db: Database, principal: Principal, ids: list[uuid.UUID]
) -> None:
    """Serve the exhibits queue in this process until the given exhibits leave ``pending``."""
    assert runtime.urls is not None
    worker = QueueWorker(
        runtime.settings,
        app_url=runtime.urls.app,
        llm=None,
        queues=[EXHIBITS_QUEUE],
        retrieval=runtime.retrieval_or_raise(),
    )
    serving = asyncio.create_task(worker.run())
    try:
        while True:
            if serving.done():
                serving.result()
                raise RuntimeError("the worker stopped before the exhibits were processed")
            async with db.tenant_session(principal.tenant_id) as session:
                rows = [await exhibits_service.get(session, exhibit_id=i) for i in ids]
            if all(row is None or row.status != ExhibitStatus.PENDING for row in rows):
                return
            await asyncio.sleep(SETTLE_POLL_SECONDS)
    finally:
        worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


@exhibits_app.command("add")
def add(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    paths: Annotated[list[Path], typer.Argument(help="Files: PDF, DOCX, HTML, Markdown, text.")],
    detach: Annotated[
        bool, typer.Option(help="Only store and queue; a running `jeex worker` processes them.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Add files to a project; they are extracted and indexed for its sections and search."""
    for path in paths:
        if not path.is_file():
            fail(f"{path} is not a file")

    async def work(runtime: Runtime, db: Database, principal: Principal) -> list[dict[str, Any]]:
        added: list[uuid.UUID] = []
        retrieval = runtime.retrieval_or_raise()  # retrieval off: say so before writing anything
        if not detach:  # a store held by another process: say so before writing anything
            await retrieval.store()
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
        for path in paths:
            async with db.tenant_session(principal.tenant_id) as session:
                exhibit = await exhibits_service.create(
                    session,
                    settings=runtime.settings,
                    project_id=project_id,
                    filename=path.name,
                    pieces=files.read_pieces(path),
                    created_by=principal.user_id,
                )
                added.append(exhibit.id)
        if not detach:
            await _serve_until_settled(runtime, db, principal, added)
        return [
            row for row in await _rows(db, principal, project_id) if uuid.UUID(row["id"]) in added
        ]

    rows = _with_runtime(work)
    if json_output:
        print_json(rows)
    else:
        _print_rows(rows, "Added exhibits")
    failed = [row for row in rows if row["status"] == ExhibitStatus.FAILED]
    if failed:
        for row in failed:
            stderr.print(f"{row['filename']}: failed: {row['error']}", highlight=False)
        raise typer.Exit(1)


@exhibits_app.command("list")
def list_(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    json_output: JsonOption = False,
) -> None:
    """The project's exhibits with their labels (E1, E2 …) and status."""

    async def work(runtime: Runtime, db: Database, principal: Principal) -> list[dict[str, Any]]:
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
        return await _rows(db, principal, project_id)

    rows = _with_runtime(work)
    if json_output:
        print_json(rows)
    else:
        _print_rows(rows, f"Exhibits of {project}")


@exhibits_app.command("show")
def show(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    exhibit: Annotated[str, typer.Argument(help="Exhibit id or label (E2).")],
    json_output: JsonOption = False,
) -> None:
    """One exhibit's record."""

    async def work(runtime: Runtime, db: Database, principal: Principal) -> dict[str, Any]:
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
            found = await exhibits_service.resolve_or_raise(
                session, ref=exhibit, project_id=project_id
            )
        rows = await _rows(db, principal, project_id)
        return next(row for row in rows if row["id"] == str(found.id))

    row = _with_runtime(work)
    if json_output:
        print_json(row)
    else:
        for key, value in row.items():
            stdout.print(f"{key}: {'' if value is None else value}", highlight=False)


@exhibits_app.command("delete")
def delete(
    project: Annotated[str, typer.Argument(help="Project id or slug.")],
    exhibit: Annotated[str, typer.Argument(help="Exhibit id or label (E2).")],
    json_output: JsonOption = False,
) -> None:
    """Delete an exhibit: its vectors, its stored file and its record."""

    async def work(runtime: Runtime, db: Database, principal: Principal) -> dict[str, Any]:
        async with db.tenant_session(principal.tenant_id) as session:
            project_id = (await projects_service.resolve_or_raise(session, ref=project)).id
            found = await exhibits_service.resolve_or_raise(
                session, ref=exhibit, project_id=project_id
            )
            row = exhibit_row(found)
            await exhibits_service.delete(
                session,
                settings=runtime.settings,
                retrieval=runtime.retrieval_or_raise(),
                exhibit=found,
            )
        return {**row, "status": "deleted"}

    row = _with_runtime(work)
    if json_output:
        print_json(row)
    else:
        stdout.print(f"Deleted exhibit {row['filename']} ({row['id']})", highlight=False)


def search(project: str, query: str, *, limit: int, json_output: bool) -> None:
    """``jeex search``: ranked passages of a project's exhibits and documents."""

    async def work(runtime: Runtime, db: Database, principal: Principal) -> list[dict[str, Any]]:
        return await search_service.search(
            db, runtime.retrieval_or_raise(), principal, project, query, limit=limit
        )

    results = _with_runtime(work)
    if json_output:
        print_json(results)
        return
    if not results:
        stdout.print("No passages found.")
    for rank, hit in enumerate(results, 1):
        where = f" — {hit['location']}" if hit["location"] else ""
        stdout.print(
            f"[bold]{rank}. [{hit['label']}] {hit['title']}{where}[/] (score {hit['score']})"
        )
        stdout.print(hit["text"], highlight=False, markup=False)
        stdout.print()
