"""The implementation plan as rows: epics and their tasks, for XLSX and PPTX.

Epic facts (title, goal, dependencies, estimate) come from the repaired epic records the
planner stored in document metadata, falling back to the overview's epic list and then
to the document itself; tasks are the items of each epic's "Tasks" section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it.token import Token

from jeex.exports.bundle import ExportBundle, ExportDocument
from jeex.exports.markdown import list_items, parse, plain_paragraphs, sections


@dataclass(frozen=True)
class EpicRow:
    """One epic as the workbook and the deck show it."""

    number: int
    title: str
    goal: str
    depends_on: list[int]
    estimate_days: int | None
    tasks: list[str]


def _overview_epics(bundle: ExportBundle) -> dict[int, Mapping[str, Any]]:
    overview = bundle.first("plan_overview")
    records = overview.metadata.get("epics", []) if overview else []
    return {
        int(r["number"]): r
        for r in records
        if isinstance(r, Mapping) and isinstance(r.get("number"), int)
    }


def _ints(values: Any) -> list[int]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _estimate(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tasks(tokens: list[Token]) -> list[str]:
    """List items; a weak model may write the tasks as prose, then each paragraph is one."""
    return list_items(tokens) or plain_paragraphs(tokens)


def _epic_row(item: ExportDocument, fallback: Mapping[str, Any]) -> EpicRow:
    record = item.metadata.get("epic") or fallback
    record = record if isinstance(record, Mapping) else {}
    parts = sections(parse(item.doc.content))
    goal = str(record.get("goal") or " ".join(plain_paragraphs(parts.get("goal", [])))).strip()
    return EpicRow(
        number=item.doc.epic_number,
        title=str(record.get("title") or item.doc.title),
        goal=goal,
        depends_on=_ints(record.get("depends_on")),
        estimate_days=_estimate(record.get("estimate_days")),
        tasks=_tasks(parts.get("tasks", [])),
    )


def epic_rows(bundle: ExportBundle) -> list[EpicRow]:
    """Every epic document in the bundle, plus overview-only epics without tasks."""
    listed = _overview_epics(bundle)
    rows = [
        _epic_row(item, listed.get(item.doc.epic_number, {}))
        for item in bundle.of_type("plan_epic")
    ]
    written = {row.number for row in rows}
    for number, record in sorted(listed.items()):
        if number not in written:
            rows.append(
                EpicRow(
                    number=number,
                    title=str(record.get("title", f"Epic {number}")),
                    goal=str(record.get("goal", "")),
                    depends_on=_ints(record.get("depends_on")),
                    estimate_days=_estimate(record.get("estimate_days")),
                    tasks=[],
                )
            )
    return sorted(rows, key=lambda row: row.number)
