"""Documents: the latest of each, content as Markdown or sanitised HTML, versions, diffs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from jeex.api.deps import DocumentDep, ProjectDep, SessionDep
from jeex.api.errors import responses
from jeex.documents import service as documents_service
from jeex.documents.html import markdown_to_html
from jeex.documents.schemas import DiffOut, DocumentContentOut, DocumentOut

router = APIRouter(prefix="/projects/{project_id}/documents", tags=["documents"])
ERRORS = responses(401, 403, 404, 422)
Version = Annotated[int, Path(ge=1, le=1_000_000, description="Version number, from 1.")]


@router.get("", summary="Latest documents", responses=ERRORS)
async def list_documents(session: SessionDep, project: ProjectDep) -> list[DocumentOut]:
    """The latest version of each document, in package order (about, specs,
    architecture, plan overview, then the epics of the latest plan)."""
    documents = await documents_service.latest_package(session, project_id=project.id)
    return [DocumentOut.model_validate(d) for d in documents]


@router.get("/{document_id}", summary="One document version", responses=ERRORS)
async def get_document(document: DocumentDep) -> DocumentOut:
    """A document version's metadata (scores, model, confidence, run)."""
    return DocumentOut.model_validate(document)


@router.get("/{document_id}/content", summary="A document's text", responses=ERRORS)
async def get_content(
    document: DocumentDep,
    format: Annotated[Literal["markdown", "html"], Query()] = "markdown",  # noqa: A002
) -> DocumentContentOut:
    """The Markdown as stored, or (``?format=html``) HTML with raw HTML, scripts,
    event handlers and images removed."""
    content = document.content if format == "markdown" else markdown_to_html(document.content)
    return DocumentContentOut(
        id=document.id, version=document.version, format=format, content=content
    )


@router.get("/{document_id}/versions", summary="Every version of a document", responses=ERRORS)
async def list_versions(session: SessionDep, document: DocumentDep) -> list[DocumentOut]:
    """All versions of the same document (type and epic), oldest first."""
    versions = await documents_service.list_versions(session, document=document)
    return [DocumentOut.model_validate(d) for d in versions]


@router.get(
    "/{document_id}/versions/{version}", summary="One version of a document", responses=ERRORS
)
async def get_version(session: SessionDep, document: DocumentDep, version: Version) -> DocumentOut:
    """Version ``version`` of the same document (type and epic)."""
    found = await documents_service.get_version_or_raise(
        session, document=document, version=version
    )
    return DocumentOut.model_validate(found)


@router.get("/{document_id}/diff", summary="Diff between two versions", responses=ERRORS)
async def get_diff(
    session: SessionDep,
    document: DocumentDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> DiffOut:
    """Unified diff of the Markdown of two versions of the same document."""
    old = await documents_service.get_version_or_raise(
        session, document=document, version=from_version
    )
    new = await documents_service.get_version_or_raise(
        session, document=document, version=to_version
    )
    return DiffOut(
        document_type=document.document_type,
        epic_number=document.epic_number,
        from_version=old.version,
        to_version=new.version,
        diff=documents_service.unified_diff(old, new),
    )
