"""Exhibits: add (stream, sniff, deduplicate, store, queue), list, get, delete, process.

Adding is cheap and synchronous: the bytes are received under a size cap, their kind
is decided by content, and the row is written with its ``exhibits:process`` job in
one transaction. The job (`process`) does the slow part (extraction, chunking,
embedding) and leaves the exhibit ``ready`` or ``failed`` with a reason.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterable, Iterable
from pathlib import Path

import structlog
from qdrant_client.http.exceptions import ResponseHandlingException
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import metrics
from jeex.config import Settings
from jeex.db.context import session_tenant
from jeex.db.retry import is_connection_lost
from jeex.db.session import Database
from jeex.errors import (
    AppError,
    DuplicateExhibit,
    EmbeddingsUnavailable,
    ExtractionFailed,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    TryAgain,
)
from jeex.events import service as events_service
from jeex.exhibits import extract, files, lifecycle, sniff
from jeex.exhibits.models import Exhibit
from jeex.projects.models import Project
from jeex.queue import app as queue
from jeex.retrieval.chunking import chunk_blocks
from jeex.retrieval.service import EXHIBIT, Retrieval, Source
from jeex.retrieval.store import Scope
from jeex.tenants import quotas
from jeex.vocabulary import EventType, ExhibitStatus

log = structlog.get_logger(__name__)

#: An exhibit id a user may choose: what documents cite, like ``1.1.A`` or ``A-3``.
LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38}[A-Za-z0-9])?")


def _root(settings: Settings) -> Path:
    return settings.exhibits_dir


def check_label(label: str) -> str:
    """A label a user chose, as given (surrounding spaces removed), or a clear 422."""
    label = label.strip()
    if not LABEL.fullmatch(label):
        raise InvalidInput(
            f"invalid exhibit id {label!r}: use 1 to 40 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit (for example 1.1.A)"
        )
    return label


async def _taken(session: AsyncSession, project_id: uuid.UUID, label: str) -> Exhibit | None:
    return await session.scalar(
        select(Exhibit).where(
            Exhibit.project_id == project_id, func.lower(Exhibit.label) == label.lower()
        )
    )


async def _label_for(
    session: AsyncSession, project: Project, chosen: str | None, replacing: Exhibit | None
) -> str:
    """The chosen label if free (409 if another exhibit has it), else the next ``E<n>``."""
    if chosen is not None:
        holder = await _taken(session, project.id, chosen)
        if holder is not None and holder is not replacing:
            raise DuplicateExhibit(
                f"exhibit id {chosen!r} is already taken by {holder.filename!r} in this "
                "document; choose another id or delete that exhibit first"
            )
        return chosen
    while True:
        project.exhibit_seq += 1
        label = f"E{project.exhibit_seq}"
        if await _taken(session, project.id, label) is None:
            return label


async def _add_received(
    session: AsyncSession,
    settings: Settings,
    *,
    project_id: uuid.UUID,
    filename: str,
    received: files.Received,
    created_by: uuid.UUID | None,
    label: str | None = None,
) -> Exhibit:
    try:
        media_type = sniff.check(filename, received.path.read_bytes())
        # The project row is locked until commit: two uploads to one project at once are
        # decided one after the other (same file, same id), never by a unique violation.
        project = await session.scalar(
            select(Project).where(Project.id == project_id).with_for_update()
        )
        if project is None:
            raise NotFound(f"no project {project_id}")
        existing = await session.scalar(
            select(Exhibit).where(
                Exhibit.project_id == project_id, Exhibit.sha256 == received.sha256
            )
        )
        if existing is not None and existing.status != ExhibitStatus.FAILED:
            raise DuplicateExhibit(
                f"this file is already exhibit {existing.label} ({existing.filename!r}, "
                f"{existing.id}) of the project"
            )
        label = await _label_for(session, project, label, existing)
        if existing is not None:
            await _delete_row(session, settings, existing)  # a failed one may be tried again
        await quotas.check_exhibit(session, settings, adding=received.size)
        exhibit = Exhibit(
            id=uuid.uuid4(),
            tenant_id=session_tenant(session),
            project_id=project_id,
            label=label,
            filename=files.sanitize_filename(filename),
            media_type=media_type,
            size=received.size,
            sha256=received.sha256,
            path=str(received.path.relative_to(_root(settings))),
            status=ExhibitStatus.PENDING,
            created_by=created_by,
        )
        session.add(exhibit)
        await session.flush()
        await queue.enqueue_exhibit(session, exhibit.id)
        await events_service.append(
            session,
            project_id=project_id,
            type=EventType.EXHIBIT_ADDED,
            data={
                "exhibit_id": str(exhibit.id),
                "label": exhibit.label,
                "filename": exhibit.filename,
                "size": exhibit.size,
            },
        )
    except BaseException:
        received.discard()
        raise
    return exhibit


async def create(
    session: AsyncSession,
    *,
    settings: Settings,
    project_id: uuid.UUID,
    filename: str,
    pieces: Iterable[bytes] | AsyncIterable[bytes],
    created_by: uuid.UUID | None = None,
    label: str | None = None,
) -> Exhibit:
    """Receive a file for a project of the session's tenant and queue its processing;
    ``pieces`` is a local file read piece by piece (CLI) or an HTTP upload (API).
    ``label`` is the id its user chose (``1.1.A``); without one it is ``E<n>``."""
    if label is not None:
        label = check_label(label)
    target = files.stored_path(_root(settings), session_tenant(session), project_id)
    limit = settings.exhibits_max_bytes
    if isinstance(pieces, AsyncIterable):
        received = await files.receive_async(pieces, target, limit=limit)
    else:
        received = files.receive(pieces, target, limit=limit)
    return await _add_received(
        session,
        settings,
        project_id=project_id,
        filename=filename,
        received=received,
        created_by=created_by,
        label=label,
    )


async def list_(session: AsyncSession, *, project_id: uuid.UUID) -> list[Exhibit]:
    """The project's exhibits, oldest first."""
    rows = await session.scalars(
        select(Exhibit)
        .where(Exhibit.project_id == project_id)
        .order_by(Exhibit.created_at, Exhibit.id)
    )
    return list(rows.all())


