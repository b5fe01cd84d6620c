"""``/api-keys``: create (the secret shown once), list and revoke API keys in the browser or
by script, each acting with a role no higher than its creator's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jeex.api.deps import ActorDep, PrincipalDep, SessionDep
from jeex.api.errors import responses
from jeex.auth import service as auth_service
from jeex.projects.schemas import NO_NUL
from jeex.typed_text import CleanText
from jeex.vocabulary import Role

router = APIRouter(prefix="/api-keys", tags=["api keys"])
KeyId = Annotated[uuid.UUID, Path(description="The key's id.")]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: CleanText = Field(default="", max_length=200, pattern=NO_NUL, description="A label.")
    role: Role | None = Field(
        default=None, description="What the key may do; default and ceiling: your role."
    )


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    prefix: str = Field(description="The key's visible start, to tell keys apart.")
    name: str
    role: str
    created_by: str = Field(description="The email of the member whose key it is.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The whole key: shown this once, stored only as a hash.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    responses=responses(401, 403, 413, 422),
)
async def create_key(
    session: SessionDep, principal: PrincipalDep, actor: ActorDep, body: KeyIn | None = None
) -> NewKeyOut:
    """A key of yours in this tenant, sent as ``Authorization: Bearer <key>``. Only a
    signed-in session (not another key) creates keys; a role above yours is a 403."""
    body = body or KeyIn()
    key, row = await auth_service.issue_api_key(
        session, principal=principal, actor=actor, name=body.name, role=body.role
    )
    return NewKeyOut(key=key, **KeyOut.model_validate(row).model_dump())


@router.get("", summary="List API keys", responses=responses(401, 403, 422))
async def list_keys(session: SessionDep, principal: PrincipalDep) -> list[KeyOut]:
    """Owners see every key of the tenant, admins all but owners' keys, other members
    their own; never a secret."""
    rows = await auth_service.list_api_keys(session, principal=principal)
    return [KeyOut.model_validate(row) for row in rows]


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=responses(401, 403, 404, 422),
)
async def revoke_key(
    session: SessionDep, principal: PrincipalDep, actor: ActorDep, key_id: KeyId
) -> Response:
    """The next request with the key is a 401. Any key you see in the list; another key
    (or another tenant's) is a 404."""
    await auth_service.revoke_api_key_as(session, principal=principal, actor=actor, key_id=key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
