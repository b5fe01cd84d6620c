"""``/projects``: create, list (paginated), read, change, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from jeex.api.deps import EDITOR, Limit, Offset, PrincipalDep, ProjectDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.projects import service as projects_service
from jeex.projects.schemas import ProjectCreateIn, ProjectOut, ProjectPage, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post(
    "",
    summary="Create a project",
    dependencies=EDITOR,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 413, 422),
)
async def create_project(
    session: SessionDep, principal: PrincipalDep, body: ProjectCreateIn
) -> ProjectOut:
    """A new project in the caller's tenant; no step runs until one is started."""
    project = await projects_service.create(session, owner=principal, data=body.to_create())
    await session.refresh(project)  # the timestamps the database filled in
    return ProjectOut.model_validate(project)


@router.get("", summary="List projects", responses=responses(401, 403, 422))
async def list_projects(session: SessionDep, limit: Limit = 20, offset: Offset = 0) -> ProjectPage:
    """The tenant's live projects, newest first."""
    projects, total = await projects_service.page(session, limit=limit, offset=offset)
    return ProjectPage(
        items=[ProjectOut.model_validate(p) for p in projects],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{project_id}", summary="Get a project", responses=responses(401, 403, 404, 422))
async def get_project(project: ProjectDep) -> ProjectOut:
    """One project of the caller's tenant."""
    return ProjectOut.model_validate(project)


@router.patch(
    "/{project_id}",
    summary="Change a project",
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 413, 422),
)
async def update_project(
    session: SessionDep, project: ProjectDep, body: ProjectUpdate
) -> ProjectOut:
    """Change the name, idea, audience or language; later runs use the new values."""
    await projects_service.update(session, project=project, data=body)
    await session.refresh(project)  # updated_at comes from a trigger
    return ProjectOut.model_validate(project)


@router.delete(
    "/{project_id}",
    summary="Delete a project",
    dependencies=EDITOR,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 409, 422),
)
async def delete_project(session: SessionDep, state: StateDep, project: ProjectDep) -> Response:
    """From now on nothing of the project can be read, downloaded or run (404): runs,
    events, documents, exhibits, exports. Its files and passages go with a background job;
    a project that is running must be cancelled first (409)."""
    await projects_service.delete(
        session, project=project, vectors=state.settings.retrieval_enabled
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
