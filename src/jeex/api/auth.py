"""``/auth``: password login (OAuth2 password flow), who am I, logout (OpenID Connect
sign-in is ``jeex.api.oidc``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from jeex.api.deps import PrincipalDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.auth import service as auth_service
from jeex.auth import tokens
from jeex.auth.schemas import MeOut, TokenOut
from jeex.errors import Forbidden
from jeex.projects.schemas import NO_NUL

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
    await limiter.hit(request, "signin_ip", limiter.client_address(request))
    await limiter.hit(request, "signin_account", username.strip().lower())
    user, tenant_id = await auth_service.login_to_tenant(
        state.db, email=username, password=password, tenant_slug=tenant or None
    )
    access_token, lifetime = tokens.issue(
        state.settings,
        state.signing_key,
        user_id=user.id,
        tenant_id=tenant_id,
        version=user.token_version,
    )
    return TokenOut(access_token=access_token, expires_in=lifetime, tenant_id=tenant_id)


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
