"""``exports:render`` on a real procrastinate worker, and the periodic cleanup's registration."""

from __future__ import annotations

import asyncio
from typing import Any

import psutil
from sqlalchemy import text

from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.exports import service as exports_service
from jeex.llm.client import LLMClient
from jeex.queue.app import CLEANUP_EXPORTS, EXPORTS_QUEUE, app
from jeex.tasks import exports as export_tasks
from jeex.tasks import registry
from jeex.tasks.deps import JOB_ATTEMPTS
from jeex.tenants.service import Principal
from jeex.worker import QueueWorker
from support.exports import seed_committed
from support.workers import serve_until


async def test_a_worker_renders_a_requested_export(
    db: Database,
    settings: Settings,
    principal: Principal,
    llm: LLMClient,
    database_urls: DatabaseUrls,
    empty_queue: None,
) -> None:
    project = await seed_committed(db, principal)
    async with db.tenant_session(principal.tenant_id) as session:
        export = await exports_service.create(session, project_id=project.id, format="xlsx")
    fast = settings.model_copy(update={"queue_poll_seconds": 0.2})
    worker = QueueWorker(fast, app_url=database_urls.app, llm=llm, queues=[EXPORTS_QUEUE])
    serving = asyncio.create_task(worker.run())
    try:
        for _ in range(150):
            async with db.tenant_session(principal.tenant_id) as session:
                row = await exports_service.get_or_raise(session, export_id=export.id)
            if row.status in ("ready", "failed"):
                break
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
        await asyncio.wait_for(serving, 30)
    assert row.status == "ready", row.error
    assert row.path is not None
    assert (settings.data_dir / row.path).read_bytes()[:2] == b"PK"


def test_cleanup_is_a_periodic_task_on_the_exports_queue() -> None:
    registry.register(app)
    periodic = [p for p in app.periodic_registry.periodic_tasks.values()
                if p.task.name == CLEANUP_EXPORTS]  # fmt: skip
    assert len(periodic) == 1
    assert periodic[0].cron == export_tasks.CLEANUP_CRON
    assert periodic[0].task.queue == EXPORTS_QUEUE


async def _render_with_worker(
    db: Database,
    settings: Settings,
    principal: Principal,
    database_urls: DatabaseUrls,
    llm: LLMClient,
    *,
    kill_first_renderer: bool = False,
) -> tuple[Any, int]:
    """A PDF export rendered by a real worker (a child killed once, if asked); returns the
    export and how many times its job was executed (procrastinate's ``attempts``)."""
    project = await seed_committed(db, principal)
    async with db.tenant_session(principal.tenant_id) as session:
        export = await exports_service.create(session, project_id=project.id, format="pdf")
    killed = False
    row: Any = None

    async def finished() -> bool:
        nonlocal killed, row
        if kill_first_renderer and not killed:
            for child in psutil.Process().children(recursive=True):
                if "jeex.exports.pdf_sandbox" in " ".join(child.cmdline()):
                    child.kill()
                    killed = True
        async with db.tenant_session(principal.tenant_id) as session:
            row = await exports_service.get_or_raise(session, export_id=export.id)
        return row.status in ("ready", "failed")

    assert await serve_until(settings, database_urls.app, finished, queues=[EXPORTS_QUEUE],
                             llm=llm, timeout=60, every=0.05)  # fmt: skip
    assert killed == kill_first_renderer
    async with db.global_session() as session:
        attempts = await session.scalar(
            text("select attempts from procrastinate_jobs where lock = :lock"),
            {"lock": f"export:{export.id}"},
        )
    return row, int(attempts or 0)


async def test_a_killed_pdf_renderer_is_tried_again_and_the_export_is_ready(
    db: Database,
    settings: Settings,
    principal: Principal,
    llm: LLMClient,
    database_urls: DatabaseUrls,
    empty_queue: None,
) -> None:
    row, attempts = await _render_with_worker(
        db, settings, principal, database_urls, llm, kill_first_renderer=True
    )
    assert row.status == "ready", row.error
    assert row.error is None
    assert attempts == 2
    assert (settings.data_dir / row.path).read_bytes()[:4] == b"%PDF"


async def test_a_renderer_that_keeps_timing_out_fails_after_three_attempts_with_its_reason(
    db: Database,
    settings: Settings,
    principal: Principal,
    llm: LLMClient,
    database_urls: DatabaseUrls,
    empty_queue: None,
) -> None:
    hurried = settings.model_copy(update={"export_pdf_timeout_seconds": 0.05})
    row, attempts = await _render_with_worker(db, hurried, principal, database_urls, llm)
    assert row.status == "failed"
    assert row.error == "the PDF renderer took longer than 0.05 s"
    assert attempts == JOB_ATTEMPTS
