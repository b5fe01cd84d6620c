"""What an export is made of: the project and the chosen version of each document.

A request names versions or takes the latest package; the choice is resolved once,
when the export is requested, and stored as document ids, so the job renders exactly
what was asked for even if a step finishes in between (and renders it again the same
way if the job runs twice).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import __version__
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.errors import InvalidInput, NotFound, NothingToExport
from jeex.exports.package import PackageDocument, PackageProject, order_documents
from jeex.projects.models import Project


@dataclass(frozen=True)
class ExportDocument:
    """One document version plus what the renderers need beyond its Markdown."""

    doc: PackageDocument
    template: str
    template_version: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportBundle:
    """The input of every renderer: project facts and documents in package order."""

    project: PackageProject
    documents: list[ExportDocument]

    def of_type(self, document_type: str) -> list[ExportDocument]:
        return [d for d in self.documents if d.doc.document_type == document_type]

    def first(self, document_type: str) -> ExportDocument | None:
        found = self.of_type(document_type)
        return found[0] if found else None


def _key(doc: DocumentVersion) -> tuple[str, int]:
    return (doc.document_type, doc.epic_number)


async def resolve_documents(
    session: AsyncSession, *, project: Project, versions: Mapping[str, int] | None
) -> list[DocumentVersion]:
    """The latest package, with the named versions swapped in (``{"about": 1, "epic-2": 3}``)."""
    chosen = {
        _key(d): d for d in await documents_service.latest_package(session, project_id=project.id)
    }
    for ref, version in (versions or {}).items():
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput(f"version of {ref!r} must be a positive whole number")
        try:
            doc = await documents_service.resolve_or_raise(
                session, project_id=project.id, ref=f"{ref}@{version}"
            )
        except NotFound:
            raise InvalidInput(
                f"project {project.slug!r} has no version {version} of {ref!r}"
            ) from None
        chosen[_key(doc)] = doc
    if not chosen:
        raise NothingToExport(
            f"project {project.slug!r} has no documents yet; run step 1 (Business Analyst) "
            f"first: `jeex plan --project {project.slug} --steps 1-4`"
        )
    return list(chosen.values())


async def load_documents(
    session: AsyncSession, *, project_id: uuid.UUID, document_ids: Sequence[str]
) -> list[DocumentVersion]:
    """The stored choice of a request, read back in the job."""
    ids = [uuid.UUID(value) for value in document_ids]
    rows = await session.scalars(
        select(DocumentVersion).where(
            DocumentVersion.project_id == project_id, DocumentVersion.id.in_(ids)
        )
    )
    found = list(rows.all())
    if len(found) != len(ids):
        raise NotFound("a document chosen for this export no longer exists")
    return found


def package_document(doc: DocumentVersion) -> PackageDocument:
    """The package writer's view of a stored version (the same as ``jeex plan`` writes)."""
    epic = doc.metadata_.get("epic") or {}
    return PackageDocument(
        document_type=doc.document_type,
        epic_number=doc.epic_number,
        epic_slug=str(epic.get("slug", "")),
        title=doc.title,
        version=doc.version,
        content=doc.content,
        generated_at=doc.created_at,
        model=str(doc.metadata_.get("model", "")),
        confidence=doc.metadata_.get("confidence"),
    )


def build_bundle(project: Project, documents: Sequence[DocumentVersion]) -> ExportBundle:
    """Pure: the same rows give the same bundle, so renderers can be tested without a database."""
    pairs = [(package_document(d), d) for d in documents]
    ordered = order_documents([p for p, _ in pairs])
    rows = {(p.document_type, p.epic_number): d for p, d in pairs}
    export_docs = [_export_document(p, rows[(p.document_type, p.epic_number)]) for p in ordered]
    info = PackageProject(
        name=project.name,
        slug=project.slug,
        language=project.language,
        idea=project.idea,
        audience=project.audience,
        project_id=str(project.id),
        generated_at=max(d.created_at for d in documents).astimezone(UTC),
        model=ordered[-1].model,
        template_versions={d.template: d.template_version for d in export_docs},
        jeex_version=__version__,
    )
    return ExportBundle(project=info, documents=export_docs)


def _export_document(doc: PackageDocument, row: DocumentVersion) -> ExportDocument:
    meta = row.metadata_ or {}
    return ExportDocument(
        doc=doc,
        template=str(meta.get("template", doc.document_type)),
        template_version=str(meta.get("template_version", "")),
        metadata=meta,
    )
