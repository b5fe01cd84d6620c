"""Named dependencies: handlers ask for what they need (``SessionDep``, ``ProjectDep`` …).

``SessionDep`` is the request's one transaction: it is opened in the tenant the
credentials name, so ``app.tenant_id`` is set before anything else runs, the caller
is checked inside it (user, membership, key), and it commits when the handler
returns — before the response is sent, so a failed commit is an error, not a lie.
"Load or 404" is a dependency too; another tenant's object is simply not found.
Every dependency is ``async def``, also those that await nothing: FastAPI runs a plain
``def`` dependency in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.api.state import ApiState
from jeex.audit import service as audit
from jeex.auth import credentials as auth_credentials
from jeex.auth.service import AuthPrincipal
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.errors import Forbidden, NotFound
from jeex.projects import service as projects_service
from jeex.projects.models import Project
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.tenants import roles

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="An access token from /auth/token, or an API key (`jeex apikeys create`).",
)


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
# Typed without ``| None`` on purpose: OpenAPI would then allow a null header, which
# clients (and schemathesis) send as the string "null". Absent means None all the same.
TenantHeader = Annotated[
    uuid.UUID,
    Header(
        alias="X-Tenant-ID", description="Act in another tenant you are a member of (token only)."
    ),
]


async def get_credentials(
    state: StateDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    tenant: TenantHeader = None,  # type: ignore[assignment]
) -> auth_credentials.Credentials:
    return auth_credentials.parse(state.settings, state.signing_key, bearer, tenant)


CredentialsDep = Annotated[auth_credentials.Credentials, Depends(get_credentials)]


async def limit_ip(request: Request, state: StateDep) -> None:
    """Every request under /api/v1 counts against its client address's limit."""
    await state.limiter.hit(request, "ip", state.limiter.client_address(request))


async def get_tenant_session(
    request: Request, state: StateDep, credentials: CredentialsDep
) -> AsyncIterator[AsyncSession]:
    async with state.db.tenant_session(credentials.tenant_id) as session:
        principal = await credentials.principal(session)
        session.info["principal"] = principal
        # For the error handlers: a refusal (quota) is written to the tenant's audit log.
        request.state.principal = principal
        structlog.contextvars.bind_contextvars(tenant_id=str(principal.tenant_id))
        await state.limiter.hit(request, "user", str(principal.user_id))
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_tenant_session, scope="function")]


async def get_principal(session: SessionDep) -> AuthPrincipal:
    principal: AuthPrincipal = session.info["principal"]
    return principal


PrincipalDep = Annotated[AuthPrincipal, Depends(get_principal)]


async def require_editor(principal: PrincipalDep) -> AuthPrincipal:
    """Viewers read; owners, admins and editors also create, run and change."""
    if principal.role not in roles.WRITERS:
        raise Forbidden("viewers can read but not change anything")
    return principal


async def require_admin(principal: PrincipalDep) -> AuthPrincipal:
    """Owners and admins: for what shapes the whole tenant (its templates)."""
    if principal.role not in roles.MANAGERS:
        raise Forbidden("only owners and admins may do this")
    return principal


async def get_actor(request: Request, state: StateDep, principal: PrincipalDep) -> audit.Actor:
    """The caller as the audit log names it: account, email and client address."""
    return audit.Actor(principal.user_id, principal.email, state.limiter.client_address(request))


ActorDep = Annotated[audit.Actor, Depends(get_actor)]


async def require_session_sign_in(principal: PrincipalDep) -> AuthPrincipal:
    """For what an API key must not do: make keys, tenants, or act across tenants."""
    if principal.via != "token":
        raise Forbidden("this needs a signed-in session, not an API key")
    return principal


#: For the ``dependencies=`` of every route that writes.
EDITOR = [Depends(require_editor)]
#: For the ``dependencies=`` of routes only owners and admins may call.
ADMIN = [Depends(require_admin)]
ProjectId = Annotated[uuid.UUID, Path(description="The project's id.")]
RunId = Annotated[uuid.UUID, Path(description="The run's id.")]
DocumentId = Annotated[uuid.UUID, Path(description="The id of one document version.")]


async def get_project(
    request: Request, state: StateDep, session: SessionDep, project_id: ProjectId
) -> Project:
    structlog.contextvars.bind_contextvars(project_id=str(project_id))
    project = await projects_service.get(session, project_id=project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    await state.limiter.hit(request, "project", str(project.id))
    return project


ProjectDep = Annotated[Project, Depends(get_project)]


async def get_run(request: Request, state: StateDep, session: SessionDep, run_id: RunId) -> Run:
    run = await runs_service.get_or_raise(session, run_id=run_id)
    structlog.contextvars.bind_contextvars(
        project_id=str(run.project_id), correlation_id=str(run.correlation_id)
    )
    await state.limiter.hit(request, "project", str(run.project_id))
    return run


RunDep = Annotated[Run, Depends(get_run)]


async def get_document(
    session: SessionDep, project: ProjectDep, document_id: DocumentId
) -> DocumentVersion:
    return await documents_service.get_or_raise(
        session, project_id=project.id, document_id=document_id
    )


DocumentDep = Annotated[DocumentVersion, Depends(get_document)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
