"""``/audit-events``: the tenant's security log, for owners and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from jeex.api.deps import Limit, Offset, PrincipalDep, SessionDep
from jeex.api.errors import responses
from jeex.audit import service as audit
from jeex.vocabulary import AuditAction

router = APIRouter(prefix="/audit-events", tags=["audit"])


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: AuditAction
    actor_email: str
    target: str
    detail: dict[str, Any]
    address: str
    created_at: datetime


@router.get("", summary="Read the security log", responses=responses(401, 403, 422))
async def list_events(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    offset: Offset = 0,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
) -> list[AuditEventOut]:
    """Newest first: sign-ins (and failures), invitations, role changes, API keys and quota
    refusals, with who, from which address and when. Owners and admins only (403)."""
    rows = await audit.list_(
        session, role=principal.role, limit=limit, offset=offset, action=action
    )
    return [AuditEventOut.model_validate(row) for row in rows]
