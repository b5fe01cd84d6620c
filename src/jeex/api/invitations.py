"""``/invitations``: owners and admins invite by email (a single-use, expiring link,
returned and shown to them); the person invited previews and accepts it, with the
account they are signed in to or a new one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from jeex import mail
from jeex.api.auth import token_out
from jeex.api.deps import ActorDep, PrincipalDep, SessionDep, StateDep, oauth2
from jeex.api.errors import responses
from jeex.api.state import ApiState
from jeex.auth import keys, passwords, tokens
from jeex.auth import service as auth_service
from jeex.auth.schemas import TokenOut
from jeex.errors import Forbidden, Unauthorized
from jeex.projects.schemas import NO_NUL
from jeex.tenants import invitations
from jeex.tenants.models import User
from jeex.vocabulary import Role

#: What ``normalize_email`` accepts, said in the schema (a name, "@", a domain with a dot,
#: no whitespace), so that a client (and the fuzzer) knows before it asks.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^\s\x00-\x1f\x7f-\x9f]*\.[^\s\x00-\x1f\x7f-\x9f]*$"

router = APIRouter(prefix="/invitations", tags=["members"])
InvitationId = Annotated[uuid.UUID, Path(description="The invitation's id.")]
Token = Annotated[str, Field(min_length=10, max_length=200, pattern=NO_NUL)]


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    role: Role = Role.EDITOR


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime


class NewInvitationOut(InvitationOut):
    token: str = Field(description="Single use; shown this once, stored only as a hash.")
    link: str = Field(description="The page where the person invited accepts it.")
    mail_sent: bool = Field(description="True: the link was also mailed (JEEX_SMTP_HOST).")
    mail_error: str | None = Field(
        default=None, description="Why the mail could not be sent; the link still works."
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token


class PreviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_name: str
    tenant_slug: str
    email: str
    role: Role
    expires_at: datetime
    account_exists: bool = Field(description="True: sign in with it before accepting.")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=1_000,
        description="For a new account only; with an access token, leave it out.",
    )
    display_name: str = Field(default="", max_length=200, pattern=NO_NUL)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email",
    responses=responses(401, 403, 409, 413, 422),
)
async def invite(
    request: Request,
    state: StateDep,
    session: SessionDep,
    principal: PrincipalDep,
    actor: ActorDep,
    body: InvitationIn,
) -> NewInvitationOut:
    """Owners and admins invite with a role no higher than their own. The link works once,
    for ``JEEX_INVITATION_DAYS``; it is mailed when ``JEEX_SMTP_HOST`` is set, and always
    returned to hand over yourself. Inviting the same email again withdraws the earlier
    link."""
    token, row = await invitations.create(
        session,
        caller_role=principal.role,
        actor=actor,
        email=body.email,
        role=body.role,
        lifetime=timedelta(days=state.settings.invitation_days),
    )
    link = f"{str(request.base_url).rstrip('/')}/#/invite/{token}"
    mail_error = None
    if mail.configured(state.settings):
        tenant = await auth_service.get_tenant(session, principal.tenant_id)
        letter = _letter(row, tenant.name, link)
        mail_error = await mail.send(state.settings, letter)
    return NewInvitationOut(
        token=token,
        link=link,
        mail_sent=mail.configured(state.settings) and mail_error is None,
        mail_error=mail_error,
        **InvitationOut.model_validate(row).model_dump(),
    )


def _letter(row: invitations.InvitationRow, tenant: str, link: str) -> mail.Letter:
    return mail.Letter(
        to=row.email,
        subject=f"{row.invited_by} invites you to {tenant} on JEEX Plan",
        text=(
            f"{row.invited_by} invites you to join {tenant} on JEEX Plan as {row.role}.\n\n"
            "Open this link to accept (it works once, until "
            f"{row.expires_at:%Y-%m-%d %H:%M} UTC):\n\n{link}\n\n"
            "If you did not expect this, ignore this mail: nothing happens without the link.\n"
        ),
    )


@router.get("", summary="List pending invitations", responses=responses(401, 403, 422))
async def list_invitations(session: SessionDep, principal: PrincipalDep) -> list[InvitationOut]:
    """Invitations not yet accepted, withdrawn or expired; owners and admins only."""
    rows = await invitations.list_pending(session, caller_role=principal.role)
    return [InvitationOut.model_validate(row) for row in rows]


@router.delete(
    "/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw an invitation",
    responses=responses(401, 403, 404, 422),
)
async def revoke_invitation(
    session: SessionDep, principal: PrincipalDep, actor: ActorDep, invitation_id: InvitationId
) -> Response:
    """Its link stops working at once."""
    await invitations.revoke(
        session, caller_role=principal.role, actor=actor, invitation_id=invitation_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/preview", summary="What an invitation is for", responses=responses(404, 410, 413, 422)
)
async def preview(request: Request, state: StateDep, body: TokenIn) -> PreviewOut:
    """The tenant, email and role of a link, before accepting (no sign-in needed: the
    link is the credential). Used, withdrawn or expired links are a 410."""
    await state.limiter.hit(request, "signin_ip", state.limiter.client_address(request))
    return PreviewOut.model_validate(await invitations.preview(state.db, token=body.token))


async def _signed_in(state: ApiState, bearer: str | None) -> User | None:
    """The account of the caller's access token, if one was sent."""
    if not bearer:
        return None
    if keys.parse(bearer) is not None:
        raise Forbidden("accept an invitation signed in, not with an API key")
    claims = tokens.verify(state.settings, state.signing_key, bearer)
    if claims is None:
        raise Unauthorized("the access token is invalid or expired")
    async with state.db.global_session() as session:
        user = await session.get(User, claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.version:
        raise Unauthorized("the token has been revoked")
    return user


@router.post(
    "/accept",
    summary="Accept an invitation",
    responses=responses(401, 403, 404, 409, 410, 413, 422),
)
async def accept(
    request: Request,
    state: StateDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    body: AcceptIn,
) -> TokenOut:
    """Join the tenant: signed in (the account's email must be the invitation's), or as a
    new account with a password. An existing account must sign in first (409). Answers
    with an access token for the tenant joined. Each link works once (410 after)."""
    address = state.limiter.client_address(request)
    await state.limiter.hit(request, "signin_ip", address)
    user = await _signed_in(state, bearer)
    password_hash = None
    if user is None and body.password is not None:
        password_hash = await asyncio.to_thread(passwords.hash_password, body.password)
    joined = await invitations.accept(
        state.db,
        token=body.token,
        signed_in=user,
        password_hash=password_hash,
        display_name=body.display_name,
        address=address,
    )
    return token_out(
        state, user_id=joined.user_id, tenant_id=joined.tenant_id, version=joined.token_version
    )