def labels(exhibits: Iterable[Exhibit]) -> dict[str, str]:
    """``{exhibit id: label}``: what a passage of each exhibit is cited by."""
    return {str(e.id): e.label for e in exhibits}


async def get(session: AsyncSession, *, exhibit_id: uuid.UUID) -> Exhibit | None:
    """An exhibit of the session's tenant (row-level security hides the others)."""
    return await session.scalar(select(Exhibit).where(Exhibit.id == exhibit_id))


async def resolve_or_raise(
    session: AsyncSession, *, ref: str | uuid.UUID, project_id: uuid.UUID
) -> Exhibit:
    """An exhibit of the project by id, or by label (``E2``, ``1.1.A``; any case)."""
    found: Exhibit | None = None
    ref = str(ref)
    try:
        found = await get(session, exhibit_id=uuid.UUID(ref))
    except ValueError:
        found = await _taken(session, project_id, ref)
    if found is None or found.project_id != project_id:
        raise NotFound(f"no exhibit {ref!r} in this project")
    return found


def file_of(settings: Settings, exhibit: Exhibit) -> Path:
    """The stored file of an exhibit (404 when it is gone from disk)."""
    path = _root(settings) / exhibit.path
    if not files.inside(_root(settings), path) or not path.is_file():
        raise NotFound(f"the file of exhibit {exhibit.label} is no longer stored")
    return path


async def _delete_row(session: AsyncSession, settings: Settings, exhibit: Exhibit) -> None:
    path = _root(settings) / exhibit.path
    if files.inside(_root(settings), path):
        path.unlink(missing_ok=True)
    await session.delete(exhibit)
    await session.flush()


async def delete(
    session: AsyncSession, *, settings: Settings, retrieval: Retrieval, exhibit: Exhibit
) -> None:
    """Remove an exhibit: its vectors, its file and its row."""
    await retrieval.remove_source(Scope(exhibit.tenant_id, exhibit.project_id), exhibit.id)
    await _delete_row(session, settings, exhibit)


async def delete_all(
    session: AsyncSession, settings: Settings, retrieval: Retrieval | None, project: Project
) -> None:
    """A deleted project's exhibits: rows now, vectors and files too when this process
    has the vector store (else the files go and the vectors stay until re-indexing)."""
    for exhibit in await list_(session, project_id=project.id):
        await _delete_row(session, settings, exhibit)
    if retrieval is not None:
        await delete_project_data(settings, retrieval, project.tenant_id, project.id)


