"""Exports: request, render (as a queue job), download, expire.

The life of an export row: ``pending`` (requested, job queued in the same transaction)
→ ``running`` → ``ready`` (file written, ``expires_at`` set) or ``failed`` (error kept);
a ready export becomes ``expired`` when the periodic cleanup deletes its file. Every
function takes a tenant session, so row-level security scopes it: another tenant's
export is simply not found (404, never 403). Functions that depend on the time take
``now`` so tests can move the clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import metrics
from jeex.config import Settings
from jeex.db.context import session_tenant
from jeex.db.retry import is_connection_lost
from jeex.db.session import Database
from jeex.errors import (
    AppError,
    ExportExpired,
    ExportNotReady,
    InvalidInput,
    NotFound,
    TryAgain,
    UnknownExportFormat,
)
from jeex.events import service as events_service
from jeex.exports import lifecycle, storage
from jeex.exports.bundle import ExportBundle, build_bundle, load_documents, resolve_documents
from jeex.exports.formats import BY_NAME, FORMATS, ExportFormat, get_format
from jeex.exports.models import Export
from jeex.exports.package import safe_slug
from jeex.exports.pdf import PdfRenderFailed
from jeex.exports.render import render
from jeex.projects import service as projects_service
from jeex.projects.models import Project
from jeex.queue.app import enqueue_export
from jeex.tenants import service as tenants_service
from jeex.vocabulary import EventType, ExportStatus

log = structlog.get_logger(__name__)

MIN_EXPIRES_HOURS = 1
MAX_EXPIRES_HOURS = 168
#: A render takes seconds; an export still unfinished after this long lost its job
#: (e.g. a poisoned job the reaper gave up on) and is failed by the cleanup.
STALE_AFTER = timedelta(hours=6)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Download:
    """What the HTTP layer streams: the file, the name to save it as, its media type."""

    path: Path
    filename: str
    media_type: str
    size: int
    download_count: int


def _check_format(export_format: str) -> str:
    found = get_format(export_format)
    if found is None:
        raise UnknownExportFormat(
            f"unknown export format {export_format!r}; use one of: {', '.join(FORMATS)}"
        )
    return found.name


def _check_hours(hours: int) -> int:
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise InvalidInput("expires_in_hours must be a whole number of hours")
    if not MIN_EXPIRES_HOURS <= hours <= MAX_EXPIRES_HOURS:
        raise InvalidInput(
            f"expires_in_hours must be between {MIN_EXPIRES_HOURS} and {MAX_EXPIRES_HOURS}, "
            f"got {hours}"
        )
    return hours


async def create(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    format: str,  # noqa: A002 - the API's own word
    versions: Mapping[str, int] | None = None,
    expires_in_hours: int = 24,
    created_by: uuid.UUID | None = None,
    enqueue: bool = True,
) -> Export:
    """A pending export of the chosen documents, its job queued in the caller's transaction.

    ``enqueue=False`` is for callers that render in-process (``jeex export``).
    """
    export_format = _check_format(format)
    hours = _check_hours(expires_in_hours)
    project = await projects_service.get_or_raise(session, project_id=project_id)
    documents = await resolve_documents(session, project=project, versions=versions)
    export = Export(
        id=uuid.uuid4(),
        tenant_id=session_tenant(session),
        project_id=project.id,
        format=export_format,
        status=ExportStatus.PENDING,
        manifest={
            "request": {
                "document_ids": [str(d.id) for d in documents],
                "versions": dict(versions or {}),
                "expires_in_hours": hours,
            }
        },
        created_by=created_by,
    )
    session.add(export)
    await session.flush()
    if enqueue:
        await enqueue_export(session, export.id)
    return export


async def get(session: AsyncSession, *, export_id: uuid.UUID) -> Export | None:
    # RLS already limits rows to the session's tenant; the filter keeps the index use obvious.
    # An export of a deleted project is gone with it (its file goes with the purge job).
    statement = (
        select(Export)
        .join(Project, (Project.tenant_id == Export.tenant_id) & (Project.id == Export.project_id))
        .where(
            Export.tenant_id == session_tenant(session),
            Export.id == export_id,
            Project.deleted_at.is_(None),
        )
    )
    return (await session.scalars(statement)).one_or_none()


async def get_or_raise(session: AsyncSession, *, export_id: uuid.UUID | str) -> Export:
    """The export, or NotFound: also for another tenant's id and for ids that are not ids."""
    try:
        key = export_id if isinstance(export_id, uuid.UUID) else uuid.UUID(str(export_id))
    except ValueError:
        raise NotFound(f"no export {export_id!r}") from None
    export = await get(session, export_id=key)
    if export is None:
        raise NotFound(f"no export {export_id!r}")
    return export


