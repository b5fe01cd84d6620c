"""``/auth``: password login (OAuth2 password flow), who am I, logout (OpenID Connect
sign-in is ``jeex.api.oidc``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from jeex.api.deps import PrincipalDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.api.state import ApiState
from jeex.audit import service as audit
from jeex.auth import service as auth_service
from jeex.auth import tokens
from jeex.auth.schemas import MeOut, TokenOut
from jeex.errors import Forbidden, Unauthorized
from jeex.projects.schemas import NO_NUL
from jeex.vocabulary import AuditAction

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    summary="Sign in with email and password",
    responses=responses(401, 403, 413, 422),
)
async def token(
    request: Request,
    state: StateDep,
    username: Annotated[
        str, Form(max_length=320, pattern=NO_NUL, description="The account's email.")
    ],
    password: Annotated[str, Form(max_length=1_000)],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
    scope: Annotated[str, Form(max_length=1_000)] = "",
    tenant: Annotated[
        str, Form(max_length=63, pattern=NO_NUL, description="Tenant slug (default: the user's).")
    ] = "",
) -> TokenOut:
    """OAuth2 password flow: a short-lived access token (JWT) for the user's tenant.
    Attempts are limited per address and per account (429 with ``Retry-After``).
    A 403 when password sign-in is switched off (``JEEX_AUTH_PASSWORDS=false``)."""
    if not state.settings.auth_passwords:
        raise Forbidden(
            "password sign-in is off on this installation; sign in with a provider "
            "(GET /api/v1/auth/providers lists them)"
        )
    limiter = state.limiter
    address = limiter.client_address(request)
    await limiter.hit(request, "signin_ip", address)
    await limiter.hit(request, "signin_account", username.strip().lower())
    try:
        user, tenant_id = await auth_service.login_to_tenant(
            state.db, email=username, password=password, tenant_slug=tenant or None
        )
    except Unauthorized as refused:
        await _audit_failure(state, username, tenant, address, refused.message)
        raise
    await audit.record_apart(
        state.db,
        tenant_id=tenant_id,
        action=AuditAction.SIGNIN_SUCCEEDED,
        actor=audit.Actor(user.id, user.email, address),
        detail={"method": "password"},
    )
    return token_out(state, user_id=user.id, tenant_id=tenant_id, version=user.token_version)


def token_out(
    state: ApiState, *, user_id: uuid.UUID, tenant_id: uuid.UUID, version: int
) -> TokenOut:
    """An access token for the user in the tenant (every sign-in path ends here)."""
    access_token, lifetime = tokens.issue(
        state.settings, state.signing_key, user_id=user_id, tenant_id=tenant_id, version=version
    )
    return TokenOut(access_token=access_token, expires_in=lifetime, tenant_id=tenant_id)


async def _audit_failure(
    state: ApiState, email: str, tenant: str, address: str, reason: str
) -> None:
    """A failed password sign-in of a known account goes to its tenant's log."""
    found = await auth_service.signin_tenant(state.db, email=email, tenant_slug=tenant or None)
    if found is None:
        return
    tenant_id, user_id = found
    await audit.record_apart(
        state.db,
        tenant_id=tenant_id,
        action=AuditAction.SIGNIN_FAILED,
        actor=audit.Actor(user_id, email.strip().lower(), address),
        detail={"method": "password", "reason": reason},
    )


@router.get("/me", summary="The caller and its tenant", responses=responses(401, 403, 422))
async def me(session: SessionDep, principal: PrincipalDep) -> MeOut:
    """Who the credentials belong to, in which tenant, with which role."""
    tenant = await auth_service.get_tenant(session, principal.tenant_id)
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=principal.role,
        authenticated_by=principal.via,
    )


@router.post(
    "/logout",
    summary="Revoke every access token of the caller",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 422),
)
async def logout(session: SessionDep, principal: PrincipalDep) -> Response:
    """Every token issued to this user so far stops working at once (API keys stay)."""
    await auth_service.logout(session, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
