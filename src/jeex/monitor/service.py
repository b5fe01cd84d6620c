"""Documents of any kind: create one, (re)generate it, pause, resume, cancel, its PDF.

Every state change goes through the run engine (``jeex.runs.lifecycle``); what this
module adds is the document's view of it: the kind's input fields checked before
anything is written, the specification's state rules (pause only while generating,
resume only while paused: anything else is a 409 naming the state), and a PDF rendered
once per document version and then served from storage.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.agents.prompts import PROMPT_VERSION
from jeex.config import Settings
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.errors import Conflict, InvalidInput, NotFound
from jeex.exhibits import service as exhibits_service
from jeex.exhibits.models import Exhibit
from jeex.exports import storage
from jeex.exports.html import render_document_html
from jeex.exports.pdf import render_pdf
from jeex.monitor.preview import document_status
from jeex.monitor.schemas import DocumentCreate, DocumentStatus
from jeex.projects import service as projects_service
from jeex.projects.models import PLAN, Project
from jeex.projects.schemas import ProjectCreate
from jeex.queue import app as queue
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.inputs import StepInput
from jeex.runs.models import Run
from jeex.tenants import quotas
from jeex.tenants.service import Principal
from jeex.vocabulary import ExhibitStatus


def check_inputs(kind: kinds.Kind, given: dict[str, str]) -> list[tuple[str, str]]:
    """The kind's input fields as ``(label, value)`` pairs, or one 422 naming every
    problem (unknown field, missing required field, too long, nothing visible)."""
    fields = {field.key: field for field in kind.spec.inputs}
    problems = [f"unknown input {key!r}" for key in given if key not in fields]
    facts: list[tuple[str, str]] = []
    for key, field in fields.items():
        value = (
            " ".join(given.get(key, "").split())
            if not field.multiline
            else given.get(key, "").strip()
        )
        if "\x00" in value:
            problems.append(f"input {key!r} contains a NUL character")
        elif not any(ch.isalnum() for ch in value):
            if field.required:
                problems.append(f"input {key!r} ({field.label}) is required")
        elif len(value) > field.max_chars:
            problems.append(f"input {key!r} is longer than {field.max_chars} characters")
        else:
            facts.append((field.label, value))
    if problems:
        known = ", ".join(fields) or "none"
        raise InvalidInput(f"{'; '.join(problems)} (the {kind.key} inputs are: {known})")
    return facts


async def resolve_kind(session: AsyncSession, key: str) -> tuple[kinds.Kind, uuid.UUID | None]:
    """A kind a document can be: a built-in or tenant kind that is no plan step."""
    kind, template_id = await kinds.resolve(session, key)
    if kind.step is not None or kind.spec.also_writes:
        raise InvalidInput(
            f"{key!r} is a step of the plan, not a document kind; plans are started with "
            "POST /projects"
        )
    return kind, template_id


def _input(project: Project, facts: list[tuple[str, str]]) -> StepInput:
    return StepInput(
        idea_description=project.name,
        target_audience="",
        language=project.language,
        facts=facts,
    )


async def _start(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    project: Project,
    kind: kinds.Kind,
    template_id: uuid.UUID | None,
    facts: list[tuple[str, str]],
) -> Run:
    await runs_service.lock_project(session, project.id)
    for run in await runs_service.current(session, project_id=project.id):
        status = document_status({"status": run.status, "desired_state": run.desired_state})
        if status in (DocumentStatus.GENERATING, DocumentStatus.PAUSED):
            raise Conflict(
                f"the document is {status}; "
                + (
                    "resume or cancel it first"
                    if status == DocumentStatus.PAUSED
                    else "wait for it or cancel it first"
                )
            )
    await quotas.check_run(session, settings)
    run = await runs_service.create(
        session,
        project=project,
        kind=kind,
        input=_input(project, facts).model_dump(mode="json"),
        created_by=principal.user_id,
        model=settings.llm_model,
        prompt_version=PROMPT_VERSION,
        template_id=template_id,
    )
    await queue.enqueue_run(session, run.id)
    return run


async def create(
    session: AsyncSession, settings: Settings, principal: Principal, data: DocumentCreate
) -> tuple[Project, Run | None]:
    """A new document of ``data.kind``; every input is checked before anything is written."""
    kind, template_id = await resolve_kind(session, data.kind)
    facts = check_inputs(kind, data.inputs)
    copies = [await _exhibit_to_copy(session, exhibit_id) for exhibit_id in data.exhibit_ids]
    labels = [e.label.lower() for e in copies]
    if len(set(labels)) < len(labels):
        raise Conflict("two of the exhibits to copy have the same id; copy them one by one")
    project = await projects_service.create(
        session,
        owner=principal,
        data=ProjectCreate(idea=data.title, name=data.title, language=data.language),
        kind=kind.key,
        case_ref=data.case_ref,
        inputs={key: value for key, value in data.inputs.items() if value.strip()},
    )
    for exhibit in copies:
        await _copy_exhibit(session, settings, exhibit, project, principal)
    run = None
    if data.generate:
        run = await _start(session, settings, principal, project, kind, template_id, facts)
    return project, run


async def _exhibit_to_copy(session: AsyncSession, exhibit_id: uuid.UUID) -> Exhibit:
    exhibit = await exhibits_service.get(session, exhibit_id=exhibit_id)
    if exhibit is None:
        raise NotFound(f"no exhibit {exhibit_id}")
    if exhibit.status != ExhibitStatus.READY:
        raise Conflict(f"exhibit {exhibit.label} ({exhibit_id}) is {exhibit.status}, not ready")
    return exhibit


async def _copy_exhibit(
    session: AsyncSession,
    settings: Settings,
    exhibit: Exhibit,
    project: Project,
    principal: Principal,
) -> Exhibit:
    """The same file under the same label in the new document (indexed again for it)."""
    source = settings.exhibits_dir / exhibit.path

    def pieces() -> list[bytes]:
        return [source.read_bytes()]

    if not source.is_file():
        raise Conflict(f"the file of exhibit {exhibit.label} is missing; upload it again")
    return await exhibits_service.create(
        session,
        settings=settings,
        project_id=project.id,
        filename=exhibit.filename,
        pieces=pieces(),
        created_by=principal.user_id,
        label=exhibit.label,
    )


async def get_or_raise(session: AsyncSession, document_id: uuid.UUID) -> Project:
    """A live document (not a plan) of the session's tenant."""
    project = await projects_service.get(session, project_id=document_id)
    if project is None or project.kind == PLAN:
        raise NotFound(f"no document {document_id}")
    return project


