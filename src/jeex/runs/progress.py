"""A project's progress as one snapshot: what the CLI prints now and the API serves next.

Built from the database only (runs, sections, events), so any process on any machine
gives the same answer. The ETA divides the tokens still expected by the tokens per second
observed so far; before the first finished section there is none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.documents.html import cached_markdown_to_html
from jeex.errors import NotFound
from jeex.projects.models import Project
from jeex.runs import current_state
from jeex.runs import service as runs_service
from jeex.vocabulary import RunStatus, SectionStatus

LOG_LINES = 50


@dataclass
class SectionProgress:
    key: str
    title: str
    status: str
    tokens_out: int
    #: The text so far as sanitised HTML; only when asked for (the API's preview).
    html: str | None = None


@dataclass
class RunProgress:
    id: str
    kind: str
    step: int | None
    status: str
    desired_state: str
    sections_done: int
    sections_expected: int
    tokens_in: int
    tokens_out: int
    cost: str
    elapsed_seconds: float
    sections: list[SectionProgress] = field(default_factory=list)


@dataclass
class ProjectProgress:
    project_id: str
    status: str
    percentage: float
    elapsed_seconds: float
    eta_seconds: float | None
    tokens_per_second: float | None
    tokens_in: int
    tokens_out: int
    cost: str
    runs: list[RunProgress]
    log: list[str]
    #: The newest event's seq: a page that shows this snapshot follows the stream from here.
    last_seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self, dict_factory=_without_unasked_html)


def _without_unasked_html(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in items if not (key == "html" and value is None)}


def _section(section: dict[str, Any], *, with_html: bool) -> SectionProgress:
    html = None
    if with_html:
        html = cached_markdown_to_html(section["content"]) if section["content"] else ""
    return SectionProgress(
        section["key"], section["title"], section["status"], section["tokens_out"], html=html
    )


def _run_progress(
    run: dict[str, Any], sections: list[dict[str, Any]], now: datetime, *, with_html: bool
) -> RunProgress:
    done = sum(1 for s in sections if s["status"] == SectionStatus.COMPLETED)
    expected = runs_service.expected_sections(
        kind=run["kind"],
        sections_expected=run["sections_expected"],
        template_id=run["template_id"],
        written=len(sections),
    )
    return RunProgress(
        id=str(run["id"]),
        kind=run["kind"],
        step=run["step"],
        status=run["status"],
        desired_state=run["desired_state"],
        sections_done=expected if run["status"] == RunStatus.COMPLETED else done,
        sections_expected=expected,
        tokens_in=run["tokens_in"],
        tokens_out=run["tokens_out"],
        cost=run["cost"],
        elapsed_seconds=round(current_state.run_seconds(run, now), 3),
        sections=[_section(s, with_html=with_html) for s in sections],
    )


def _log_line(event: dict[str, Any]) -> str:
    data = event["data"] or {}
    created = datetime.fromisoformat(event["created_at"])  # never null
    return f"{created:%H:%M:%S} {event['type']} {data.get('key') or data.get('step') or ''}".strip()


async def snapshot(
    session: AsyncSession, *, project: Project, with_html: bool = False
) -> ProjectProgress:
    """The project's progress now: its current attempt at each step (a cancelled and
    re-run step counts once). ``with_html`` adds each section's text so far as sanitised
    HTML, from the rows the snapshot reads anyway. One statement (``current_state``):
    pages poll this."""
    now = runs_service.now()
    state = await current_state.read(session, project_id=project.id, log_lines=LOG_LINES)
    if state is None:  # deleted since the caller loaded it
        raise NotFound(f"no project {project.id}")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for section in state["sections"]:
        by_run.setdefault(str(section["run_id"]), []).append(section)
    runs = [
        _run_progress(run, by_run.get(str(run["id"]), []), now, with_html=with_html)
        for run in state["runs"]
    ]
    done = sum(r.sections_done for r in runs)
    expected = sum(r.sections_expected for r in runs) or 1
    tokens_out = sum(r.tokens_out for r in runs)
    elapsed = sum(r.elapsed_seconds for r in runs)
    rate = tokens_out / elapsed if elapsed > 0 and tokens_out else None
    eta = None
    if rate and done:
        remaining_tokens = tokens_out / done * (expected - done)
        eta = round(remaining_tokens / rate, 1)
    return ProjectProgress(
        project_id=str(project.id),
        status=project.status,
        percentage=round(100 * done / expected, 1),
        elapsed_seconds=round(elapsed, 3),
        eta_seconds=eta,
        tokens_per_second=round(rate, 2) if rate else None,
        tokens_in=sum(r.tokens_in for r in runs),
        tokens_out=tokens_out,
        cost=str(sum((Decimal(r.cost) for r in runs), Decimal(0))),
        runs=runs,
        log=[_log_line(event) for event in state["logs"]],
        last_seq=state["last_event_seq"] or 0,
    )
