"""The services an agent uses while it runs: checkpointed sections, structured calls, saving.

An agent decides *what* to write; this class decides how a section is
checkpointed, streamed, retried, budgeted and recorded. Every section is its own
transaction, so a crash loses at most the section being written, and a section
already completed (or locked by a user) is never written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.agents.prompts import Brief
from jeex.agents.repair import Repaired, UnrepairableOutput, clean_section_markdown
from jeex.agents.repair_json import loads_lenient
from jeex.config import Settings
from jeex.db.retry import is_connection_lost, ride_out_restart
from jeex.db.session import Database
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.errors import GenerationFailed, WorkerStopping
from jeex.events import service as events_service
from jeex.exhibits import service as exhibits_service
from jeex.llm.client import LLMClient, Message
from jeex.llm.usage import Usage
from jeex.retrieval import citations
from jeex.retrieval.chunking import chunk_text
from jeex.retrieval.citations import Given
from jeex.retrieval.service import DOCUMENT, EXHIBIT, Retrieval, Source
from jeex.retrieval.store import Scope
from jeex.runs import claims
from jeex.runs import service as runs_service
from jeex.runs.observer import NullObserver, RunObserver
from jeex.vocabulary import EventType, SectionStatus

T = TypeVar("T")
log = structlog.get_logger(__name__)
DELTA_FLUSH_SECONDS = 0.25
CLAIM_POLL_SECONDS = 0.5


@dataclass
class SectionResult:
    """A finished section: its cleaned text and what it cost."""

    content: str
    usage: Usage
    fixes: tuple[str, ...] = ()
    reused: bool = False
    #: The passages the section cites (their Sources entries).
    cited: tuple[dict[str, Any], ...] = ()
    #: Citations the model made up (removed from ``content``).
    invented: tuple[str, ...] = ()


@dataclass
class RunContext:
    db: Database
    llm: LLMClient
    settings: Settings
    tenant_id: uuid.UUID
    run_id: uuid.UUID
    project_id: uuid.UUID
    project_name: str
    step: int
    brief: Brief
    created_by: uuid.UUID | None
    observer: RunObserver = field(default_factory=NullObserver)
    usage: Usage = field(default_factory=Usage)
    #: True once the worker is shutting down: the run then stops at the next section.
    stopping: Callable[[], bool] = field(default=lambda: False)
    #: Queues helper jobs that share this run's independent units (set by a queue worker).
    helpers: Callable[[AsyncSession, int], Awaitable[int]] | None = None
    #: Who is writing, recorded on ``section.started`` so operators see which worker did.
    worker: str = ""
    #: The process's embedder and vector store; None runs without retrieval or indexing.
    retrieval: Retrieval | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.project_id)

    def session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.db.tenant_session(self.tenant_id)

    async def emit(self, session: AsyncSession, type: EventType, data: dict[str, Any]) -> None:
        await events_service.append(
            session, project_id=self.project_id, run_id=self.run_id, type=type, data=data
        )
        self.observer.event(self.run_id, type, data)

    def claim(self, unit: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Hold one independent unit of this run (an epic) while writing it."""
        return claims.try_claim(self.db.engine, self.run_id, unit)

    async def wait_for_claim(self) -> None:
        """Between tries for a unit another process holds: pause, cancel and drain apply."""
        async with self.session() as session:
            await runs_service.check_desired_state(session, self.run_id)
        if self.stopping():
            raise WorkerStopping("worker stopping while waiting for another worker's unit")
        await asyncio.sleep(CLAIM_POLL_SECONDS)

    async def request_helpers(self, units: int) -> None:
        """Ask other workers to share ``units`` independent units (no-op outside a queue)."""
        wanted = min(units, self.settings.queue_fanout_jobs)
        if self.helpers is None or wanted <= 0:
            return
        async with self.session() as session:
            await self.helpers(session, wanted)

    async def checkpointed(self, key: str) -> bool:
        async with self.session() as session:
            row = await runs_service.get_section(session, self.run_id, key)
        return row is not None and row.status == "completed"

    def announce_total(self, sections: int) -> None:
        """Tell a live display how many sections this run will write, once it is known."""
        self.observer.event(self.run_id, "progress.total", {"sections": sections})

    async def _begin(self, key: str, position: int, title: str) -> Any:
        """Returns the finished row to reuse, or None after marking the section running."""
        return await ride_out_restart(lambda: self._begin_once(key, position, title))

    async def _begin_once(self, key: str, position: int, title: str) -> Any:
        async with self.session() as session:
            row = await runs_service.get_section(session, self.run_id, key)
            if row is not None and (row.status == "completed" or row.locked):
                return row
            await runs_service.check_desired_state(session, self.run_id)
            if self.stopping():
                raise WorkerStopping(f"worker stopping before section {key!r}")
            await runs_service.upsert_section(
                session,
                run_id=self.run_id,
                key=key,
                position=position,
                title=title,
                status=SectionStatus.RUNNING,
                attempts=(row.attempts if row else 0) + 1,
                started_at=runs_service.now(),
            )
            started = {"key": key, "title": title}
            if self.worker:
                started["worker"] = self.worker
            await self.emit(session, EventType.SECTION_STARTED, started)
        return None

    async def _finish(
        self, key: str, *, content: str, usage: Usage, metadata: dict[str, Any], tail: str = ""
    ) -> None:
        """Checkpoint a finished section; the last streamed text rides in the same transaction."""
        self.usage.add(usage)
        await ride_out_restart(
            lambda: self._finish_once(
                key, content=content, usage=usage, metadata=metadata, tail=tail
            )
        )

    async def _finish_once(
        self, key: str, *, content: str, usage: Usage, metadata: dict[str, Any], tail: str
    ) -> None:
        cost = usage.cost(self.settings)
        async with self.session() as session:
            if tail:
                await events_service.append(
                    session,
                    project_id=self.project_id,
                    run_id=self.run_id,
                    type=EventType.SECTION_DELTA,
                    data={"key": key, "text": tail},
                )
            await runs_service.upsert_section(
                session,
                run_id=self.run_id,
                key=key,
                status=SectionStatus.COMPLETED,
                content=content,
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                metadata_=metadata,
                finished_at=runs_service.now(),
            )
            await runs_service.add_usage(
                session,
                self.run_id,
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                cost=cost,
            )
            await self.emit(
                session,
                EventType.SECTION_COMPLETED,
                {
                    "key": key,
                    "words": len(content.split()),
                    "tokens_in": usage.tokens_in,
                    "tokens_out": usage.tokens_out,
                    "seconds": round(usage.seconds, 3),
                },
            )

    async def write_section(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages: list[Message],
        max_tokens: int,
        sources: Sequence[Given] = (),
    ) -> SectionResult:
        """Stream one prose section (skipped when already done); one retry if it comes out empty.

        With ``sources``, the section records which passages it was given and which it
        cited; a citation of anything else is removed from the text and recorded.
        """
        row = await self._begin(key, position, title)
        if row is not None:
            return SectionResult(
                content=row.content,
                usage=_recorded_usage(row),
                reused=True,
                cited=tuple(row.metadata_.get("cited") or ()),
                invented=tuple(row.metadata_.get("invented_citations") or ()),
            )
        usage = Usage()
        for _attempt in range(2):
            text, call_usage, tail = await self._stream(key, messages, max_tokens)
            usage.add(call_usage)
            try:
                cleaned = clean_section_markdown(text, title=title)
            except UnrepairableOutput:
                continue
            content = cleaned.value
            metadata: dict[str, Any] = {"fixes": list(cleaned.fixes)}
            cited: tuple[dict[str, Any], ...] = ()
            invented: tuple[str, ...] = ()
            if sources:
                checked = citations.check(content, sources)
                by_label = {g.label: g.source_entry() for g in sources}
                cited = tuple(by_label[label] for label in checked.cited)
                content, invented = checked.text, checked.invented
                metadata |= {
                    "context": [g.source_entry() for g in sources],
                    "cited": list(cited),
                    "invented_citations": list(checked.invented),
                }
            await self._finish(key, content=content, usage=usage, metadata=metadata, tail=tail)
            return SectionResult(
                content=content, usage=usage, fixes=cleaned.fixes, cited=cited, invented=invented
            )
        raise GenerationFailed(f"the model wrote nothing usable for section {title!r}, twice")

    async def _stream(
        self, key: str, messages: list[Message], max_tokens: int
    ) -> tuple[str, Usage, str]:
        """Stream one answer; returns its text, its usage and the text not yet in an event."""
        pending: list[str] = []

        def on_delta(text: str) -> None:
            pending.append(text)
            self.observer.delta(self.run_id, key, text)

        async def flush() -> None:
            if not pending:
                return
            taken = pending[:]
            pending.clear()
            chunk = "".join(taken)
            try:
                async with self.session() as session:
                    await events_service.append(
                        session,
                        project_id=self.project_id,
                        run_id=self.run_id,
                        type=EventType.SECTION_DELTA,
                        data={"key": key, "text": chunk},
                    )
            except Exception as exc:
                # Deltas are a live view; the section's checkpoint is what counts. Keep
                # the text for the next flush (or the checkpoint's own last delta).
                if not is_connection_lost(exc):
                    raise
                pending[:0] = taken

        async def flusher() -> None:
            while True:
                await asyncio.sleep(DELTA_FLUSH_SECONDS)
                await flush()

        task = asyncio.create_task(flusher())
        try:
            completion = await self.llm.stream_text(
                messages, max_tokens=max_tokens, on_delta=on_delta, on_restart=pending.clear
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return completion.text, completion.usage, "".join(pending)

    async def structured(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages_for: Callable[[bool], list[Message]],
        schema: dict[str, Any],
        parse: Callable[[Any], Repaired[T]],
        max_tokens: int = 900,
    ) -> Repaired[T]:
        """A JSON answer, validated and repaired; one stricter retry; checkpointed raw."""
        row = await self._begin(key, position, title)
        if row is not None:
            return parse(json.loads(row.content))
        usage, problem = Usage(), ""
        for strict in (False, True):
            completion = await self.llm.complete_json(
                messages_for(strict), schema=schema, name=schema["title"], max_tokens=max_tokens
            )
            usage.add(completion.usage)
            try:
                data = loads_lenient(completion.text)
                repaired = parse(data)
            except (ValueError, ValidationError, UnrepairableOutput) as exc:
                problem = _short(exc)
                continue
            await self._finish(
                key,
                content=json.dumps(data, ensure_ascii=False),
                usage=usage,
                metadata={"fixes": list(repaired.fixes), "strict_retry": strict},
            )
            return repaired
        raise GenerationFailed(
            f"{title}: the model's answer could not be repaired, even after a stricter retry "
            f"({problem})"
        )

    async def has_exhibits(self) -> bool:
        """True when the project has a ready exhibit (then sections retrieve passages)."""
        if self.retrieval is None:
            return False
        async with self.session() as session:
            found = await exhibits_service.list_(session, project_id=self.project_id)
        return any(e.status == "ready" for e in found)

    async def retrieve(
        self, query: str, *, budget_chars: int, document_types: Sequence[str]
    ) -> list[Given]:
        """The passages for one section: exhibits and earlier documents, within the budget."""
        if self.retrieval is None or budget_chars <= 0 or self.settings.retrieval_top_k == 0:
            return []
        # Exhibits and earlier documents are searched apart and taken in turns, so the
        # user's material is never crowded out by the (longer) earlier documents.
        limit = self.settings.retrieval_top_k
        exhibits = await self.retrieval.search(self.scope, query, limit=limit, types=[EXHIBIT])
        documents = (
            await self.retrieval.search(
                self.scope,
                query,
                limit=limit,
                types=[DOCUMENT],
                document_types=list(document_types),
            )
            if document_types
            else []
        )
        passages = [p for pair in zip_longest(exhibits, documents) for p in pair if p][:limit]
        async with self.session() as session:
            labels = exhibits_service.labels(
                await exhibits_service.list_(session, project_id=self.project_id)
            )
        return citations.label_passages(passages, labels, budget_chars=budget_chars)

    async def index_document(self, document: DocumentVersion) -> None:
        """Index a new document version for later retrieval and search.

        The vectors are derived data: a failure is logged and the run goes on (search
        then misses this version until the next one is indexed).
        """
        if self.retrieval is None:
            return
        chunks = chunk_text(
            document.content,
            max_chars=self.settings.chunk_chars,
            overlap=self.settings.chunk_overlap_chars,
        )
        source = Source(
            type=DOCUMENT,
            source_id=document.id,
            title=document.title,
            version=document.version,
            lang=self.brief.language,
            document_type=document.document_type,
            document_key=f"{document.document_type}:{document.epic_number}",
        )
        try:
            await self.retrieval.index_document_version(self.scope, source, chunks)
        except Exception as exc:
            log.warning("document not indexed", document_id=str(document.id), error=str(exc))

    async def earlier_documents(self, document_types: tuple[str, ...]) -> list[DocumentVersion]:
        async with self.session() as session:
            found = [
                await documents_service.latest(
                    session, project_id=self.project_id, document_type=kind
                )
                for kind in document_types
            ]
        return [doc for doc in found if doc is not None]

    async def save_document(
        self,
        *,
        document_type: str,
        epic_number: int,
        title: str,
        content: str,
        metadata: dict[str, Any],
    ) -> DocumentVersion:
        document, created = await ride_out_restart(
            lambda: self._save_document_once(
                document_type=document_type,
                epic_number=epic_number,
                title=title,
                content=content,
                metadata=metadata,
            )
        )
        if created:  # a reused version was indexed by the job that wrote it
            await self.index_document(document)
        return document

    async def _save_document_once(
        self,
        *,
        document_type: str,
        epic_number: int,
        title: str,
        content: str,
        metadata: dict[str, Any],
    ) -> tuple[DocumentVersion, bool]:
        """The run's version of this document, and whether this call created it."""
        async with self.session() as session:
            existing = await documents_service.get_for_run(
                session, run_id=self.run_id, document_type=document_type, epic_number=epic_number
            )
            if existing is not None:  # written by another job of this run: reuse, no event
                return existing, False
            document = await documents_service.create_version(
                session,
                project_id=self.project_id,
                run_id=self.run_id,
                document_type=document_type,
                epic_number=epic_number,
                title=title,
                content=content,
                language=self.brief.language,
                metadata=metadata,
                created_by=self.created_by,
            )
            await self.emit(
                session,
                EventType.DOCUMENT_CREATED,
                {
                    "document_id": str(document.id),
                    "document_type": document_type,
                    "epic_number": epic_number,
                    "version": document.version,
                    "title": title,
                },
            )
        return document, True


def _recorded_usage(row: Any) -> Usage:
    """What a section cost when it was written, so a resumed document still counts it."""
    seconds = 0.0
    if row.started_at is not None and row.finished_at is not None:
        seconds = (row.finished_at - row.started_at).total_seconds()
    return Usage(tokens_in=row.tokens_in, tokens_out=row.tokens_out, seconds=seconds)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
