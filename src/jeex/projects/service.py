"""Projects: create, find (by id or slug), list, update progress."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from slugify import slugify
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.context import session_tenant
from jeex.errors import Conflict, NotFound
from jeex.projects.models import PLAN, Project
from jeex.projects.schemas import ProjectCreate, ProjectUpdate
from jeex.queue.app import enqueue_purge, request_abort
from jeex.tenants.service import Principal
from jeex.vocabulary import TERMINAL_RUN_STATUSES, ProjectStatus

_LEADING_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


def name_from_idea(idea: str, *, max_words: int = 8) -> str:
    """A readable project name from the first words of the idea."""
    first_line = idea.strip().splitlines()[0]
    first_sentence = re.split(r"(?<=[.!?])\s", first_line)[0].rstrip(".!?")
    words = _LEADING_ARTICLE.sub("", first_sentence).split()[:max_words]
    name = " ".join(words)[:120] or "Untitled project"
    return name[0].upper() + name[1:]


async def _unique_slug(session: AsyncSession, base: str) -> str:
    base = slugify(base, max_length=60, word_boundary=True) or "project"
    taken = set(
        (
            await session.scalars(
                select(Project.slug).where(
                    Project.slug.like(f"{base}%"), Project.deleted_at.is_(None)
                )
            )
        ).all()
    )
    if base not in taken:
        return base
    counter = 2
    while f"{base}-{counter}" in taken:
        counter += 1
    return f"{base}-{counter}"


async def create(
    session: AsyncSession,
    *,
    owner: Principal,
    data: ProjectCreate,
    kind: str = PLAN,
    case_ref: str | None = None,
    inputs: dict[str, str] | None = None,
) -> Project:
    """A project of the session's tenant: the plan (``kind="plan"``) or one document of a
    kind, with its reference and input fields."""
    name = data.name or name_from_idea(data.idea)
    # Two processes creating "the same" project at once must get two slugs: serialise
    # project creation per tenant until this transaction ends.
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"projects:{session_tenant(session)}"},
    )
    project = Project(
        id=uuid.uuid4(),
        tenant_id=session_tenant(session),
        name=name,
        slug=await _unique_slug(session, name),
        idea=data.idea,
        audience=data.audience,
        language=data.language,
        status=ProjectStatus.DRAFT,
        current_step=0,
        metadata_={},
        kind=kind,
        case_ref=case_ref,
        inputs=inputs or {},
        exhibit_seq=0,
        created_by=owner.user_id,
    )
    session.add(project)
    await session.flush()
    return project


async def get(session: AsyncSession, *, project_id: uuid.UUID) -> Project | None:
    statement = select(Project).where(Project.id == project_id, Project.deleted_at.is_(None))
    return (await session.scalars(statement)).one_or_none()


async def get_or_raise(session: AsyncSession, *, project_id: uuid.UUID) -> Project:
    project = await get(session, project_id=project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


async def resolve_or_raise(session: AsyncSession, *, ref: str) -> Project:
    """The project a user names: its id or its slug (what a CLI user types)."""
    try:
        project = await get(session, project_id=uuid.UUID(ref))
    except ValueError:
        statement = select(Project).where(Project.slug == ref, Project.deleted_at.is_(None))
        project = (await session.scalars(statement)).one_or_none()
    if project is None:
        raise NotFound(f"no project {ref!r}; `jeex projects list` shows them")
    return project


async def list_(session: AsyncSession, *, kind: str | None = PLAN) -> list[Project]:
    """Live projects, newest first: plans by default, documents with ``kind=None``
    (every kind) or a kind's key."""
    statement = (
        select(Project).where(Project.deleted_at.is_(None)).order_by(Project.created_at.desc())
    )
    if kind is not None:
        statement = statement.where(Project.kind == kind)
    return list((await session.scalars(statement)).all())


async def page(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[Project], int]:
    """One page of live plan projects, newest first, and how many there are in all
    (documents are listed by ``GET /documents``)."""
    live = Project.deleted_at.is_(None) & (Project.kind == PLAN)
    total = await session.scalar(select(func.count()).select_from(Project).where(live))
    statement = (
        select(Project)
        .where(live)
        .order_by(Project.created_at.desc(), Project.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(statement)).all()), int(total or 0)


async def update(session: AsyncSession, *, project: Project, data: ProjectUpdate) -> Project:
    """Change the given fields; the slug follows a new name (still unique per tenant)."""
    if data.name is not None and data.name != project.name:
        project.name = data.name
        project.slug = await _unique_slug(session, data.name)
    if data.idea_description is not None:
        project.idea = data.idea_description
    if data.target_audience is not None:
        project.audience = data.target_audience
    if data.language is not None:
        project.language = data.language
    await session.flush()
    return project


async def delete(session: AsyncSession, *, project: Project, vectors: bool) -> None:
    """Delete a project: from this commit on nothing of it can be read, downloaded or run.

    The row is marked deleted and every read of it, or of anything under it (runs,
    events, documents, exhibits, exports), answers 404; its runs stay as rows, since the
    tenant's token budget counts them. What lives outside these rows (exhibit files and
    vectors, export files, document PDFs) goes with the ``projects:purge`` job queued in
    the same transaction, retried until it is done (``jeex.tasks.projects``).
    """
    # The lock runs take to start: no run of it can start between this check and commit.
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"runs:{project.id}"},
    )
    await session.refresh(project, ["status"])
    if project.status == ProjectStatus.RUNNING:
        raise Conflict("the project is running; cancel its run first")
    project.deleted_at = datetime.now(UTC)
    await session.flush()
    # A run queued but not started yet (or waiting to be retried) never starts.
    unfinished = text("select id from runs where project_id = :p and not (status = any(:terminal))")
    terminal = [str(status) for status in TERMINAL_RUN_STATUSES]
    for run_id in await session.scalars(unfinished, {"p": project.id, "terminal": terminal}):
        await request_abort(session, run_id)
    await enqueue_purge(session, project.id, vectors=vectors)
