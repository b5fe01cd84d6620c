"""``projects:purge``: what a deleted project leaves outside its rows, removed.

Deleting a project (``jeex.projects.service.delete``) makes everything of it a 404 in
the same transaction that queues this job. The job removes what no transaction can:
exhibit files and their vectors, export files, the PDFs of its documents; and the
exhibit and export rows, whose storage the tenant's quota counts. It is safe to run
twice (a missing file is no error) and is retried with growing waits; a purge that
fails every attempt is logged as an error and counted in ``jeex_project_purge_failures``.
"""

from __future__ import annotations

import uuid

import structlog
from procrastinate import Blueprint, JobContext, RetryStrategy
from sqlalchemy import select

from jeex import metrics
from jeex.documents.models import DocumentVersion
from jeex.exhibits import service as exhibits_service
from jeex.exports import service as exports_service
from jeex.exports import storage
from jeex.monitor.service import pdf_path
from jeex.projects.models import Project
from jeex.queue.app import EXHIBITS_QUEUE
from jeex.tasks.deps import TaskDeps, deps_of

log = structlog.get_logger(__name__)

#: Attempts before a purge is given up (waits 2, 4, 8 … s: about 17 minutes in all).
PURGE_ATTEMPTS = 10

#: Registered by a worker under the namespace ``projects`` (``jeex.tasks.registry``).
blueprint = Blueprint()


@blueprint.task(
    name="purge",
    queue=EXHIBITS_QUEUE,
    pass_context=True,
    retry=RetryStrategy(max_attempts=PURGE_ATTEMPTS - 1, exponential_wait=2),
)
async def purge(
    context: JobContext, tenant_id: str, project_id: str, traceparent: str | None = None
) -> str:
    """Remove a deleted project's files, vectors, exhibit and export rows."""
    deps = deps_of(context)
    try:
        return await purge_project(deps, uuid.UUID(tenant_id), uuid.UUID(project_id))
    except Exception:
        if context.job.attempts + 1 >= PURGE_ATTEMPTS:
            metrics.PURGE_FAILURES.inc()
            log.exception("project purge failed for good", project_id=project_id)
        raise


async def purge_project(deps: TaskDeps, tenant_id: uuid.UUID, project_id: uuid.UUID) -> str:
    """The job's body; nothing happens to a project that is not (or no longer) deleted."""
    async with deps.db.tenant_session(tenant_id) as session:
        project = await session.scalar(select(Project).where(Project.id == project_id))
        if project is None or project.deleted_at is None:
            return "nothing to purge"
        await exhibits_service.delete_all(session, deps.settings, deps.retrieval, project)
        exports = await exports_service.remove_project(
            session, data_dir=deps.settings.data_dir, project_id=project_id
        )
        versions = await session.scalars(
            select(DocumentVersion).where(DocumentVersion.project_id == project_id)
        )
        pdfs = sum(storage.delete(deps.settings.data_dir, pdf_path(v)) for v in versions)
    log.info("deleted project purged", project_id=str(project_id), exports=exports, pdfs=pdfs)
    return f"purged: {exports} exports, {pdfs} PDFs"