async def list_(
    session: AsyncSession, *, kind: str | None = None
) -> list[tuple[Project, DocumentStatus]]:
    """The tenant's documents, newest first, each with its state; one query (each
    document's newest run joined), not one more per document."""
    newest = (
        select(Run.project_id, Run.status, Run.desired_state)
        .ext(distinct_on(Run.project_id))
        .order_by(Run.project_id, Run.created_at.desc(), Run.id.desc())
        .subquery()
    )
    statement = (
        select(Project, newest.c.status, newest.c.desired_state)
        .outerjoin(newest, newest.c.project_id == Project.id)
        .where(Project.deleted_at.is_(None), Project.kind != PLAN)
        .order_by(Project.created_at.desc(), Project.id)
    )
    if kind is not None:
        statement = statement.where(Project.kind == kind)
    rows = (await session.execute(statement)).all()
    return [
        (
            project,
            document_status(
                None if status is None else {"status": status, "desired_state": desired}
            ),
        )
        for project, status, desired in rows
    ]


async def _current_run(session: AsyncSession, project: Project) -> Run | None:
    current = await runs_service.current(session, project_id=project.id)
    return current[-1] if current else None


async def status_of(session: AsyncSession, project: Project) -> tuple[DocumentStatus, Run | None]:
    run = await _current_run(session, project)
    state = None if run is None else {"status": run.status, "desired_state": run.desired_state}
    return document_status(state), run


async def generate(
    session: AsyncSession, settings: Settings, principal: Principal, project: Project
) -> Run:
    """Write the document (again): a new run, a new version when it completes."""
    kind, template_id = await resolve_kind(session, project.kind)
    facts = check_inputs(kind, project.inputs)
    return await _start(session, settings, principal, project, kind, template_id, facts)


async def pause(session: AsyncSession, project: Project) -> Run:
    """Pause while generating; a section being written is finished first."""
    status, run = await status_of(session, project)
    if status != DocumentStatus.GENERATING or run is None:
        raise Conflict(f"cannot pause a document that is {status}; pause only while generating")
    return await lifecycle.pause(session, run_id=run.id)


async def resume(session: AsyncSession, settings: Settings, project: Project) -> Run:
    """Resume while paused, from the first unfinished section."""
    status, run = await status_of(session, project)
    if status != DocumentStatus.PAUSED or run is None:
        raise Conflict(f"cannot resume a document that is {status}; resume only while paused")
    await quotas.check_run(session, settings)
    return await lifecycle.resume(session, run_id=run.id)


async def cancel(session: AsyncSession, project: Project) -> Run:
    """Stop writing for good (finished sections stay); generate starts it again."""
    status, run = await status_of(session, project)
    if status not in (DocumentStatus.GENERATING, DocumentStatus.PAUSED) or run is None:
        raise Conflict(f"cannot cancel a document that is {status}; nothing is being written")
    return await lifecycle.cancel(session, run_id=run.id)


def pdf_path(version: DocumentVersion) -> str:
    """Where a version's PDF is kept: named by ids only, inside the exports folder."""
    return f"{storage.EXPORTS_FOLDER}/{version.tenant_id}/documents/{version.id}.pdf"


async def pdf(session: AsyncSession, settings: Settings, project: Project) -> tuple[Path, str]:
    """The PDF of the latest version of a completed document: rendered the first time it
    is asked for (in the PDF sandbox), then served from storage. 409 until completed."""
    status, _ = await status_of(session, project)
    if status != DocumentStatus.COMPLETED:
        raise Conflict(f"the document is {status}; its PDF exists once it is completed")
    version = await documents_service.latest(
        session, project_id=project.id, document_type=await _document_type(session, project)
    )
    if version is None:
        raise Conflict("the document has no finished version yet")
    relative = pdf_path(version)
    target = storage.absolute(settings.data_dir, relative)
    if not target.is_file():
        html = render_document_html(
            title=version.title,
            content=version.content,
            language=project.language,
            case_ref=project.case_ref,
        )
        data = await render_pdf(
            html,
            timeout_seconds=settings.export_pdf_timeout_seconds,
            memory_mb=settings.export_pdf_memory_mb,
        )
        storage.write(settings.data_dir, relative, data)
    name = f"{project.slug}-v{version.version}.pdf"
    return target, name


async def _document_type(session: AsyncSession, project: Project) -> str:
    run = await _current_run(session, project)
    if run is not None and run.template_id is not None:
        return (await kinds.pinned(session, run.template_id)).template.document_type
    kind, _ = await kinds.resolve(session, project.kind)
    return kind.template.document_type
