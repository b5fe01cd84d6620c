"""``exhibits:process``: extract, chunk, embed and index one exhibit on a worker.

The job runs in the process that owns the vector store (the worker), since local
Qdrant lets one process open its folder. It is safe to run twice: an exhibit that
is no longer ``pending`` is left as it is.
"""

from __future__ import annotations

import uuid

from procrastinate import Blueprint, JobContext

from jeex import tracing
from jeex.exhibits import service
from jeex.queue.app import EXHIBITS_QUEUE, PROCESS_EXHIBIT
from jeex.tasks.deps import TRY_AGAIN, deps_of, last_attempt

#: Registered by a worker under the namespace ``exhibits`` (``jeex.tasks.registry``).
blueprint = Blueprint()


@blueprint.task(name="process", queue=EXHIBITS_QUEUE, pass_context=True, retry=TRY_AGAIN)
async def process(
    context: JobContext, tenant_id: str, exhibit_id: str, traceparent: str | None = None
) -> str:
    """Process one exhibit with the worker's embedder and vector store; a transient
    failure is tried again (``TRY_AGAIN``), the last attempt's reason is kept."""
    deps = deps_of(context)
    with tracing.job_span(PROCESS_EXHIBIT, traceparent, **{"jeex.exhibit_id": exhibit_id}):
        return await service.process(
            deps.db,
            deps.settings,
            deps.retrieval_or_raise(),
            tenant_id=uuid.UUID(tenant_id),
            exhibit_id=uuid.UUID(exhibit_id),
            last_attempt=last_attempt(context),
        )
