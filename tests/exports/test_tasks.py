"""``exports:render`` on a real procrastinate worker, and the periodic cleanup's registration."""

from __future__ import annotations

import asyncio

from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.exports import service as exports_service
from jeex.llm.client import LLMClient
from jeex.queue.app import CLEANUP_EXPORTS, EXPORTS_QUEUE, app
from jeex.tasks import exports as export_tasks
from jeex.tasks import registry
from jeex.tenants.service import Principal
from jeex.worker import QueueWorker
from support.exports import seed_committed


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
