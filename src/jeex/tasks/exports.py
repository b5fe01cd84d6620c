"""Queue tasks of exports: ``exports:render`` and the periodic ``exports:cleanup``.

Both take only ids (and the tenant) and are safe to run twice: a rendered export is
not rendered again, an expired one is not expired again.
"""

from __future__ import annotations

import uuid

from procrastinate import Blueprint, JobContext

from jeex import tracing
from jeex.exports import service as exports_service
from jeex.queue.app import CLEANUP_EXPORTS, EXPORTS_QUEUE, RENDER_EXPORT
from jeex.tasks.deps import TRY_AGAIN, deps_of, last_attempt

CLEANUP_CRON = "*/5 * * * *"


#: Registered by a worker under the namespace ``exports`` (``jeex.tasks.registry``).
blueprint = Blueprint()


@blueprint.task(name="render", queue=EXPORTS_QUEUE, pass_context=True, retry=TRY_AGAIN)
async def render_export(
    context: JobContext, tenant_id: str, export_id: str, traceparent: str | None = None
) -> str:
    """Render one export with the worker's database and settings; a transient failure is
    tried again (``TRY_AGAIN``), the last attempt's reason is kept."""
    deps = deps_of(context)
    with tracing.job_span(RENDER_EXPORT, traceparent, **{"jeex.export_id": export_id}):
        export = await exports_service.execute_export(
            deps.db,
            deps.settings,
            tenant_id=uuid.UUID(tenant_id),
            export_id=uuid.UUID(export_id),
            last_attempt=last_attempt(context),
        )
    return "skipped" if export is None else export.status


@blueprint.periodic(cron=CLEANUP_CRON, periodic_id=CLEANUP_EXPORTS)
@blueprint.task(name="cleanup", queue=EXPORTS_QUEUE, pass_context=True)
async def cleanup_exports(context: JobContext, timestamp: int) -> str:
    """Delete expired export files and mark their rows expired, for every tenant."""
    deps = deps_of(context)
    count = await exports_service.cleanup_expired(deps.db, deps.settings)
    return f"expired {count} exports"
