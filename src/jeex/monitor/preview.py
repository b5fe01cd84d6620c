"""The preview of a document (or of a plan project's current runs) from one query.

The specification's monitor page polls this every two seconds, so it is one round trip
(``runs.current_state``: the project, its current attempt at each kind, their sections,
its exhibits and the last 50 events as one row); everything else is arithmetic here.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.documents.html import cached_markdown_to_html
from jeex.errors import NotFound
from jeex.monitor.schemas import (
    DocumentStatus,
    PreviewExhibit,
    PreviewLog,
    PreviewMetadata,
    PreviewOut,
    PreviewSection,
)
from jeex.runs import current_state
from jeex.runs import service as runs_service
from jeex.vocabulary import DesiredState, EventType, RunStatus

LOG_LINES = 50
#: Rows the engine writes that are no section of the text (the review's structured call).
_NOT_TEXT = "review/"

#: Tenant template versions never change once written: their kinds are kept here.
_PINNED: OrderedDict[uuid.UUID, kinds.Kind] = OrderedDict()


def document_status(run: dict[str, Any] | None) -> DocumentStatus:
    """The specification's state of a document whose current run is ``run``."""
    if run is None:
        return DocumentStatus.IDLE
    status, desired = run["status"], run["desired_state"]
    if status == RunStatus.COMPLETED:
        return DocumentStatus.COMPLETED
    if status == RunStatus.FAILED:
        return DocumentStatus.ERROR
    if status == RunStatus.CANCELLED or desired == DesiredState.CANCELLED:
        return DocumentStatus.IDLE
    if status == RunStatus.PAUSED or desired == DesiredState.PAUSED:
        return DocumentStatus.PAUSED
    return DocumentStatus.GENERATING


async def _kind(session: AsyncSession, run: dict[str, Any]) -> kinds.Kind | None:
    template_id = run.get("template_id")
    if template_id is None:
        try:
            return kinds.get(run["kind"])
        except Exception:  # a kind no longer installed: its rows still show
            return None
    key = uuid.UUID(str(template_id))
    kind = _PINNED.get(key)
    if kind is None:
        kind = _PINNED[key] = await kinds.pinned(session, key)
        if len(_PINNED) > 256:
            _PINNED.popitem(last=False)
    return kind


def _section_status(status: str) -> str:
    return "generating" if status == "running" else status


def _log(event: dict[str, Any], agents: dict[str, str], titles: dict[str, str]) -> PreviewLog:
    kind, data = event["type"], event.get("data") or {}
    if "key" in data and "title" not in data and data["key"] in titles:
        data = {**data, "title": titles[data["key"]]}
    level = "info"
    if kind == EventType.RUN_FAILED or (
        kind == EventType.EXHIBIT_PROCESSED and data.get("status") == "failed"
    ):
        level = "error"
    elif kind == EventType.RUN_PAUSED and data.get("paused_by"):
        level = "warning"
    return PreviewLog(
        timestamp=event["created_at"],
        level=level,
        message=log_message(kind, data),
        agent=agents.get(str(event.get("run_id")), "user" if not event.get("run_id") else ""),
    )


def log_message(kind: str, data: dict[str, Any]) -> str:
    """An event as one line a person reads. Only the line asked for is formatted: the
    preview formats 50 of them on every poll."""
    what = data.get("title") or data.get("key") or ""
    match kind:
        case EventType.RUN_QUEUED:
            return "Queued for a worker"
        case EventType.RUN_STARTED:
            return f"Started writing (attempt {data.get('attempt', 1)})"
        case EventType.RUN_RESUMED:
            return "Resumed"
        case EventType.RUN_PAUSED:
            return "Paused" + (f": {data['reason']}" if data.get("reason") else "")
        case EventType.RUN_CANCELLED:
            return "Cancelled"
        case EventType.RUN_FAILED:
            return f"Failed: {data.get('error') or 'unknown error'}"
        case EventType.RUN_COMPLETED:
            return "Completed"
        case EventType.SECTION_STARTED:
            return f"Writing {what}"
        case EventType.SECTION_COMPLETED:
            return f"Finished {what} ({data.get('words', 0)} words)"
        case EventType.DOCUMENT_CREATED:
            return f"Saved version {data.get('version', 1)} of {what}"
        case EventType.EXPORT_READY:
            return "Export ready"
        case EventType.EXHIBIT_ADDED:
            return f"Exhibit {data.get('label', '')} uploaded: {data.get('filename', '')}"
        case EventType.EXHIBIT_PROGRESS:
            done, total = data.get("passages_indexed", 0), data.get("passages", 0)
            return f"Exhibit {data.get('label', '')}: {done} of {total} passages indexed"
        case EventType.EXHIBIT_PROCESSED:
            outcome = "ready" if data.get("status") == "ready" else f"failed: {data.get('error')}"
            if data.get("status") == "ready" and data.get("error"):
                outcome = f"ready, {data['error']}"
            return f"Exhibit {data.get('label', '')} {outcome}"
    return str(kind)


