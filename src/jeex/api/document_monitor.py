"""``/documents``: the document monitor. Start a document of any kind, upload its
exhibits under the ids its user chooses, watch it written (``/preview``, ``/events``),
pause, resume, cancel, generate again, and download it as a PDF.

A document's id is its project's id: ``/projects/{id}/events`` (``?format=message`` for
``EventSource.onmessage``), ``/exports`` and the
runs routes work for it as for a plan. ``GET /projects/{id}/preview`` gives a plan
project the same preview shape for its current runs.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import FileResponse

from jeex.api.deps import (
    EDITOR,
    PrincipalDep,
    ProjectDep,
    SessionDep,
    StateDep,
)
from jeex.api.errors import responses
from jeex.api.exhibits import (
    ChosenLabel,
    ExhibitRef,
    UploadedFile,
    exhibit_out,
    file_response,
    receive,
    require_retrieval,
)
from jeex.exhibits import service as exhibits_service
from jeex.exhibits.citing import citing_sections
from jeex.exhibits.schemas import ExhibitOut
from jeex.monitor import preview as preview_service
from jeex.monitor import service as monitor_service
from jeex.monitor.schemas import (
    DocumentCreate,
    DocumentOut,
    DocumentStarted,
    DocumentStatus,
    PreviewOut,
)
from jeex.projects.models import Project

router = APIRouter(tags=["document monitor"])
API = "/api/v1"
DocumentPathId = Annotated[uuid.UUID, Path(description="The document's id.")]
CHANGE = responses(401, 403, 404, 409, 422)


async def get_document(
    request: Request, state: StateDep, session: SessionDep, doc_id: DocumentPathId
) -> Project:
    project = await monitor_service.get_or_raise(session, doc_id)
    await state.limiter.hit(request, "project", str(project.id))
    return project


DocumentDep = Annotated[Project, Depends(get_document)]


def _out(project: Project, state: DocumentStatus) -> DocumentOut:
    return DocumentOut(
        id=project.id,
        kind=project.kind,
        title=project.name,
        case_ref=project.case_ref,
        status=state,
        inputs=project.inputs,
        language=project.language,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


async def _started(session: SessionDep, project: Project) -> DocumentStarted:
    state, run = await monitor_service.status_of(session, project)
    return DocumentStarted(id=project.id, status=state, run_id=run.id if run else None)


@router.post(
    "/documents",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a document of any kind",
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 409, 422, 429),
)
async def create_document(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    body: DocumentCreate,
    response: Response,
) -> DocumentStarted:
    """Create a document of ``kind`` with its input fields and start writing it
    (``"generate": false`` leaves it idle, to upload exhibits first). Unknown kind,
    missing or unknown inputs: 422, nothing written."""
    project, _ = await monitor_service.create(session, state.settings, principal, body)
    response.headers["Location"] = f"{API}/documents/{project.id}"
    return await _started(session, project)


@router.get("/documents", summary="The tenant's documents", responses=responses(401, 403, 422))
async def list_documents(
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=60, description="Only this kind.")] = None,
) -> list[DocumentOut]:
    """Newest first, each with its state (idle, generating, paused, completed, error)."""
    return [_out(p, s) for p, s in await monitor_service.list_(session, kind=kind)]


@router.get("/documents/{doc_id}", summary="One document", responses=responses(401, 403, 404, 422))
async def get_document_route(session: SessionDep, document: DocumentDep) -> DocumentOut:
    """Its kind, title, reference, input fields and state."""
    state, _ = await monitor_service.status_of(session, document)
    return _out(document, state)


@router.get(
    "/documents/{doc_id}/preview",
    summary="Everything the monitor shows, from one query",
    responses=responses(401, 403, 404, 422),
)
async def document_preview(
    request: Request, state: StateDep, session: SessionDep, doc_id: DocumentPathId
) -> PreviewOut:
    """Status, sections with their HTML so far, exhibits with download links, progress
    figures and the last 50 log lines. Poll it, or follow ``/events``. One query: the
    document itself is read by it (no separate look-up), since pages poll this."""
    await state.limiter.hit(request, "project", str(doc_id))
    return await preview_service.preview(
        session,
        project_id=doc_id,
        download_base=f"{API}/documents/{doc_id}",
        documents_only=True,
    )


@router.get(
    "/projects/{project_id}/preview",
    summary="A plan project's preview (the document monitor's shape)",
    responses=responses(401, 403, 404, 422),
)
async def project_preview(session: SessionDep, project: ProjectDep) -> PreviewOut:
    """The same shape as a document's preview, over the project's current run of each
    step (a cancelled and re-run step counts once)."""
    return await preview_service.preview(
        session, project_id=project.id, download_base=f"{API}/projects/{project.id}"
    )


@router.post(
    "/documents/{doc_id}/generate",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Write the document (again)",
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 409, 422, 429),
)
async def generate(
    session: SessionDep, state: StateDep, principal: PrincipalDep, document: DocumentDep
) -> DocumentStarted:
    """Start writing an idle document, or write a completed, failed or cancelled one again
    (a new version). While it is generating or paused: 409."""
    await monitor_service.generate(session, state.settings, principal, document)
    return await _started(session, document)


@router.post(
    "/documents/{doc_id}/pause",
    summary="Pause a document being written",
    dependencies=EDITOR,
    responses=CHANGE,
)
async def pause(session: SessionDep, document: DocumentDep) -> DocumentStarted:
    """Only while generating (else 409 naming the state); the section being written is
    finished first."""
    await monitor_service.pause(session, document)
    return await _started(session, document)


@router.post(
    "/documents/{doc_id}/resume",
    summary="Resume a paused document",
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 409, 422, 429),
)
async def resume(session: SessionDep, state: StateDep, document: DocumentDep) -> DocumentStarted:
    """Only while paused (else 409 naming the state); it continues from its first
    unfinished section."""
    await monitor_service.resume(session, state.settings, document)
    return await _started(session, document)


@router.post(
    "/documents/{doc_id}/cancel",
    summary="Stop writing a document",
    dependencies=EDITOR,
    responses=CHANGE,
)
async def cancel(session: SessionDep, document: DocumentDep) -> DocumentStarted:
    """While generating or paused; finished sections stay, ``/generate`` starts again."""
    await monitor_service.cancel(session, document)
    return await _started(session, document)


@router.post(
    "/documents/{doc_id}/exhibits",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload an exhibit under the id you choose",
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 409, 413, 415, 422),
)
async def upload_exhibit(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    document: DocumentDep,
    file: UploadedFile,
    response: Response,
    exhibit_label: ChosenLabel = None,
) -> ExhibitOut:
    """Store a file under ``exhibit_id`` (``1.1.A``; unique in the document, never
    renumbered by another deletion; ``E<n>`` when left out) and index it. The sections
    cite it as ``[1.1.A §2]``. A taken id or the same file twice: 409."""
    exhibit = await receive(session, state, principal, document, file, exhibit_label)
    response.headers["Location"] = f"{API}/documents/{document.id}/exhibits/{exhibit.label}"
    return exhibit_out(state, exhibit)


@router.get(
    "/documents/{doc_id}/exhibits",
    summary="A document's exhibits",
    responses=responses(401, 403, 404, 422),
)
async def list_exhibits(
    session: SessionDep, state: StateDep, document: DocumentDep
) -> list[ExhibitOut]:
    """Oldest first, each with the id sections cite it by and the sections that do."""
    exhibits = await exhibits_service.list_(session, project_id=document.id)
    cited = await citing_sections(session, project_id=document.id)
    return [exhibit_out(state, e, cited) for e in exhibits]


@router.get(
    "/documents/{doc_id}/exhibits/{exhibit_ref}/file",
    summary="Download an exhibit's file",
    response_class=FileResponse,
    responses=responses(401, 403, 404, 422),
)
async def download_exhibit(
    session: SessionDep, state: StateDep, document: DocumentDep, exhibit_ref: ExhibitRef
) -> FileResponse:
    """The original bytes, ``Content-Disposition: attachment``, ``nosniff``."""
    exhibit = await exhibits_service.resolve_or_raise(
        session, ref=exhibit_ref, project_id=document.id
    )
    return file_response(state, exhibit)


@router.delete(
    "/documents/{doc_id}/exhibits/{exhibit_ref}",
    summary="Delete an exhibit",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=EDITOR,
    responses=responses(401, 403, 404, 422, 503),
)
async def delete_exhibit(
    session: SessionDep, state: StateDep, document: DocumentDep, exhibit_ref: ExhibitRef
) -> Response:
    """Its passages, file and row; the other exhibits keep their ids."""
    exhibit = await exhibits_service.resolve_or_raise(
        session, ref=exhibit_ref, project_id=document.id
    )
    await exhibits_service.delete(
        session, settings=state.settings, retrieval=require_retrieval(state), exhibit=exhibit
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/documents/{doc_id}/pdf",
    summary="The finished document as a PDF",
    response_class=FileResponse,
    responses=responses(401, 403, 404, 409, 422, 500),
)
async def document_pdf(session: SessionDep, state: StateDep, document: DocumentDep) -> FileResponse:
    """409 until the document is completed; rendered once per version, then served from
    storage."""
    path, name = await monitor_service.pdf(session, state.settings, document)
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=name,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