async def list_(session: AsyncSession, *, project_id: uuid.UUID) -> list[Export]:
    statement = (
        select(Export).where(Export.project_id == project_id).order_by(Export.created_at.desc())
    )
    return list((await session.scalars(statement)).all())


def is_expired(export: Export, now: datetime) -> bool:
    if export.status == ExportStatus.EXPIRED:
        return True
    return (
        export.status == ExportStatus.READY
        and export.expires_at is not None
        and export.expires_at <= now
    )


def download_name(export: Export) -> str:
    """``<project-slug>.<ext>``: a safe name whatever the project is called."""
    artifact = export.manifest.get("artifact", {})
    return str(artifact.get("filename") or f"export-{export.id}.{export.format}")


async def open_download(
    session: AsyncSession,
    *,
    export_id: uuid.UUID | str,
    data_dir: Path,
    now: datetime | None = None,
) -> Download:
    """Count a download and say which file to stream; expired is 410, unfinished 409."""
    export = await get_or_raise(session, export_id=export_id)
    await session.refresh(export, with_for_update=True)
    moment = now or utcnow()
    if is_expired(export, moment):
        raise ExportExpired(f"export {export.id} expired; request a new one")
    if export.status != ExportStatus.READY or export.path is None:
        failed = export.status == ExportStatus.FAILED
        detail = f": {export.error}" if failed and export.error else ""
        raise ExportNotReady(f"export {export.id} is {export.status}{detail}")
    path = storage.absolute(data_dir, export.path)
    if not path.is_file():
        raise ExportExpired(f"the file of export {export.id} is gone; request a new one")
    export.download_count += 1
    await session.flush()
    return Download(
        path=path,
        filename=download_name(export),
        media_type=BY_NAME[export.format].media_type,
        size=path.stat().st_size,
        download_count=export.download_count,
    )


async def _start(
    db: Database, tenant_id: uuid.UUID, export_id: uuid.UUID
) -> tuple[ExportBundle, ExportFormat] | None:
    """Mark running and load what to render; None when there is nothing (left) to do."""
    async with db.tenant_session(tenant_id) as session:
        export = await get(session, export_id=export_id)
        if export is None or export.status not in lifecycle.UNFINISHED:
            return None
        lifecycle.move(export, ExportStatus.RUNNING)
        project = await projects_service.get_or_raise(session, project_id=export.project_id)
        ids = export.manifest.get("request", {}).get("document_ids", [])
        documents = await load_documents(session, project_id=project.id, document_ids=ids)
        return build_bundle(project, documents), BY_NAME[export.format]


async def _finish(
    db: Database,
    tenant_id: uuid.UUID,
    export_id: uuid.UUID,
    *,
    path: str,
    made_of: dict[str, Any],
    now: datetime,
) -> Export:
    async with db.tenant_session(tenant_id) as session:
        export = await get_or_raise(session, export_id=export_id)
        hours = int(export.manifest.get("request", {}).get("expires_in_hours", 24))
        lifecycle.move(
            export,
            ExportStatus.READY,
            path=path,
            error=None,
            expires_at=now + timedelta(hours=hours),
            manifest={**export.manifest, **made_of},
        )
        await events_service.append(
            session,
            project_id=export.project_id,
            type=EventType.EXPORT_READY,
            data={"export_id": str(export.id), "format": export.format},
        )
        return export


async def _fail(db: Database, tenant_id: uuid.UUID, export_id: uuid.UUID, error: str) -> None:
    async with db.tenant_session(tenant_id) as session:
        export = await get(session, export_id=export_id)
        if export is not None and export.status in lifecycle.UNFINISHED:
            lifecycle.move(export, ExportStatus.FAILED, error=error[:2000])


def _transient(exc: Exception) -> bool:
    """A failure a second try may not meet: not the input's fault."""
    if isinstance(exc, PdfRenderFailed):
        return exc.transient
    return is_connection_lost(exc)


async def _note(db: Database, tenant_id: uuid.UUID, export_id: uuid.UUID, error: str) -> None:
    """Keep the reason of a failed attempt on the (still running) export."""
    async with db.tenant_session(tenant_id) as session:
        export = await get(session, export_id=export_id)
        if export is not None and export.status in lifecycle.UNFINISHED:
            export.error = error[:2000]


