"""``/members``: who is in this tenant; owners and admins change roles and remove
members; anyone may leave (except the last owner)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jeex.api.deps import ActorDep, PrincipalDep, SessionDep
from jeex.api.errors import responses
from jeex.tenants import members
from jeex.vocabulary import Role

router = APIRouter(prefix="/members", tags=["members"])
UserId = Annotated[uuid.UUID, Path(description="The member's user id.")]


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    joined_at: datetime


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="owner, admin, editor or viewer.")


@router.get("", summary="List the tenant's members", responses=responses(401, 403, 422))
async def list_members(session: SessionDep) -> list[MemberOut]:
    """Every member with their role; any member may see who else is in the tenant."""
    return [MemberOut.model_validate(m) for m in await members.list_(session)]


@router.patch(
    "/{user_id}",
    summary="Change a member's role",
    responses=responses(401, 403, 404, 409, 413, 422),
)
async def change_role(
    session: SessionDep, principal: PrincipalDep, actor: ActorDep, user_id: UserId, body: RoleIn
) -> MemberOut:
    """Owners change anyone; admins change admins, editors and viewers and grant at most
    admin. Demoting the last owner is a 409."""
    member = await members.change_role(
        session, caller_role=principal.role, actor=actor, user_id=user_id, role=body.role
    )
    return MemberOut.model_validate(member)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member, or leave",
    responses=responses(401, 403, 404, 409, 422),
)
async def remove_member(
    session: SessionDep, principal: PrincipalDep, actor: ActorDep, user_id: UserId
) -> Response:
    """Your own id: leave the tenant. Another's: owners and admins only (admins not an
    owner). Their API keys stop working with the membership. The last owner is a 409."""
    await members.remove(session, caller_role=principal.role, actor=actor, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
