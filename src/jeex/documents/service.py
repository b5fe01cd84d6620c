"""Document versions: every run adds a version; nothing is overwritten.

"The latest package" is the latest version of about/specs/architecture plus the
plan (overview and epics) written by the latest step-4 run, so that a re-plan
with fewer epics never mixes old and new epic files.
"""

from __future__ import annotations

import difflib
import re
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.context import session_tenant
from jeex.documents.models import DocumentVersion
from jeex.documents.readability import readability_score
from jeex.errors import InvalidInput, NotFound

SINGLE_TYPES = ("about", "specs", "architecture")
PLAN_TYPES = ("plan_overview", "plan_epic")
TYPE_ALIASES = {"overview": "plan_overview", "plan": "plan_overview", "plans": "plan_overview"}


async def get_for_run(
    session: AsyncSession, *, run_id: uuid.UUID, document_type: str, epic_number: int
) -> DocumentVersion | None:
    statement = select(DocumentVersion).where(
        DocumentVersion.run_id == run_id,
        DocumentVersion.document_type == document_type,
        DocumentVersion.epic_number == epic_number,
    )
    return (await session.scalars(statement)).one_or_none()


async def create(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    run_id: uuid.UUID,
    document_type: str,
    epic_number: int,
    title: str,
    content: str,
    language: str,
    metadata: dict[str, Any],
    created_by: uuid.UUID | None,
) -> DocumentVersion:
    """Version n+1 of this document; the same run writing it again gets the same row."""
    existing = await get_for_run(
        session, run_id=run_id, document_type=document_type, epic_number=epic_number
    )
    if existing is not None:
        return existing
    latest = await session.scalar(
        select(func.max(DocumentVersion.version)).where(
            DocumentVersion.project_id == project_id,
            DocumentVersion.document_type == document_type,
            DocumentVersion.epic_number == epic_number,
        )
    )
    document = DocumentVersion(
        id=uuid.uuid4(),
        tenant_id=session_tenant(session),
        project_id=project_id,
        run_id=run_id,
        document_type=document_type,
        epic_number=epic_number,
        title=title[:300],
        version=(latest or 0) + 1,
        content=content,
        metadata_=metadata,
        readability_score=readability_score(content, language),
        grammar_score=None,
        created_by=created_by,
    )
    session.add(document)
    await session.flush()
    return document


async def list_(session: AsyncSession, *, project_id: uuid.UUID) -> list[DocumentVersion]:
    statement = (
        select(DocumentVersion)
        .where(DocumentVersion.project_id == project_id)
        .order_by(
            DocumentVersion.document_type,
            DocumentVersion.epic_number,
            DocumentVersion.version,
        )
    )
    return list((await session.scalars(statement)).all())


async def latest(
    session: AsyncSession, *, project_id: uuid.UUID, document_type: str, epic_number: int = 0
) -> DocumentVersion | None:
    statement = (
        select(DocumentVersion)
        .where(
            DocumentVersion.project_id == project_id,
            DocumentVersion.document_type == document_type,
            DocumentVersion.epic_number == epic_number,
        )
        .order_by(DocumentVersion.version.desc())
        .limit(1)
    )
    return (await session.scalars(statement)).one_or_none()


async def latest_package(session: AsyncSession, *, project_id: uuid.UUID) -> list[DocumentVersion]:
    """The documents a package is made of, in package order; a document project's (a
    petition, a letter) is its one document."""
    others = await session.scalars(
        select(DocumentVersion.document_type)
        .where(
            DocumentVersion.project_id == project_id,
            DocumentVersion.document_type.not_in((*SINGLE_TYPES, *PLAN_TYPES)),
        )
        .distinct()
        .order_by(DocumentVersion.document_type)
    )
    documents = [
        doc
        for kind in (*SINGLE_TYPES, *others.all())
        if (doc := await latest(session, project_id=project_id, document_type=kind)) is not None
    ]
    overview = await latest(session, project_id=project_id, document_type="plan_overview")
    if overview is None:
        return documents
    epics = await session.scalars(
        select(DocumentVersion)
        .where(
            DocumentVersion.project_id == project_id,
            DocumentVersion.document_type == "plan_epic",
            DocumentVersion.run_id == overview.run_id,
        )
        .order_by(DocumentVersion.epic_number)
    )
    return [*documents, overview, *epics.all()]


