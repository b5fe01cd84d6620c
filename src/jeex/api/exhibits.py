"""Exhibits and search over HTTP: upload (multipart), list, read, delete; ranked passages.

Uploading answers 202: the file is stored and its processing (extraction, chunking,
embedding) is a queue job; poll the exhibit until it is ``ready`` or ``failed``. The
upload route streams its body under ``JEEX_EXHIBITS_MAX_BYTES`` (plus room for the
multipart framing) instead of the API's small JSON body limit (``BodyLimit``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.api.deps import EDITOR, PrincipalDep, ProjectDep, SessionDep, StateDep
from jeex.api.errors import responses
from jeex.api.state import ApiState
from jeex.auth.service import AuthPrincipal
from jeex.errors import ServiceUnavailable
from jeex.exhibits import search as search_service
from jeex.exhibits import service as exhibits_service
from jeex.exhibits.citing import CitedIn, citing_sections
from jeex.exhibits.models import Exhibit
from jeex.exhibits.schemas import ExhibitOut, PassageOut
from jeex.projects.models import Project
from jeex.retrieval.service import Retrieval

router = APIRouter(tags=["exhibits"])
ExhibitRef = Annotated[
    str, Path(max_length=64, description="The exhibit's uuid, or its label (1.1.A, E2 …).")
]
UploadedFile = Annotated[UploadFile, File(description="PDF, DOCX, HTML, Markdown or plain text.")]
ChosenLabel = Annotated[
    str | None,
    Form(
        alias="exhibit_id",
        max_length=64,
        description="The id documents cite it by (1.1.A), unique in the project; "
        "E<n> when left out.",
    ),
]
UPLOAD_PATH = "/projects/{project_id}/exhibits"
_PIECE = 1 << 16


def exhibit_out(
    state: ApiState, exhibit: Exhibit, cited: dict[str, list[CitedIn]] | None = None
) -> ExhibitOut:
    """An exhibit as the API shows it: with its time estimate and the sections citing it."""
    estimate = exhibits_service.estimate(exhibit, state.settings)
    return ExhibitOut.of(exhibit, estimate, (cited or {}).get(str(exhibit.id), ()))


def require_retrieval(state: StateDep) -> Retrieval:
    if state.retrieval is None:
        if not state.settings.retrieval_enabled:
            raise ServiceUnavailable(
                "retrieval is off in this installation (JEEX_RETRIEVAL_ENABLED=false): "
                "exhibits and search are unavailable"
            )
        raise ServiceUnavailable("this API process has no vector store; exhibits are unavailable")
    return state.retrieval


async def receive(
    session: AsyncSession,
    state: ApiState,
    principal: AuthPrincipal,
    project: Project,
    file: UploadFile,
    label: str | None,
) -> Exhibit:
    """Store an upload as an exhibit of ``project`` and queue its processing."""
    require_retrieval(state)  # no vector store here: refuse before storing a file nobody indexes

    async def pieces() -> AsyncIterator[bytes]:
        while piece := await file.read(_PIECE):
            yield piece

    exhibit = await exhibits_service.create(
        session,
        settings=state.settings,
        project_id=project.id,
        filename=file.filename or "upload",
        pieces=pieces(),
        created_by=principal.user_id,
        label=label,
    )
    await session.refresh(exhibit)
    return exhibit


def file_response(state: ApiState, exhibit: Exhibit) -> FileResponse:
    """The original bytes, as a download (never shown inline) under its own name."""
    path = exhibits_service.file_of(state.settings, exhibit)
    return FileResponse(
        path,
        media_type=exhibit.media_type,
        filename=exhibit.filename,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    UPLOAD_PATH,
    summary="Upload an exhibit",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404, 409, 413, 415, 422),
    dependencies=EDITOR,
)
async def upload_exhibit(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    file: UploadedFile,
    response: Response,
    exhibit_label: ChosenLabel = None,
) -> ExhibitOut:
    """Store a file as material for the project's agents and queue its processing. Its
    type is decided from the content (a name that lies is 415); the same file twice in a
    project, or an ``exhibit_id`` another exhibit has, is 409; an empty file is 422;
    above ``JEEX_EXHIBITS_MAX_BYTES`` it is 413."""
    exhibit = await receive(session, state, principal, project, file, exhibit_label)
    response.headers["Location"] = f"/api/v1/projects/{project.id}/exhibits/{exhibit.id}"
    return exhibit_out(state, exhibit)


@router.get(UPLOAD_PATH, summary="A project's exhibits", responses=responses(401, 403, 404, 422))
async def list_exhibits(
    session: SessionDep, state: StateDep, project: ProjectDep
) -> list[ExhibitOut]:
    """Oldest first, each with the label sections cite it by and the sections that do."""
    exhibits = await exhibits_service.list_(session, project_id=project.id)
    cited = await citing_sections(session, project_id=project.id)
    return [exhibit_out(state, e, cited) for e in exhibits]


@router.get(
    f"{UPLOAD_PATH}/{{exhibit_id}}",
    summary="One exhibit",
    responses=responses(401, 403, 404, 422),
)
async def get_exhibit(
    session: SessionDep, state: StateDep, project: ProjectDep, exhibit_id: ExhibitRef
) -> ExhibitOut:
    """Status (pending, ready, failed with the reason), type, size, sha256, citing sections."""
    exhibit = await exhibits_service.resolve_or_raise(
        session, ref=exhibit_id, project_id=project.id
    )
    cited = await citing_sections(session, project_id=project.id)
    return exhibit_out(state, exhibit, cited)


@router.get(
    f"{UPLOAD_PATH}/{{exhibit_id}}/file",
    summary="Download an exhibit's file",
    response_class=FileResponse,
    responses=responses(401, 403, 404, 422),
)
async def download_exhibit(
    session: SessionDep, state: StateDep, project: ProjectDep, exhibit_id: ExhibitRef
) -> FileResponse:
    """The bytes as uploaded, as an attachment under the uploaded file's (cleaned) name."""
    exhibit = await exhibits_service.resolve_or_raise(
        session, ref=exhibit_id, project_id=project.id
    )
    return file_response(state, exhibit)


@router.delete(
    f"{UPLOAD_PATH}/{{exhibit_id}}",
    summary="Delete an exhibit",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 422, 503),
    dependencies=EDITOR,
)
async def delete_exhibit(
    session: SessionDep, state: StateDep, project: ProjectDep, exhibit_id: ExhibitRef
) -> Response:
    """Remove the exhibit's passages from the vector store, its file and its row."""
    exhibit = await exhibits_service.resolve_or_raise(
        session, ref=exhibit_id, project_id=project.id
    )
    await exhibits_service.delete(
        session, settings=state.settings, retrieval=require_retrieval(state), exhibit=exhibit
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/projects/{project_id}/search",
    summary="Search a project's exhibits and documents",
    responses=responses(401, 403, 404, 422, 503),
)
async def search(
    state: StateDep,
    principal: PrincipalDep,
    project: ProjectDep,
    q: Annotated[str, Query(min_length=1, max_length=search_service.MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[PassageOut]:
    """Ranked passages, best first, each with its source (``E2 §3`` for an exhibit's third
    passage, the document type for a document)."""
    found = await search_service.search(
        state.db,
        require_retrieval(state),
        principal,
        str(project.id),
        q,
        limit=limit,
    )
    return [PassageOut.model_validate(p) for p in found]
