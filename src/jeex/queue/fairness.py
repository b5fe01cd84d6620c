"""Fair sharing of worker slots between tenants (issue 21, part 3).

procrastinate hands out jobs by priority, then in arrival order, whoever queued them:
one tenant that queued ten runs, or one huge exhibit, held every slot while another
tenant's work waited behind it. Two rules share the slots instead:

- **Order.** A job's priority is minus the number of jobs its tenant already has waiting
  or executing on that queue, so another tenant's first job comes before a tenant's
  fifth (``priority_for``, used by every deferral).
- **Turns.** Runs are long, but they have natural stopping points: a run checks, before
  each section, whether another tenant's run has waited longer than
  ``JEEX_QUEUE_FAIR_SHARE_GRACE_SECONDS`` while that tenant executes fewer runs than this
  one; if so it hands its slot back (re-queued, its finished sections kept) and the
  waiting run starts (``should_yield``). With one slot and two tenants the runs take
  turns section by section; a tenant alone keeps every slot.

The tenant of a job is its ``tenant_id`` argument; procrastinate's tables have no
row-level security, and these statements read counts only.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LIVE_OF_TENANT = text(
    "select count(*) from procrastinate_jobs "
    "where queue_name = :queue and status in ('todo', 'doing') "
    "and args->>'tenant_id' = :tenant"
)

_SHOULD_YIELD = text(
    """
    with live as (
        select j.args->>'tenant_id' as tenant, j.status,
               coalesce(j.scheduled_at,
                        (select min(e.at) from procrastinate_events e where e.job_id = j.id))
                 as since
        from procrastinate_jobs j
        where j.queue_name = :queue and j.task_name = :task
          and j.status in ('todo', 'doing')
    ),
    executing as (
        select tenant, count(*) as n from live where status = 'doing' group by tenant
    )
    select exists (
        select 1 from live w
        left join executing e on e.tenant = w.tenant
        where w.status = 'todo' and w.tenant <> :tenant
          and w.since <= now() - make_interval(secs => :grace)
          and coalesce(e.n, 0) < (select n from executing where tenant = :tenant)
    )
    """
)


async def priority_for(session: AsyncSession, queue: str, tenant_id: str | None) -> int:
    """Minus the tenant's jobs already waiting or executing on ``queue`` (0 without one)."""
    if tenant_id is None:
        return 0
    count = await session.scalar(_LIVE_OF_TENANT, {"queue": queue, "tenant": tenant_id})
    return -int(count or 0)


async def should_yield(
    session: AsyncSession, *, queue: str, task: str, tenant_id: uuid.UUID, grace_seconds: float
) -> bool:
    """True when another tenant's ``task`` job has waited ``grace_seconds`` on ``queue``
    while that tenant executes fewer of them than this tenant does."""
    if grace_seconds <= 0:
        return False
    params = {"queue": queue, "task": task, "tenant": str(tenant_id), "grace": grace_seconds}
    return bool(await session.scalar(_SHOULD_YIELD, params))