async def preview(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    download_base: str,
    documents_only: bool = False,
) -> PreviewOut:
    """The document's (or plan's) preview; ``download_base`` prefixes exhibit downloads.
    ``documents_only``: a plan project's id is a 404 (``/documents/{id}/preview``)."""
    row = await current_state.read(
        session, project_id=project_id, log_lines=LOG_LINES, documents_only=documents_only
    )
    if row is None:
        raise NotFound(f"no document {project_id}")
    now = datetime.now().astimezone()
    runs: list[dict[str, Any]] = row["runs"]
    rows: list[dict[str, Any]] = row["sections"]
    written = {(r["run_id"], r["key"]): r for r in rows}
    sections: list[PreviewSection] = []
    total = done = 0
    for run in runs:
        run_rows = [r for r in rows if r["run_id"] == run["id"]]
        expected = runs_service.expected_sections(
            kind=run["kind"],
            sections_expected=run["sections_expected"],
            template_id=run["template_id"],
            written=len(run_rows),
        )
        complete = run["status"] == RunStatus.COMPLETED
        total += expected
        done += expected if complete else sum(r["status"] == "completed" for r in run_rows)
        kind = await _kind(session, run)
        planned = [(s.key, s.title) for s in kind.template.sections] if kind else []
        keys = [key for key, _ in planned]
        keys += [
            r["key"]
            for r in run_rows
            if r["key"] not in keys and not r["key"].startswith(_NOT_TEXT)
        ]
        titles = dict(planned)
        for key in keys:
            found = written.get((run["id"], key))
            sections.append(
                PreviewSection(
                    section_id=key,
                    section_name=found["title"] if found else titles.get(key, key),
                    section_order=len(sections) + 1,
                    status=_section_status(found["status"]) if found else "pending",
                    content_html=(
                        cached_markdown_to_html(found["content"])
                        if found and found["content"]
                        else ""
                    ),
                    updated_at=found["updated_at"] if found else None,
                    tokens_used=(found["tokens_in"] + found["tokens_out"]) if found else 0,
                )
            )
    active = [r for r in runs if r["status"] in ("pending", "running", "paused")]
    current = active[0] if active else (runs[-1] if runs else None)
    elapsed = sum(current_state.run_seconds(run, now) for run in runs)
    tokens_out = sum(run["tokens_out"] for run in runs)
    remaining = None
    if done and elapsed > 0 and done < total:
        remaining = round(elapsed / done * (total - done), 1)
    elif total and done >= total:
        remaining = 0.0
    agents = {str(run["id"]): run["agent_type"] for run in runs}
    titles_by_key = {r["key"]: r["title"] for r in rows}
    return PreviewOut(
        id=row["id"],
        kind=row["kind"],
        title=row["name"],
        case_ref=row["case_ref"],
        status=document_status(current),
        run_id=current["id"] if current else None,
        run_status=current["status"] if current else None,
        sections=sections,
        exhibits=[
            PreviewExhibit(
                exhibit_id=e["label"],
                filename=e["filename"],
                file_size=e["size"],
                mime_type=e["media_type"],
                uploaded_at=e["created_at"],
                status=e["status"],
                download_url=f"{download_base}/exhibits/{quote(e['label'])}/file",
            )
            for e in row["exhibits"]
        ],
        metadata=PreviewMetadata(
            total_sections=total,
            completed_sections=done,
            progress_percentage=round(100 * done / total, 1) if total else 0.0,
            elapsed_time=round(elapsed, 3),
            estimated_remaining=remaining,
            total_tokens=sum(run["tokens_in"] for run in runs) + tokens_out,
            estimated_cost=str(sum((Decimal(str(run["cost"])) for run in runs), Decimal(0))),
        ),
        logs=[_log(event, agents, titles_by_key) for event in row["logs"]],
        last_seq=row["last_event_seq"],
    )
