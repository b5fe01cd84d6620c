"""``/auth/providers`` and ``/auth/oidc/<provider>/…``: sign-in with OpenID Connect.

The browser follows ``login`` to the provider and comes back to ``callback``, which
answers with a redirect to the page carrying the access token in the URL *fragment*
(``/#signed-in&token=…&expires_in=…``): a fragment is never sent to a server, so the
token reaches no access log, proxy or ``Referer``. A refusal redirects to
``/#signed-in-failed&reason=<sentence>``. A client asking for JSON (``Accept:
application/json``) gets the token or the uniform error body instead.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from jeex.api.deps import StateDep
from jeex.api.errors import responses
from jeex.api.state import ApiState
from jeex.audit import service as audit
from jeex.auth import oidc, providers, tokens
from jeex.auth import service as auth_service
from jeex.auth.schemas import ProviderOut, ProvidersOut, TokenOut
from jeex.errors import AppError
from jeex.projects.schemas import NO_NUL
from jeex.vocabulary import AuditAction

router = APIRouter(prefix="/auth", tags=["auth"])

ProviderId = Annotated[str, Path(max_length=40, description="The provider's id (a slug).")]
REDIRECTED: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the provider, or back to the web UI (see the route)."}
}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _redirect_uri(request: Request, state: ApiState, provider_id: str) -> str:
    """Where the provider sends the browser back: under JEEX_PUBLIC_URL when set (behind a
    proxy the request's own address is the proxy's view), else the request's address."""
    if state.settings.public_url:
        path = request.app.url_path_for("oidc_callback", provider=provider_id)
        return f"{state.settings.public_url}{path}"
    return str(request.url_for("oidc_callback", provider=provider_id))


def _refused(request: Request, failure: AppError) -> Response:
    """A refusal as the caller can read it: the JSON error, or back to the sign-in page."""
    if _wants_json(request):
        raise failure
    return RedirectResponse(f"/#signed-in-failed&reason={quote(failure.message)}", 302)


def _signed_in(
    request: Request, state: ApiState, response: Response, outcome: oidc.Outcome
) -> Response | TokenOut:
    """The access token for the outcome's user and tenant, as ``POST /auth/token`` issues
    it, in the fragment of a redirect or as JSON; never cached (RFC 6749 §5.1)."""
    assert outcome.user_id is not None
    assert outcome.tenant_id is not None
    access_token, lifetime = tokens.issue(
        state.settings,
        state.signing_key,
        user_id=outcome.user_id,
        tenant_id=outcome.tenant_id,
        version=outcome.token_version,
    )
    if _wants_json(request):
        response.headers["Cache-Control"] = "no-store"
        return TokenOut(access_token=access_token, expires_in=lifetime, tenant_id=outcome.tenant_id)
    return RedirectResponse(
        f"/#signed-in&token={access_token}&expires_in={lifetime}",
        302,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/providers", summary="How to sign in here")
async def list_providers(request: Request, state: StateDep) -> ProvidersOut:
    """Whether password sign-in is on, and each OpenID Connect provider with the URL its
    "Sign in with …" button opens. Needs no credentials."""
    return ProvidersOut(
        passwords=state.settings.auth_passwords,
        providers=[
            ProviderOut(
                id=p.id,
                name=p.name,
                login_url=str(request.app.url_path_for("oidc_login", provider=p.id)),
            )
            for p in state.settings.oidc_providers
        ],
    )


@router.get(
    "/oidc/{provider}/login",
    name="oidc_login",
    summary="Start signing in with a provider",
    status_code=302,
    response_class=RedirectResponse,
    responses={**REDIRECTED, **responses(404, 422, 503)},
)
async def login(request: Request, state: StateDep, provider: ProviderId) -> Response:
    """A redirect to the provider's sign-in page (authorization code flow with PKCE
    S256, a single-use state and a nonce, valid for ten minutes)."""
    configured = providers.get_or_raise(state.settings, provider)
    try:
        url = await oidc.start(
            state.db, configured, redirect_uri=_redirect_uri(request, state, provider)
        )
    except AppError as exc:
        return _refused(request, exc)
    return RedirectResponse(url, 302)


async def _audit(request: Request, state: ApiState, outcome: oidc.Outcome) -> None:
    """A sign-in goes to the tenant it lands in; a refusal that names an account (none
    does today: see ``oidc.sign_in``) to that account's tenant."""
    address = state.limiter.client_address(request)
    detail: dict[str, str] = {"method": "oidc", "provider": outcome.provider}
    if outcome.failure is None and outcome.tenant_id is not None:
        await audit.record_apart(
            state.db,
            tenant_id=outcome.tenant_id,
            action=AuditAction.SIGNIN_SUCCEEDED,
            actor=audit.Actor(outcome.user_id, outcome.email or "", address),
            detail=detail,
        )
        return
    if outcome.failure is None or not outcome.email:
        return
    found = await auth_service.signin_tenant(state.db, email=outcome.email, tenant_slug=None)
    if found is not None:
        await audit.record_apart(
            state.db,
            tenant_id=found[0],
            action=AuditAction.SIGNIN_FAILED,
            actor=audit.Actor(found[1], outcome.email, address),
            detail={**detail, "reason": outcome.failure.message},
        )


@router.get(
    "/oidc/{provider}/callback",
    name="oidc_callback",
    summary="Where the provider sends the browser back",
    response_model=TokenOut,
    responses={**REDIRECTED, **responses(401, 403, 404, 422, 503)},
)
async def callback(
    request: Request,
    response: Response,
    state: StateDep,
    provider: ProviderId,
    code: Annotated[str | None, Query(max_length=2048, pattern=NO_NUL)] = None,
    login_state: Annotated[str | None, Query(alias="state", max_length=200, pattern=NO_NUL)] = None,
    error: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    error_description: Annotated[str | None, Query(max_length=1000, pattern=NO_NUL)] = None,
) -> Response | TokenOut:
    """Checks the provider's answer (state, PKCE, ID token signature, issuer, audience,
    nonce, verified email, allowed domain), finds or creates the account by its email and
    issues an access token; counts against the sign-in limit of the address. Redirects
    the browser to the web UI, or answers JSON when asked for it (see the module)."""
    try:
        await state.limiter.hit(request, "signin_ip", state.limiter.client_address(request))
        configured = providers.get_or_raise(state.settings, provider)
    except AppError as exc:
        return _refused(request, exc)
    outcome = await oidc.sign_in(
        state.db,
        configured,
        redirect_uri=_redirect_uri(request, state, provider),
        state=login_state,
        code=code,
        error=error,
        error_description=error_description,
    )
    await _audit(request, state, outcome)
    if outcome.failure is not None:
        return _refused(request, outcome.failure)
    return _signed_in(request, state, response, outcome)
