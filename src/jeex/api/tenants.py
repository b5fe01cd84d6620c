"""``/tenants``: the tenants I belong to, a new one (I become its owner), and a token
for another of mine, so switching needs no second sign-in."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, Field

from jeex.api.auth import token_out
from jeex.api.deps import ActorDep, PrincipalDep, SessionDep, StateDep, require_session_sign_in
from jeex.api.errors import responses
from jeex.auth.schemas import TokenOut
from jeex.errors import NotFound
from jeex.projects.schemas import NO_NUL
from jeex.tenants import members
from jeex.tenants import service as tenants_service
from jeex.vocabulary import Role

router = APIRouter(prefix="/tenants", tags=["tenants"])
TenantId = Annotated[uuid.UUID, Path(description="The tenant's id.")]
SIGNED_IN = [Depends(require_session_sign_in)]


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    slug: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
        description="Lowercase letters, digits and dashes; default: made from the name.",
    )


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    role: Role = Field(description="Your role in it.")
    current: bool = Field(description="The tenant these credentials act in.")


@router.get("", summary="The tenants I belong to", responses=responses(401, 403, 422))
async def list_tenants(session: SessionDep, principal: PrincipalDep) -> list[TenantOut]:
    """Every tenant you are a member of, with your role there (an API key sees its own
    tenant only: it is bound to it)."""
    mine = await members.my_tenants(session, user_id=principal.user_id)
    if principal.via != "token":
        mine = [t for t in mine if t.id == principal.tenant_id]
    return [
        TenantOut(
            id=t.id, slug=t.slug, name=t.name, role=t.role, current=t.id == principal.tenant_id
        )
        for t in mine
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a tenant",
    dependencies=SIGNED_IN,
    responses=responses(401, 403, 409, 413, 422),
)
async def create_tenant(state: StateDep, actor: ActorDep, body: TenantIn) -> TenantOut:
    """A new tenant with you as its owner; switch to it with ``POST /tenants/{id}/token``.
    A slug already taken is a 409."""
    tenant = await tenants_service.create_tenant(
        state.db, name=body.name, slug=body.slug, actor=actor
    )
    return TenantOut(id=tenant.id, slug=tenant.slug, name=tenant.name, role=Role.OWNER,
                     current=False)  # fmt: skip


@router.post(
    "/{tenant_id}/token",
    summary="Switch to another of my tenants",
    responses=responses(401, 403, 404, 422),
)
async def switch(
    state: StateDep, principal: PrincipalDep, session: SessionDep, tenant_id: TenantId
) -> TokenOut:
    """An access token for another tenant you belong to, without signing in again; a
    tenant you are not in is a 404, as if it did not exist. An API key switches nowhere."""
    mine = {t.id for t in await members.my_tenants(session, user_id=principal.user_id)}
    if principal.via != "token":
        mine &= {principal.tenant_id}
    if tenant_id not in mine:
        raise NotFound(f"no tenant {tenant_id} of yours")
    await require_session_sign_in(principal)
    version = await tenants_service.token_version(session, user_id=principal.user_id)
    return token_out(state, user_id=principal.user_id, tenant_id=tenant_id, version=version)
