"""``exhibits.process``: extract, chunk, embed and index one exhibit on a worker.

The job runs in the process that owns the vector store (the worker), since local
Qdrant lets one process open its folder. It is safe to run twice: an exhibit that
is no longer ``pending`` is left as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from procrastinate import JobContext

from jeex.config import Settings
from jeex.db.session import Database
from jeex.exhibits import service
from jeex.queue.app import EXHIBITS_QUEUE, PROCESS_EXHIBIT, app
from jeex.retrieval.service import Retrieval


@dataclass(frozen=True)
class ExhibitDeps:
    """What processing an exhibit needs from the worker process."""

    db: Database
    settings: Settings
    retrieval: Retrieval


@app.task(name=PROCESS_EXHIBIT, queue=EXHIBITS_QUEUE, pass_context=True)
async def process(context: JobContext, tenant_id: str, exhibit_id: str) -> str:
    """Process one exhibit with the worker's embedder and vector store."""
    deps: ExhibitDeps = context.additional_context["exhibits"]
    return await service.process(
        deps.db,
        deps.settings,
        deps.retrieval,
        tenant_id=uuid.UUID(tenant_id),
        exhibit_id=uuid.UUID(exhibit_id),
    )
