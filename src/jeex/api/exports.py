"""Exports over HTTP: request one (202, rendered by a worker), poll it, download it.

The download is a separate URL so that status polling never counts as a download and a
client can hand the link to a browser. Another tenant's export is 404 (row-level
security hides it); an expired one is 410.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import FileResponse

from jeex.api.deps import EDITOR, PrincipalDep, ProjectDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.exports import service as exports_service
from jeex.exports.schemas import ExportCreate, ExportRead
from jeex.vocabulary import ExportStatus

router = APIRouter(tags=["exports"])
ExportId = Annotated[uuid.UUID, Path(description="The export's id.")]
API_PREFIX = "/api/v1"


def _read(export: ExportRead) -> ExportRead:
    if export.status == ExportStatus.READY:
        export.download_url = f"{API_PREFIX}/exports/{export.id}/download"
    return export


@router.post(
    "/projects/{project_id}/export",
    summary="Request an export",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404, 409, 422),
    dependencies=EDITOR,
)
async def request_export(
    session: SessionDep,
    principal: PrincipalDep,
    project: ProjectDep,
    body: ExportCreate,
    response: Response,
) -> ExportRead:
    """Queue an export of the latest documents (or the named versions) as ZIP, PDF, DOCX,
    XLSX or PPTX. Poll ``GET /exports/{id}`` until ``status`` is ``ready``, then follow
    its ``download_url``. A project with no documents yet is 409 naming the step to run."""
    export = await exports_service.create(
        session,
        project_id=project.id,
        format=body.format,
        versions=body.versions,
        expires_in_hours=body.expires_in_hours,
        created_by=principal.user_id,
    )
    await session.refresh(export)
    response.headers["Location"] = f"{API_PREFIX}/exports/{export.id}"
    return _read(ExportRead.of(export))


@router.get(
    "/projects/{project_id}/exports",
    summary="A project's exports",
    responses=responses(401, 403, 404, 422),
)
async def list_exports(session: SessionDep, project: ProjectDep) -> list[ExportRead]:
    """Every export of the project, newest first, expired ones included."""
    exports = await exports_service.list_(session, project_id=project.id)
    return [_read(ExportRead.of(e)) for e in exports]


@router.get(
    "/exports/{export_id}",
    summary="An export's status",
    responses=responses(401, 403, 404, 422),
)
async def get_export(session: SessionDep, export_id: ExportId) -> ExportRead:
    """Status (pending, running, ready, failed with its reason, expired), expiry, size,
    sha256 and download count."""
    export = await exports_service.get_or_raise(session, export_id=export_id)
    return _read(ExportRead.of(export))


@router.get(
    "/exports/{export_id}/download",
    summary="Download an export",
    response_class=FileResponse,
    responses={
        200: {"description": "The file, as an attachment."},
        **responses(401, 403, 404, 409, 410, 422),
    },
)
async def download_export(
    session: SessionDep, state: StateDep, export_id: ExportId
) -> FileResponse:
    """The file; counts a download. Not ready yet: 409; expired: 410."""
    download = await exports_service.open_download(
        session, export_id=export_id, data_dir=state.settings.data_dir
    )
    return FileResponse(
        download.path,
        media_type=download.media_type,
        filename=download.filename,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
