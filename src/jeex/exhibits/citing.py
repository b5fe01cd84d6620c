"""Which written sections cite which exhibit: read back from the sections' own record.

A section written with retrieval keeps the passages it cited in its metadata
(``cited``: label, type, source id …, see ``runs.context``), so nothing new is stored
for this; the exhibits page just inverts that record. Only the newest run of each
section counts: a re-run that stopped citing an exhibit no longer lists it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.retrieval.service import EXHIBIT
from jeex.runs.models import Run, RunSection
from jeex.vocabulary import SectionStatus


@dataclass(frozen=True)
class CitedIn:
    step: int | None
    run_id: uuid.UUID
    section_key: str
    section_title: str


async def citing_sections(
    session: AsyncSession, *, project_id: uuid.UUID
) -> dict[str, list[CitedIn]]:
    """Exhibit id → the sections (newest run of each) whose text cites it."""
    rows = await session.execute(
        select(Run.step, Run.kind, Run.id, RunSection.key, RunSection.title, RunSection.metadata_)
        .join(RunSection, RunSection.run_id == Run.id)
        .where(
            Run.project_id == project_id,
            RunSection.status == SectionStatus.COMPLETED,
            RunSection.metadata_.has_key("cited"),
        )
        .order_by(Run.created_at.desc(), RunSection.position)
    )
    seen: set[tuple[str, str]] = set()
    cited: dict[str, list[CitedIn]] = {}
    for step, kind, run_id, key, title, metadata in rows:
        if (kind, key) in seen:
            continue
        seen.add((kind, key))
        for entry in metadata.get("cited") or ():
            if entry.get("type") == EXHIBIT:
                source = str(entry.get("source_id"))
                cited.setdefault(source, []).append(CitedIn(step, run_id, key, title))
    for sections in cited.values():
        sections.sort(key=lambda c: (c.step or 0, c.section_key))
    return cited
