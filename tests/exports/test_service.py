"""The export service on real PostgreSQL: request, job, download, expiry, tenancy."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import Settings
from jeex.db.session import Database
from jeex.errors import (
    ExportExpired,
    ExportNotReady,
    InvalidInput,
    NotFound,
    NothingToExport,
    UnknownExportFormat,
)
from jeex.events import service as events_service
from jeex.exports import service as exports_service
from jeex.exports.models import Export
from jeex.exports.schemas import ExportCreate, ExportRead
from jeex.queue.app import RENDER_EXPORT
from jeex.tenants.service import Principal, ensure_principal
from support.exports import Doc, seed_committed, seed_project, standard_docs


async def other_principal(db: Database) -> Principal:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    return await ensure_principal(db, tenant_slug=slug, tenant_name=slug, email=f"{slug}@x.test")


async def ready_export(
    db: Database, settings: Settings, principal: Principal, export_format: str = "zip", **kw: object
) -> Export:
    project = await seed_committed(db, principal)
    async with db.tenant_session(principal.tenant_id) as session:
        export = await exports_service.create(
            session, project_id=project.id, format=export_format, enqueue=False, **kw
        )
    done = await exports_service.execute_export(
        db, settings, tenant_id=principal.tenant_id, export_id=export.id
    )
    assert done is not None
    return done


async def test_unknown_format_lists_the_formats(
    session: AsyncSession, principal: Principal
) -> None:
    project = await seed_project(session, principal)
    with pytest.raises(UnknownExportFormat) as caught:
        await exports_service.create(session, project_id=project.id, format="odt")
    assert caught.value.status_code == 422
    assert "zip, pdf, docx, xlsx, pptx" in caught.value.message


@pytest.mark.parametrize("hours", [0, 169, -1, True])
async def test_expiry_must_be_1_to_168_hours(
    session: AsyncSession, principal: Principal, hours: int
) -> None:
    project = await seed_project(session, principal)
    with pytest.raises(InvalidInput, match="expires_in_hours"):
        await exports_service.create(
            session, project_id=project.id, format="zip", expires_in_hours=hours
        )


async def test_a_project_without_documents_names_the_step(
    session: AsyncSession, principal: Principal
) -> None:
    project = await seed_project(session, principal, docs=[])
    with pytest.raises(NothingToExport) as caught:
        await exports_service.create(session, project_id=project.id, format="pdf")
    assert caught.value.status_code == 409
    assert "step 1" in caught.value.message


async def test_request_queues_one_job_in_the_same_transaction(
    session: AsyncSession, principal: Principal
) -> None:
    project = await seed_project(session, principal)
    export = await exports_service.create(
        session, project_id=project.id, format="PDF", expires_in_hours=2
    )
    assert (export.status, export.format) == ("pending", "pdf")
    jobs = (
        await session.execute(
            sa.text("select task_name, queue_name, args from procrastinate_jobs where lock = :l"),
            {"l": f"export:{export.id}"},
        )
    ).all()
    assert [(j.task_name, j.queue_name) for j in jobs] == [(RENDER_EXPORT, "exports")]
    assert jobs[0].args == {"tenant_id": str(principal.tenant_id), "export_id": str(export.id)}
    request = export.manifest["request"]
    assert request["expires_in_hours"] == 2
    assert len(request["document_ids"]) == 7


async def test_zip_export_end_to_end(
    db: Database, settings: Settings, principal: Principal
) -> None:
    before = exports_service.utcnow()
    export = await ready_export(db, settings, principal, "zip", expires_in_hours=3)
    assert export.status == "ready"
    assert export.expires_at is not None
    assert timedelta(hours=3) <= export.expires_at - before < timedelta(hours=3, minutes=5)
    assert export.path == f"exports/{principal.tenant_id}/{export.id}.zip"
    stored = settings.data_dir / export.path
    with zipfile.ZipFile(stored) as archive:
        manifest = json.loads(archive.read("family-lists/manifest.json"))
    assert manifest["files"] == export.manifest["files"]
    assert export.manifest["artifact"]["filename"] == "family-lists.zip"
    async with db.tenant_session(principal.tenant_id) as session:
        first = await exports_service.open_download(
            session, export_id=export.id, data_dir=settings.data_dir
        )
        second = await exports_service.open_download(
            session, export_id=export.id, data_dir=settings.data_dir
        )
        events = await events_service.list_after(session, project_id=export.project_id)
    assert (first.download_count, second.download_count) == (1, 2)
    assert first.path == stored
    assert first.media_type == "application/zip"
    assert first.size == stored.stat().st_size
    assert [e.type for e in events] == ["export.ready"]
    again = await exports_service.execute_export(
        db, settings, tenant_id=principal.tenant_id, export_id=export.id
    )
    assert again is None  # safe to run twice: a ready export is not rendered again


@pytest.mark.parametrize("export_format", ["pdf", "docx", "xlsx", "pptx"])
async def test_every_format_is_stored_and_served(
    db: Database, settings: Settings, principal: Principal, export_format: str
) -> None:
    export = await ready_export(db, settings, principal, export_format)
    assert export.status == "ready"
    async with db.tenant_session(principal.tenant_id) as session:
        download = await exports_service.open_download(
            session, export_id=export.id, data_dir=settings.data_dir
        )
    assert download.filename == f"family-lists.{export_format}"
    data = download.path.read_bytes()
    assert export.manifest["artifact"]["bytes"] == len(data)
    assert data[:4] in (b"%PDF", b"PK\x03\x04")


async def test_named_versions_replace_the_latest(
    db: Database, settings: Settings, principal: Principal
) -> None:
    docs = [
        *standard_docs(1),
        Doc("about", "# About v2\n\nNew text.\n", version=2, title="About v2"),
    ]
    project = await seed_committed(db, principal, docs)
    async with db.tenant_session(principal.tenant_id) as session:
        latest = await exports_service.create(
            session, project_id=project.id, format="zip", enqueue=False
        )
        pinned = await exports_service.create(
            session, project_id=project.id, format="zip", versions={"about": 1}, enqueue=False
        )
        with pytest.raises(InvalidInput, match="no version 9"):
            await exports_service.create(
                session, project_id=project.id, format="zip", versions={"about": 9}
            )
        with pytest.raises(InvalidInput, match="positive"):
            await exports_service.create(
                session, project_id=project.id, format="zip", versions={"about": 0}
            )
    contents = {}
    for export in (latest, pinned):
        done = await exports_service.execute_export(
            db, settings, tenant_id=principal.tenant_id, export_id=export.id
        )
        assert done is not None
        assert done.path is not None
        with zipfile.ZipFile(settings.data_dir / done.path) as archive:
            contents[export.id] = archive.read("family-lists/docs/about.md").decode()
    assert "# About v2" in contents[latest.id]
    assert "# About: Family Lists" in contents[pinned.id]


async def test_expiry_and_cleanup_with_a_controlled_clock(
    db: Database, settings: Settings, principal: Principal
) -> None:
    export = await ready_export(db, settings, principal, "zip", expires_in_hours=1)
    assert export.expires_at is not None
    assert export.path is not None
    stored = settings.data_dir / export.path
    just_before = export.expires_at - timedelta(seconds=1)
    after = export.expires_at + timedelta(seconds=1)
    assert await exports_service.cleanup_expired(db, settings, now=just_before) == 0
    async with db.tenant_session(principal.tenant_id) as session:
        await exports_service.open_download(
            session, export_id=export.id, data_dir=settings.data_dir, now=just_before
        )
        with pytest.raises(ExportExpired) as caught:
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir, now=after
            )
    assert caught.value.status_code == 410
    assert stored.exists()
    assert await exports_service.cleanup_expired(db, settings, now=after) >= 1
    assert not stored.exists()
    async with db.tenant_session(principal.tenant_id) as session:
        row = await exports_service.get_or_raise(session, export_id=export.id)
        assert (row.status, row.path, row.download_count) == ("expired", None, 1)
        with pytest.raises(ExportExpired):
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir
            )
    assert await exports_service.cleanup_expired(db, settings, now=after) == 0


async def test_a_missing_file_is_gone_not_a_crash(
    db: Database, settings: Settings, principal: Principal
) -> None:
    export = await ready_export(db, settings, principal, "zip")
    assert export.path is not None
    (settings.data_dir / export.path).unlink()
    async with db.tenant_session(principal.tenant_id) as session:
        with pytest.raises(ExportExpired, match="gone"):
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir
            )


async def test_another_tenants_export_is_not_found(
    db: Database, settings: Settings, principal: Principal
) -> None:
    export = await ready_export(db, settings, principal, "zip")
    stranger = await other_principal(db)
    async with db.tenant_session(stranger.tenant_id) as session:
        with pytest.raises(NotFound) as caught:
            await exports_service.get_or_raise(session, export_id=export.id)
        assert caught.value.status_code == 404
        with pytest.raises(NotFound):
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir
            )
        with pytest.raises(NotFound):
            await exports_service.create(session, project_id=export.project_id, format="zip")
        assert await exports_service.list_(session, project_id=export.project_id) == []
        rows = await session.execute(sa.text("select count(*) from exports where id = :i"),
                                     {"i": export.id})  # fmt: skip
        assert rows.scalar_one() == 0
    with pytest.raises(NotFound):
        async with db.tenant_session(principal.tenant_id) as session:
            await exports_service.get_or_raise(session, export_id="not-a-uuid")


async def test_a_failed_render_is_recorded_and_not_ready(
    db: Database, settings: Settings, principal: Principal
) -> None:
    broken = settings.model_copy(update={"export_pdf_timeout_seconds": 0.01})
    project = await seed_committed(db, principal)
    async with db.tenant_session(principal.tenant_id) as session:
        export = await exports_service.create(
            session, project_id=project.id, format="pdf", enqueue=False
        )
    with pytest.raises(Exception, match="longer than"):
        await exports_service.execute_export(
            db, broken, tenant_id=principal.tenant_id, export_id=export.id
        )
    async with db.tenant_session(principal.tenant_id) as session:
        row = await exports_service.get_or_raise(session, export_id=export.id)
        assert row.status == "failed"
        assert row.error is not None
        assert "longer than" in row.error
        with pytest.raises(ExportNotReady, match="failed") as caught:
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir
            )
    assert caught.value.status_code == 409
    assert not list(Path(settings.data_dir).rglob("*.pdf"))


async def test_pending_export_is_not_ready(session: AsyncSession, principal: Principal) -> None:
    project = await seed_project(session, principal)
    export = await exports_service.create(
        session, project_id=project.id, format="zip", enqueue=False
    )
    with pytest.raises(ExportNotReady, match="pending"):
        await exports_service.open_download(
            session, export_id=export.id, data_dir=Path("/nonexistent")
        )


async def test_read_schema_of_a_ready_export(
    db: Database, settings: Settings, principal: Principal
) -> None:
    export = await ready_export(db, settings, principal, "zip")
    read = ExportRead.of(export)
    assert (read.status, read.filename, read.download_count) == ("ready", "family-lists.zip", 0)
    assert read.bytes == export.manifest["artifact"]["bytes"]
    assert len(read.sha256 or "") == 64
    with pytest.raises(ValidationError):
        ExportCreate(format="pdf", expires_in_hours=169)
    assert ExportCreate(format="pdf").expires_in_hours == 24


async def test_cleanup_fails_exports_whose_job_never_finished(
    db: Database, settings: Settings, principal: Principal
) -> None:
    project = await seed_committed(db, principal)
    async with db.tenant_session(principal.tenant_id) as session:
        export = await exports_service.create(
            session, project_id=project.id, format="zip", enqueue=False
        )
        await session.refresh(export)
    created = export.updated_at
    await exports_service.cleanup_expired(
        db, settings, now=created + exports_service.STALE_AFTER - timedelta(seconds=1)
    )
    async with db.tenant_session(principal.tenant_id) as session:
        assert (
            await exports_service.get_or_raise(session, export_id=export.id)
        ).status == "pending"
    await exports_service.cleanup_expired(
        db, settings, now=created + exports_service.STALE_AFTER + timedelta(seconds=1)
    )
    async with db.tenant_session(principal.tenant_id) as session:
        row = await exports_service.get_or_raise(session, export_id=export.id)
        assert row.status == "failed"
        assert "did not finish" in (row.error or "")
        with pytest.raises(ExportNotReady, match="did not finish"):
            await exports_service.open_download(
                session, export_id=export.id, data_dir=settings.data_dir
            )
    assert (
        await exports_service.execute_export(
            db, settings, tenant_id=principal.tenant_id, export_id=export.id
        )
        is None
    )