async def execute_export(
    db: Database,
    settings: Settings,
    *,
    tenant_id: uuid.UUID,
    export_id: uuid.UUID,
    now: datetime | None = None,
    last_attempt: bool = True,
) -> Export | None:
    """The job body: render, store the file, mark ready. Safe to run twice.

    No transaction is held while rendering (a PDF can take seconds). A failure that a
    second try may not meet (the PDF child timed out or was killed, the database
    connection was lost) raises ``TryAgain`` unless this is the ``last_attempt``, leaving
    the export running with the reason; any other failure, or the last attempt's, marks
    it failed with a readable reason: the input will not change.
    """
    started = await _start(db, tenant_id, export_id)
    if started is None:
        return None
    bundle, export_format = started
    clock = time.perf_counter()
    try:
        rendered = await render(bundle, export_format.name, settings)
        path = storage.relative_path(tenant_id, export_id, export_format.extension)
        storage.write(settings.data_dir, path, rendered.data)
    except Exception as exc:
        metrics.EXPORT_SECONDS.labels(export_format.name, "failed").observe(
            time.perf_counter() - clock
        )
        message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        if _transient(exc) and not last_attempt:
            log.warning("export attempt failed; trying again", export_id=str(export_id),
                        error=message)  # fmt: skip
            await _note(db, tenant_id, export_id, f"{message}; trying again")
            raise TryAgain(message) from exc
        log.warning("export failed", export_id=str(export_id), error=message)
        await _fail(db, tenant_id, export_id, message)
        raise
    metrics.EXPORT_SECONDS.labels(export_format.name, "ready").observe(time.perf_counter() - clock)
    artifact = {
        "filename": f"{safe_slug(bundle.project.slug, 'project')}.{export_format.extension}",
        "bytes": len(rendered.data),
        "sha256": rendered.sha256,
        "media_type": export_format.media_type,
    }
    made_of = {**rendered.manifest, "artifact": artifact}
    return await _finish(db, tenant_id, export_id, path=path, made_of=made_of, now=now or utcnow())


async def expire_due(session: AsyncSession, *, data_dir: Path, now: datetime) -> int:
    """Delete the files of this tenant's exports past their expiry; mark the rows expired."""
    statement = (
        select(Export)
        .where(Export.status == ExportStatus.READY, Export.expires_at <= now)
        .with_for_update(skip_locked=True)
    )
    expired = 0
    for export in (await session.scalars(statement)).all():
        if export.path is not None:
            storage.delete(data_dir, export.path)
        lifecycle.move(export, ExportStatus.EXPIRED, path=None)
        expired += 1
    await session.flush()
    return expired


async def remove_project(session: AsyncSession, *, data_dir: Path, project_id: uuid.UUID) -> int:
    """A deleted project's exports: their files, then their rows (the purge job).

    A file already gone is no error: a purge retried after a partial attempt goes on."""
    exports = (await session.scalars(select(Export).where(Export.project_id == project_id))).all()
    for export in exports:
        if export.path is not None:
            storage.delete(data_dir, export.path)
        await session.delete(export)
    await session.flush()
    return len(exports)


async def fail_stale(session: AsyncSession, *, now: datetime) -> int:
    """Pending or running exports untouched for ``STALE_AFTER`` will never finish: say so."""
    statement = (
        select(Export)
        .where(Export.status.in_(lifecycle.UNFINISHED), Export.updated_at <= now - STALE_AFTER)
        .with_for_update(skip_locked=True)
    )
    stale = list((await session.scalars(statement)).all())
    for export in stale:
        lifecycle.move(
            export,
            ExportStatus.FAILED,
            error="the export job did not finish; request a new export",
        )
    await session.flush()
    return len(stale)


async def cleanup_expired(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """The periodic task's body: every tenant, each in its own transaction (RLS)."""
    moment = now or utcnow()
    async with db.global_session() as session:
        tenant_ids = await tenants_service.list_tenant_ids(session)
    total = 0
    for tenant_id in tenant_ids:
        async with db.tenant_session(tenant_id) as session:
            total += await expire_due(session, data_dir=settings.data_dir, now=moment)
            await fail_stale(session, now=moment)
    if total:
        log.info("expired exports cleaned up", count=total)
    return total
