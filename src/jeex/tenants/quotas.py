"""Tenant quotas and budgets: what a tenant may use, what it used, and the refusals.

Seven limits per tenant: LLM tokens and cost per UTC day and per UTC month, runs at once,
exhibit storage and indexed exhibit passages. Each is the tenant's own (``tenant_quotas``,
set by an operator with ``jeex tenants quota``) or the installation's default
(``JEEX_QUOTA_*``); unset is no limit. Tokens and cost are those of the runs started in
the day or month, as their sections are written, so a run in progress counts as it goes.

Refusals name the quota, the use and the limit: a step cannot start while a budget is
spent or all run slots are taken, an exhibit cannot push storage over its limit, and a
run that spends the budget mid-way pauses before its next section (``paused_by =
budget``); the workers resume it once the budget allows again (the next day or month, or
a raised limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import metrics
from jeex.config import Settings
from jeex.db.context import session_tenant
from jeex.errors import QuotaExceeded
from jeex.exhibits.models import Exhibit
from jeex.runs.models import Run
from jeex.tenants.models import TenantQuota
from jeex.vocabulary import RunStatus

FIELDS = (
    "tokens_per_day",
    "tokens_per_month",
    "cost_per_day",
    "cost_per_month",
    "concurrent_runs",
    "exhibit_bytes",
    "exhibit_passages",
)
#: How each quota reads in a refusal.
LABELS = {
    "tokens_per_day": "LLM tokens per day",
    "tokens_per_month": "LLM tokens per month",
    "cost_per_day": "LLM cost per day",
    "cost_per_month": "LLM cost per month",
    "concurrent_runs": "runs at once",
    "exhibit_bytes": "exhibit storage (bytes)",
    "exhibit_passages": "indexed exhibit passages",
}
BUDGETS = ("tokens_per_day", "tokens_per_month", "cost_per_day", "cost_per_month")
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


@dataclass(frozen=True)
class Limits:
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    cost_per_day: Decimal | None = None
    cost_per_month: Decimal | None = None
    concurrent_runs: int | None = None
    exhibit_bytes: int | None = None
    exhibit_passages: int | None = None

    def of(self, name: str) -> int | Decimal | None:
        value: int | Decimal | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class Usage:
    tokens_per_day: int
    tokens_per_month: int
    cost_per_day: Decimal
    cost_per_month: Decimal
    concurrent_runs: int
    exhibit_bytes: int
    exhibit_passages: int

    def of(self, name: str) -> int | Decimal:
        value: int | Decimal = getattr(self, name)
        return value


def periods(now: datetime | None = None) -> tuple[datetime, datetime, datetime, datetime]:
    """Start of this UTC day, start of tomorrow, start of this month, start of the next."""
    now = now or datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return day, day + timedelta(days=1), month, next_month


async def get_override(session: AsyncSession) -> TenantQuota | None:
    return await session.get(TenantQuota, session_tenant(session))


async def limits_of(session: AsyncSession, settings: Settings) -> Limits:
    """The session's tenant's limits: its own where set, else the installation's."""
    own = await get_override(session)
    values = {}
    for name in FIELDS:
        mine = getattr(own, name) if own is not None else None
        values[name] = mine if mine is not None else getattr(settings, f"quota_{name}")
    return Limits(**values)


async def usage_of(session: AsyncSession, settings: Settings) -> Usage:
    """What the session's tenant used in this day and month, and holds right now."""
    day, _, month, _ = periods()
    tokens = Run.tokens_in + Run.tokens_out
    since_month = select(
        func.coalesce(func.sum(tokens).filter(Run.created_at >= day), 0),
        func.coalesce(func.sum(tokens), 0),
        func.coalesce(func.sum(Run.cost).filter(Run.created_at >= day), 0),
        func.coalesce(func.sum(Run.cost), 0),
    ).where(Run.created_at >= month)
    today_tokens, month_tokens, today_cost, month_cost = (await session.execute(since_month)).one()
    active = await session.scalar(
        select(func.count()).select_from(Run).where(Run.status.in_(ACTIVE))
    )
    stored, passages = (
        await session.execute(
            select(
                func.coalesce(func.sum(Exhibit.size), 0),
                func.coalesce(func.sum(Exhibit.passages_indexed), 0),
            )
        )
    ).one()
    return Usage(
        tokens_per_day=int(today_tokens),
        tokens_per_month=int(month_tokens),
        cost_per_day=Decimal(today_cost),
        cost_per_month=Decimal(month_cost),
        concurrent_runs=int(active or 0),
        exhibit_bytes=int(stored or 0),
        exhibit_passages=int(passages or 0),
    )