_EPIC_REF = re.compile(r"^(?:epic[-:]?)?0*(\d{1,3})$")


async def resolve_or_raise(
    session: AsyncSession, *, project_id: uuid.UUID, ref: str
) -> DocumentVersion:
    """The document a user names: an id, or ``about``, ``overview``, ``epic-2``, ``about@1``."""
    name, _, version_text = ref.strip().lower().partition("@")
    try:
        document_id = uuid.UUID(name)
    except ValueError:
        document_id = None
    if document_id is not None:
        found = await session.scalar(
            select(DocumentVersion).where(
                DocumentVersion.id == document_id, DocumentVersion.project_id == project_id
            )
        )
    else:
        found = await _by_name(session, project_id, name, version_text)
    if found is None:
        raise NotFound(f"no document {ref!r} in this project; `jeex docs list` shows them")
    return found


async def _by_name(
    session: AsyncSession, project_id: uuid.UUID, name: str, version_text: str
) -> DocumentVersion | None:
    document_type, epic_number = _parse_name(name)
    if not version_text:
        if document_type == "plan_epic":
            package = await latest_package(session, project_id=project_id)
            return next((d for d in package if d.epic_number == epic_number), None)
        return await latest(session, project_id=project_id, document_type=document_type)
    if not version_text.isdigit():
        raise InvalidInput(f"invalid version {version_text!r}; use for example about@2")
    return await session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.project_id == project_id,
            DocumentVersion.document_type == document_type,
            DocumentVersion.epic_number == epic_number,
            DocumentVersion.version == int(version_text),
        )
    )


def _parse_name(name: str) -> tuple[str, int]:
    name = name.removesuffix(".md")
    name = TYPE_ALIASES.get(name, name)
    if name in (*SINGLE_TYPES, "plan_overview"):
        return name, 0
    match = _EPIC_REF.match(name.split("-", 2)[0] if name[:1].isdigit() else name)
    if match is None:
        raise InvalidInput(
            f"unknown document {name!r}; use about, specs, architecture, overview, epic-N or an id"
        )
    return "plan_epic", int(match.group(1))


async def get_or_raise(
    session: AsyncSession, *, project_id: uuid.UUID, document_id: uuid.UUID
) -> DocumentVersion:
    found = await session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.id == document_id, DocumentVersion.project_id == project_id
        )
    )
    if found is None:
        raise NotFound(f"no document {document_id} in this project")
    return found


async def list_versions(
    session: AsyncSession, *, document: DocumentVersion
) -> list[DocumentVersion]:
    """Every version of the same document (type and epic) in its project, oldest first."""
    statement = (
        select(DocumentVersion)
        .where(
            DocumentVersion.project_id == document.project_id,
            DocumentVersion.document_type == document.document_type,
            DocumentVersion.epic_number == document.epic_number,
        )
        .order_by(DocumentVersion.version)
    )
    return list((await session.scalars(statement)).all())


async def get_version_or_raise(
    session: AsyncSession, *, document: DocumentVersion, version: int
) -> DocumentVersion:
    found = next(
        (d for d in await list_versions(session, document=document) if d.version == version), None
    )
    if found is None:
        raise NotFound(f"no version {version} of this document")
    return found


def unified_diff(old: DocumentVersion, new: DocumentVersion) -> str:
    """What changed between two versions, as ``diff -u`` would print it."""
    lines = difflib.unified_diff(
        old.content.splitlines(keepends=True),
        new.content.splitlines(keepends=True),
        fromfile=f"{old.document_type}@{old.version}",
        tofile=f"{new.document_type}@{new.version}",
    )
    return "".join(lines)
