"""``/usage``: the caller's tenant's use against each quota, and the rate limits."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jeex.api.deps import SessionDep, StateDep
from jeex.api.errors import responses
from jeex.tenants import quotas

router = APIRouter(tags=["usage"])


class QuotaOut(BaseModel):
    quota: str = Field(description="tokens_per_day, tokens_per_month, cost_per_day, …")
    label: str
    used: int | float
    limit: int | float | None = Field(description="None: no limit.")
    remaining: int | float | None


class UsageOut(BaseModel):
    day_started: datetime = Field(description="Start of the UTC day the daily quotas count.")
    day_renews: datetime
    month_started: datetime
    month_renews: datetime
    quotas: list[QuotaOut]
    rate_limits: dict[str, str] = Field(
        description="Each rate limit (ip, user, project, signin_ip, signin_account), or off."
    )


@router.get("/usage", summary="Use against each quota", responses=responses(401, 403, 422))
async def usage(session: SessionDep, state: StateDep) -> UsageOut:
    """Tokens and cost this UTC day and month, runs at once and exhibit storage, each with
    the tenant's limit and what is left; and the rate limits every request meets."""
    settings = state.settings
    limits = await quotas.limits_of(session, settings)
    used = await quotas.usage_of(session, settings)
    day, tomorrow, month, next_month = quotas.periods()
    rows = quotas.as_rows(limits, used)
    return UsageOut(
        day_started=day,
        day_renews=tomorrow,
        month_started=month,
        month_renews=next_month,
        quotas=[QuotaOut.model_validate(row, from_attributes=True) for row in rows],
        rate_limits={
            scope: getattr(settings, f"rate_limit_{scope}")
            for scope in ("ip", "user", "project", "signin_ip", "signin_account")
        },
    )
