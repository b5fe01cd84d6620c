"""Resume the runs a spent budget paused, once their tenant's budget allows again.

A run that crosses its tenant's token or cost budget pauses before its next section with
``paused_by = budget`` (``jeex.engine.sections``). Every worker looks for such runs every
``JEEX_QUOTA_RESUME_SECONDS``: tenant by tenant, under each tenant's row-level security,
it re-checks the tenant's budget and run slots (``quotas.check_run``) and re-queues the
runs it may, oldest first. A person's pause is never undone here.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog
from sqlalchemy import select

from jeex.config import Settings
from jeex.db.session import Database
from jeex.errors import QuotaExceeded
from jeex.runs import lifecycle
from jeex.runs.models import Run
from jeex.tenants import quotas
from jeex.tenants import service as tenants_service
from jeex.vocabulary import RunStatus

log = structlog.get_logger(__name__)


async def resume_within_budget(db: Database, settings: Settings) -> list[uuid.UUID]:
    """One sweep over every tenant; returns the runs it re-queued."""
    async with db.global_session() as session:
        tenant_ids = await tenants_service.list_tenant_ids(session)
    resumed: list[uuid.UUID] = []
    for tenant_id in tenant_ids:
        async with db.tenant_session(tenant_id) as session:
            waiting = (
                await session.scalars(
                    select(Run.id)
                    .where(Run.status == RunStatus.PAUSED, Run.paused_by == "budget")
                    .order_by(Run.created_at)
                )
            ).all()
        for run_id in waiting:
            try:
                async with db.tenant_session(tenant_id) as session:
                    await quotas.check_run(session, settings, count=False)
                    await lifecycle.resume(session, run_id=run_id)
            except QuotaExceeded:
                break  # this tenant's budget or slots still do not allow it: next tenant
            resumed.append(run_id)
            log.info("budget allows again: run resumed", run_id=str(run_id))
    return resumed


async def resume_forever(db: Database, settings: Settings) -> None:
    """The worker's side task; a failed sweep is logged and the next one runs all the same."""
    while True:
        await asyncio.sleep(settings.quota_resume_seconds)
        try:
            await resume_within_budget(db, settings)
        except Exception as exc:  # seen in the log; the next sweep still runs
            log.error("budget sweep failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