async def delete_project_data(
    settings: Settings, retrieval: Retrieval, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> None:
    """What a project leaves outside PostgreSQL: its vectors and its exhibit files.

    Called by project deletion; the rows go with the project (foreign keys cascade).
    """
    await retrieval.remove_project(Scope(tenant_id, project_id))
    folder = _root(settings) / str(tenant_id) / str(project_id)
    if folder.is_dir() and files.inside(_root(settings), folder):
        for item in folder.iterdir():
            item.unlink(missing_ok=True)
        folder.rmdir()


#: Progress is written (row and ``exhibit.progress`` event) at most this often.
PROGRESS_SECONDS = 1.0
#: Characters of text per byte of file, by kind: what an upload's estimate assumes.
_TEXT_PER_BYTE = {sniff.PDF: 0.3, sniff.DOCX: 1.5, sniff.HTML: 0.5}


def estimate(exhibit: Exhibit, settings: Settings) -> tuple[int, float]:
    """(passages, seconds to index them) a file of this size and kind is expected to
    take, before it is read: what the upload's answer and the UI show."""
    chars = exhibit.size * _TEXT_PER_BYTE.get(exhibit.media_type, 1.0)
    chars = min(chars, settings.exhibits_max_text_chars)
    step = max(1, settings.chunk_chars - settings.chunk_overlap_chars)
    passages = min(settings.exhibits_max_passages, max(1, round(chars / step)))
    return passages, round(passages / settings.exhibits_passages_per_second, 1)


async def _room(db: Database, settings: Settings, tenant_id: uuid.UUID) -> tuple[int, str]:
    """How many passages this exhibit may index, and which limit says so."""
    cap = settings.exhibits_max_passages
    why = f"the limit per exhibit is {cap}, JEEX_EXHIBITS_MAX_PASSAGES"
    async with db.tenant_session(tenant_id) as session:
        left = await quotas.passages_left(session, settings)
    if left is not None and left < cap:
        return left, f"the tenant's quota of indexed exhibit passages leaves {left}"
    return cap, why


class _Progress:
    """Writes how far indexing is (the exhibit's ``passages_indexed`` and an
    ``exhibit.progress`` event), at most every ``PROGRESS_SECONDS``."""

    def __init__(self, db: Database, tenant_id: uuid.UUID, exhibit_id: uuid.UUID) -> None:
        self.db, self.tenant_id, self.exhibit_id = db, tenant_id, exhibit_id
        self.written_at = time.monotonic()

    async def __call__(self, done: int, indexing: int) -> None:
        if done < indexing and time.monotonic() - self.written_at < PROGRESS_SECONDS:
            return
        self.written_at = time.monotonic()
        async with self.db.tenant_session(self.tenant_id) as session:
            exhibit = await get(session, exhibit_id=self.exhibit_id)
            if exhibit is None:  # deleted meanwhile: stop embedding what nobody will search
                raise NotFound(f"exhibit {self.exhibit_id} was deleted while it was indexed")
            if exhibit.status != ExhibitStatus.PENDING:
                return
            # While pending, ``passages`` is how many are being indexed; once ready, how
            # many the text has (more when only part of it was indexed).
            exhibit.passages, exhibit.passages_indexed = indexing, done
            await events_service.append(
                session,
                project_id=exhibit.project_id,
                type=EventType.EXHIBIT_PROGRESS,
                data={
                    "exhibit_id": str(self.exhibit_id),
                    "label": exhibit.label,
                    "passages_indexed": done,
                    "passages": indexing,
                },
            )


async def process(
    db: Database,
    settings: Settings,
    retrieval: Retrieval,
    *,
    tenant_id: uuid.UUID,
    exhibit_id: uuid.UUID,
    last_attempt: bool = True,
) -> str:
    """Extract, chunk, embed and index one exhibit; returns its final status.

    A file that cannot be read (encrypted or damaged PDF, zip bomb, no text) leaves the
    exhibit ``failed`` with the reason and nothing else changed, at once. A failure that
    a second try may not meet (extraction ran out of time, the embeddings endpoint or the
    vector store is unreachable, the database connection was lost) raises ``TryAgain``
    unless this is the ``last_attempt``: the exhibit stays pending, with the reason.

    At most ``JEEX_EXHIBITS_MAX_PASSAGES`` passages are indexed, and no more than the
    tenant's passage quota leaves: a longer text is ``ready`` and partially indexed, with
    the reason in ``error``. Progress is written as it goes (``_Progress``); an exhibit
    deleted meanwhile stops being indexed at the next batch.
    """
    async with db.tenant_session(tenant_id) as session:
        exhibit = await get(session, exhibit_id=exhibit_id)
        if exhibit is None or exhibit.status != ExhibitStatus.PENDING:
            return "skipped" if exhibit is None else exhibit.status
        project_id, media_type, path = exhibit.project_id, exhibit.media_type, exhibit.path
        filename = exhibit.filename
    scope = Scope(tenant_id, project_id)
    clock = time.perf_counter()
    # The passage counts a ready exhibit records (none for a failed one).
    counts: dict[str, int] = {}
    try:
        data = (_root(settings) / path).read_bytes()
        blocks = await extract.extract_isolated(
            data,
            media_type,
            extract.Limits.of(settings),
            timeout_seconds=settings.exhibits_extract_timeout_seconds,
            memory_mb=settings.exhibits_extract_memory_mb,
            cpu_seconds=settings.exhibits_extract_cpu_seconds,
        )
        chunks = await asyncio.to_thread(
            chunk_blocks, blocks, max_chars=settings.chunk_chars,
            overlap=settings.chunk_overlap_chars,
        )  # fmt: skip
        room, why = await _room(db, settings, tenant_id)
        if room == 0:
            raise QuotaExceeded(f"not indexed: {why}")
        taken = chunks[:room]
        source = Source(type=EXHIBIT, source_id=exhibit_id, title=filename)
        progress = _Progress(db, tenant_id, exhibit_id)
        await retrieval.index(
            scope, source, taken, progress=progress, batch=settings.embeddings_batch_size
        )
        status, chars = ExhibitStatus.READY, sum(len(b.text) for b in blocks)
        error = None
        if len(taken) < len(chunks):
            error = f"partially indexed: the first {len(taken)} of {len(chunks)} passages ({why})"
        counts = {"passages": len(chunks), "passages_indexed": len(taken)}
    except ExtractionFailed as exc:  # timed out or killed: transient; a refusal is not
        status, error, chars = ExhibitStatus.FAILED, exc.message, 0
        transient = exc.transient
    except AppError as exc:
        status, error, chars = ExhibitStatus.FAILED, exc.message, 0
        transient = isinstance(exc, EmbeddingsUnavailable)
    except (OSError, ValueError) as exc:
        status, error, chars = ExhibitStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500], 0
        transient = False
    except (ResponseHandlingException, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not is_connection_lost(exc):
            raise
        status, error, chars = ExhibitStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500], 0
        transient = True
    else:
        transient = False
    if transient and not last_attempt:
        assert error is not None
        log.warning("exhibit attempt failed; trying again", exhibit_id=str(exhibit_id),
                    reason=error)  # fmt: skip
        async with db.tenant_session(tenant_id) as session:
            pending = await get(session, exhibit_id=exhibit_id)
            if pending is not None and pending.status == ExhibitStatus.PENDING:
                pending.error = f"{error}; trying again"
        raise TryAgain(error)
    async with db.tenant_session(tenant_id) as session:
        exhibit = await get(session, exhibit_id=exhibit_id)
        if exhibit is None:  # deleted meanwhile: drop what was indexed
            await retrieval.remove_source(scope, exhibit_id)
            return "deleted"
        if exhibit.status != ExhibitStatus.PENDING:  # finished by another job meanwhile
            return exhibit.status
        lifecycle.move(exhibit, status, error=error, text_chars=chars, **counts)
        await events_service.append(
            session,
            project_id=project_id,
            type=EventType.EXHIBIT_PROCESSED,
            data={
                "exhibit_id": str(exhibit_id),
                "label": exhibit.label,
                "status": status,
                "error": error,
            },
        )
    metrics.EXHIBIT_SECONDS.labels(status).observe(time.perf_counter() - clock)
    if status == ExhibitStatus.FAILED:
        log.warning("exhibit failed", exhibit_id=str(exhibit_id), reason=error)
    elif error:
        log.info("exhibit partially indexed", exhibit_id=str(exhibit_id), reason=error)
    return status