def spent_budget(limits: Limits, usage: Usage) -> str | None:
    """The first token or cost budget that is used up, or None."""
    for name in BUDGETS:
        limit = limits.of(name)
        if limit is not None and usage.of(name) >= limit:
            return name
    return None


def _refusal(
    name: str, used: int | Decimal, limit: int | Decimal, what: str, *, count: bool = True
) -> QuotaExceeded:
    if count:
        metrics.QUOTA_REFUSED.labels(name).inc()
    day, tomorrow, _, next_month = periods()
    resets = ""
    if name in BUDGETS:
        at = tomorrow if name.endswith("day") else next_month
        resets = f"; it renews at {at:%Y-%m-%d %H:%M} UTC"
        seconds = max(1, int((at - datetime.now(UTC)).total_seconds()))
        return QuotaExceeded(
            f"{what}: the tenant's quota of {LABELS[name]} is used up ({used} of {limit}){resets}",
            headers={"Retry-After": str(seconds)},
        )
    return QuotaExceeded(f"{what}: the tenant's quota of {LABELS[name]} is {limit} ({used} now)")


async def check_run(session: AsyncSession, settings: Settings, *, count: bool = True) -> None:
    """Before a run is queued (a new step, a resume, a retry): a free slot and budget left.
    One tenant's starts take turns (a transaction lock), so two at once cannot both take
    the last slot."""
    key = f"jeex-quota:{session_tenant(session)}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    limits, usage = await limits_of(session, settings), await usage_of(session, settings)
    slots = limits.concurrent_runs
    if slots is not None and usage.concurrent_runs >= slots:
        raise _refusal(
            "concurrent_runs",
            usage.concurrent_runs,
            slots,
            "cannot start another run now",
            count=count,
        )
    spent = spent_budget(limits, usage)
    if spent is not None:
        limit = limits.of(spent) or 0
        raise _refusal(spent, usage.of(spent), limit, "cannot start a run", count=count)


async def check_exhibit(session: AsyncSession, settings: Settings, *, adding: int) -> None:
    """Before an exhibit of ``adding`` bytes is kept: storage left for it, and room for at
    least one more indexed passage."""
    limits = await limits_of(session, settings)
    if limits.exhibit_bytes is None and limits.exhibit_passages is None:
        return
    usage = await usage_of(session, settings)
    if limits.exhibit_bytes is not None and usage.exhibit_bytes + adding > limits.exhibit_bytes:
        raise _refusal(
            "exhibit_bytes", usage.exhibit_bytes + adding, limits.exhibit_bytes,
            "cannot keep this exhibit",
        )  # fmt: skip
    passages = limits.exhibit_passages
    if passages is not None and usage.exhibit_passages >= passages:
        used = usage.exhibit_passages
        raise _refusal("exhibit_passages", used, passages, "cannot index another exhibit")


async def passages_left(session: AsyncSession, settings: Settings) -> int | None:
    """Passages the tenant's exhibits may still put in the vector store (None: no limit)."""
    limit = (await limits_of(session, settings)).exhibit_passages
    if limit is None:
        return None
    return max(0, limit - (await usage_of(session, settings)).exhibit_passages)


async def budget_left(session: AsyncSession, settings: Settings) -> str | None:
    """None while the tenant may go on spending; else the spent budget's name (counted)."""
    spent = spent_budget(await limits_of(session, settings), await usage_of(session, settings))
    if spent is not None:
        metrics.QUOTA_REFUSED.labels(spent).inc()
    return spent


@dataclass(frozen=True)
class QuotaRow:
    """One quota as ``/usage`` shows it; None as a limit is no limit."""

    quota: str
    label: str
    used: int | float
    limit: int | float | None
    remaining: int | float | None


def _plain(value: int | Decimal | None) -> int | float | None:
    return float(value) if isinstance(value, Decimal) else value


def as_rows(limits: Limits, usage: Usage) -> list[QuotaRow]:
    rows = []
    for name in FIELDS:
        used, limit = usage.of(name), limits.of(name)
        remaining = None if limit is None else max(limit - used, 0)
        rows.append(
            QuotaRow(name, LABELS[name], _plain(used) or 0, _plain(limit), _plain(remaining))
        )
    return rows


async def set_override(session: AsyncSession, *, values: dict[str, int | Decimal | None]) -> None:
    """An operator's limits for the session's tenant (None: back to the default)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"no such quota: {', '.join(sorted(unknown))}")
    row = await get_override(session)
    if row is None:
        row = TenantQuota(tenant_id=session_tenant(session))
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    await session.flush()
