"""A project's current state in one round trip: what the preview and the progress snapshot
are built from.

Both are polled (the specification's monitor page every two seconds), so each is one
statement: the project, its current attempt at each kind (the newest run of each: an
earlier, cancelled run is history, not progress), those runs' sections with their text,
the project's exhibits and its last events come back as one row of JSON aggregates.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

_QUERY = text(
    """
    with cur as (
        select distinct on (r.kind) r.id, r.kind, r.step, r.status, r.desired_state,
               r.agent_type, r.sections_expected, r.template_id, r.tokens_in, r.tokens_out,
               r.cost::text as cost, r.started_at, r.finished_at, r.created_at, r.paused_by
        from runs r
        where r.project_id = :project_id
        order by r.kind, r.created_at desc, r.id desc
    )
    select p.id, p.kind, p.name, p.case_ref, p.last_event_seq,
        coalesce((
            select json_agg(row_to_json(c) order by c.step nulls last, c.created_at)
            from cur c
        ), '[]') as runs,
        coalesce((
            select json_agg(json_build_object(
                'run_id', s.run_id, 'key', s.key, 'title', s.title, 'status', s.status,
                'content', s.content, 'updated_at', s.updated_at, 'tokens_in', s.tokens_in,
                'tokens_out', s.tokens_out
            ) order by c.step nulls last, c.created_at, s.position)
            from run_sections s join cur c on c.id = s.run_id
        ), '[]') as sections,
        coalesce((
            select json_agg(json_build_object(
                'id', e.id, 'label', e.label, 'filename', e.filename, 'size', e.size,
                'media_type', e.media_type, 'created_at', e.created_at, 'status', e.status
            ) order by e.created_at, e.id)
            from exhibits e where e.project_id = p.id
        ), '[]') as exhibits,
        coalesce((
            select json_agg(l order by l.seq)
            from (
                select ev.seq, ev.type, ev.data, ev.created_at, ev.run_id
                from events ev
                where ev.project_id = p.id and ev.type <> 'section.delta'
                order by ev.seq desc
                limit :log_lines
            ) l
        ), '[]') as logs
    from projects p
    where p.id = :project_id and p.deleted_at is null
      and (p.kind <> 'plan' or not cast(:only as boolean))
    """
)


async def read(
    session: AsyncSession, *, project_id: uuid.UUID, log_lines: int, documents_only: bool = False
) -> RowMapping | None:
    """The row (``id, kind, name, case_ref, last_event_seq, runs, sections, exhibits,
    logs``), or None when there is no such project (or, with ``documents_only``, when it
    is a plan). Runs are in step order; sections in their run's order, then position;
    logs oldest first, ``section.delta`` left out."""
    parameters = {"project_id": project_id, "log_lines": log_lines, "only": documents_only}
    return (await session.execute(_QUERY, parameters)).mappings().one_or_none()


def run_seconds(run: dict[str, Any], now: datetime) -> float:
    """How long a run (a row of ``runs`` above) has been writing: to its end, or to now."""
    if not run.get("started_at"):
        return 0.0
    started = datetime.fromisoformat(run["started_at"])
    finished = run.get("finished_at")
    end = datetime.fromisoformat(finished) if finished else now
    return max(0.0, (end - started).total_seconds())
