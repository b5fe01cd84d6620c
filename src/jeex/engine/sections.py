"""Checkpointed sections: how a section is streamed, retried, repaired and recorded.

An agent decides *what* to write; this part decides how. Every section is its own
transaction, so a crash loses at most the section being written, and a section
already completed (or locked by a user) is never written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError

from jeex import metrics
from jeex.agents import prompts
from jeex.agents.context import SectionResult
from jeex.agents.repair import Repaired, UnrepairableOutput, clean_section_markdown
from jeex.agents.repair_echo import drop_said, prompt_lines, sentences_of
from jeex.agents.repair_json import loads_lenient
from jeex.config import Settings
from jeex.db.retry import is_connection_lost, ride_out_restart
from jeex.engine.observer import PROGRESS_TOTAL
from jeex.engine.scope import RunScope
from jeex.errors import GenerationFailed, RunPaused, WorkerStopping, YieldTurn
from jeex.llm.client import LLMClient, Message
from jeex.llm.usage import Usage
from jeex.queue import fairness
from jeex.queue.app import EXECUTE_RUN, RUNS_QUEUE
from jeex.retrieval import citations
from jeex.retrieval.citations import Given
from jeex.runs import service as runs_service
from jeex.runs.models import RunSection
from jeex.tenants import quotas
from jeex.vocabulary import EventType, SectionStatus

log = structlog.get_logger("jeex.engine")
T = TypeVar("T")
DELTA_FLUSH_SECONDS = 0.25


@dataclass
class SectionWriter:
    """Writes the sections of one run (``jeex.agents.context.Sections``)."""

    scope: RunScope
    llm: LLMClient
    settings: Settings
    #: True once the worker is shutting down: the run then stops at the next section.
    stopping: Callable[[], bool] = field(default=lambda: False)
    #: True on queue workers: before each section the run may hand its slot to another
    #: tenant's waiting run (``jeex.queue.fairness``).
    takes_turns: bool = False
    #: What the run's sections cost so far, in this process.
    usage: Usage = field(default_factory=Usage)

    async def checkpointed(self, key: str) -> bool:
        async with self.scope.session() as session:
            row = await runs_service.get_section(session, run_id=self.scope.run_id, key=key)
        return row is not None and row.status == SectionStatus.COMPLETED

    async def written(self) -> list[str]:
        async with self.scope.session() as session:
            rows = await runs_service.list_sections(session, run_id=self.scope.run_id)
        return [r.content for r in rows if r.status == SectionStatus.COMPLETED and r.content]

    def announce_total(self, sections: int) -> None:
        """Tell a live display how many sections this run will write, once it is known."""
        self.scope.observer.event(self.scope.run_id, PROGRESS_TOTAL, {"sections": sections})

    async def _begin(self, key: str, position: int, title: str) -> RunSection | None:
        """Returns the finished row to reuse, or None after marking the section running."""
        return await ride_out_restart(lambda: self._begin_once(key, position, title))

    async def _begin_once(self, key: str, position: int, title: str) -> RunSection | None:
        async with self.scope.session() as session:
            row = await runs_service.get_section(session, run_id=self.scope.run_id, key=key)
            if row is not None and (row.status == SectionStatus.COMPLETED or row.locked):
                return row
            await runs_service.check_desired_state(session, run_id=self.scope.run_id)
            if self.stopping():
                raise WorkerStopping(f"worker stopping before section {key!r}")
            if self.takes_turns and await fairness.should_yield(
                session,
                queue=RUNS_QUEUE,
                task=EXECUTE_RUN,
                tenant_id=self.scope.tenant_id,
                grace_seconds=self.settings.queue_fair_share_grace_seconds,
            ):
                raise YieldTurn(f"another tenant's run is waiting (before section {key!r})")
            spent = await quotas.budget_left(session, self.settings)
            if spent is None:
                await runs_service.upsert_section(
                    session,
                    run_id=self.scope.run_id,
                    key=key,
                    position=position,
                    title=title,
                    status=SectionStatus.RUNNING,
                    attempts=(row.attempts if row else 0) + 1,
                    started_at=runs_service.now(),
                )
                started = {"key": key, "title": title}
                if self.scope.worker:
                    started["worker"] = self.scope.worker
                await self.scope.emit(session, EventType.SECTION_STARTED, started)
        if spent is not None:
            await self._pause_for_budget(spent)
        return None

    async def _pause_for_budget(self, spent: str) -> None:
        """Before a section: a tenant whose token or cost budget is spent pauses here (in a
        transaction of its own, committed before the pause is raised); the workers resume
        the run once the budget allows (``jeex.tasks.budgets``)."""
        async with self.scope.session() as session:
            await runs_service.pause_for_budget(session, run_id=self.scope.run_id)
        raise RunPaused(
            f"paused: the tenant's budget of {quotas.LABELS[spent]} is used up; "
            "the run resumes by itself once the budget allows"
        )

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
        metrics.SECTIONS.inc()

    async def _finish_once(
        self, key: str, *, content: str, usage: Usage, metadata: dict[str, Any], tail: str
    ) -> None:
        cost = usage.cost(self.settings)
        async with self.scope.session() as session:
            if tail:
                await self.scope.delta(session, key, tail)
            await runs_service.upsert_section(
                session,
                run_id=self.scope.run_id,
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
                run_id=self.scope.run_id,
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                cost=cost,
            )
            await self.scope.emit(
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

    async def write(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages: list[Message],
        max_tokens: int,
        sources: Sequence[Given] = (),
        said: set[str] | None = None,
    ) -> SectionResult:
        """Stream one prose section (skipped when already done); one retry if it comes out empty.

        With ``sources``, the section records which passages it was given and which it
        cited; a citation of anything else is removed from the text and recorded.
        With ``said`` (the run's sentences so far), a sentence already written is dropped
        and recorded; a section left empty by that is written again, once.
        """
        row = await self._begin(key, position, title)
        if row is not None:
            if said is not None:
                said |= sentences_of(row.content)
            return SectionResult(
                content=row.content,
                usage=_recorded_usage(row),
                reused=True,
                cited=tuple(row.metadata_.get("cited") or ()),
                invented=tuple(row.metadata_.get("invented_citations") or ()),
            )
        return await self._prose(key, title, messages, max_tokens, sources, said)

    async def _prose(
        self,
        key: str,
        title: str,
        messages: list[Message],
        max_tokens: int,
        sources: Sequence[Given] = (),
        said: set[str] | None = None,
        usage: Usage | None = None,
    ) -> SectionResult:
        """``write`` after the section was marked running."""
        usage = usage or Usage()
        given = prompt_lines(messages)  # the original prompt: what an echo would repeat
        for attempt in range(2):
            text, call_usage, tail = await self._stream(key, messages, max_tokens)
            usage.add(call_usage)
            try:
                cleaned = clean_section_markdown(text, title=title, prompt=given)
            except UnrepairableOutput:
                if attempt == 0:
                    continue
                try:  # all of it echoed the prompt, twice: kept, and the check shows it
                    cleaned = clean_section_markdown(text, title=title)
                except UnrepairableOutput:
                    continue
            content, fixes = cleaned.value, list(cleaned.fixes)
            if said is not None:
                kept, dropped = drop_said(content, set(said))
                if not kept.strip() and attempt == 0:
                    # Everything was said before: ask once more, naming what not to repeat.
                    messages = prompts.avoid_repeating(messages, dropped)
                    continue
                if dropped:
                    # Said before, even when asked once more: what repeats is dropped (a
                    # section left empty is left out of the document; its check names it).
                    content = kept
                    fixes.append(
                        f"removed {len(dropped)} sentence(s) already written in the package: "
                        + "; ".join(f"'{d[:80]}'" for d in dropped[:5])
                    )
                said |= sentences_of(content)
            metadata: dict[str, Any] = {"fixes": fixes}
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
                content=content, usage=usage, fixes=tuple(fixes), cited=cited, invented=invented
            )
        if not text.strip():
            raise GenerationFailed(f"the model wrote nothing for section {title!r}, twice")
        # It wrote, twice, only what the rules remove (its prompt's labels, text about the
        # text): the section is left out and named by the document's check, rather than
        # failing a plan minutes in (the benchmark lost a Russian plan at an epic's Scope).
        fixes = [f"left out: twice the model wrote only prompt text ({text.strip()[:80]!r})"]
        await self._finish(key, content="", usage=usage, metadata={"fixes": fixes}, tail=tail)
        return SectionResult(content="", usage=usage, fixes=tuple(fixes))

    async def _stream(
        self, key: str, messages: list[Message], max_tokens: int
    ) -> tuple[str, Usage, str]:
        """Stream one answer; returns its text, its usage and the text not yet in an event."""
        pending: list[str] = []

        def on_delta(text: str) -> None:
            pending.append(text)
            self.scope.observer.delta(self.scope.run_id, key, text)

        async def flush() -> None:
            if not pending:
                return
            taken = pending[:]
            pending.clear()
            chunk = "".join(taken)
            try:
                async with self.scope.session() as session:
                    await self.scope.delta(session, key, chunk)
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
                messages,
                max_tokens=max_tokens,
                on_delta=on_delta,
                on_restart=pending.clear,
                stop=prompts.SECTION_STOPS,
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return completion.text, completion.usage, "".join(pending)

    async def items(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages: list[Message],
        schema: dict[str, Any],
        render: Callable[[Any], Repaired[str]],
        max_tokens: int,
        prose: list[Message],
        said: set[str] | None = None,
    ) -> SectionResult:
        """A list section: JSON items under ``schema``, turned into Markdown by ``render``
        (which applies the list rules); one stricter retry, then the section is written
        from the ``prose`` prompt like any other, so a model without JSON still finishes
        the document."""
        row = await self._begin(key, position, title)
        if row is not None:
            return SectionResult(content=row.content, usage=_recorded_usage(row), reused=True)
        usage, problem = Usage(), ""
        for strict in (False, True):
            asked = messages if not strict else prompts.stricter_items(messages)
            completion = await self.llm.complete_json(
                asked, schema=schema, name=schema["title"], max_tokens=max_tokens
            )
            usage.add(completion.usage)
            try:
                rendered = render(loads_lenient(completion.text))
            except (ValueError, UnrepairableOutput) as exc:
                problem = _short(exc)
                continue
            fixes = [*rendered.fixes, *(["stricter retry"] if strict else [])]
            await self._finish(
                key,
                content=rendered.value,
                usage=usage,
                metadata={"fixes": fixes, "items_json": True},
                tail=rendered.value,
            )
            return SectionResult(content=rendered.value, usage=usage, fixes=tuple(fixes))
        log.info("section.items_fell_back_to_prose", key=key, problem=problem)
        return await self._prose(key, title, prose, max_tokens, said=said, usage=usage)

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


def _recorded_usage(row: RunSection) -> Usage:
    """What a section cost when it was written, so a resumed document still counts it."""
    seconds = 0.0
    if row.started_at is not None and row.finished_at is not None:
        seconds = (row.finished_at - row.started_at).total_seconds()
    return Usage(tokens_in=row.tokens_in, tokens_out=row.tokens_out, seconds=seconds)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
