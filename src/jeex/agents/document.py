"""Assembling a document's Markdown from its sections and its review data.

Headings are written here, not by the model, so the structure of every document
is exactly its template's, whatever the model did.
"""

from __future__ import annotations

from collections.abc import Sequence

from jeex.agents.contracts import ChecklistItem, Epic
from jeex.agents.quality import CONFIDENCE_FORMULA, WrittenSection


def _escape_cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def epics_table(epics: Sequence[Epic]) -> str:
    rows = [
        "| # | Epic | Goal | Depends on | Estimate (days) |",
        "|---|------|------|------------|-----------------|",
    ]
    for epic in epics:
        depends = ", ".join(str(n) for n in epic.depends_on) or "none"
        estimate = str(epic.estimate_days) if epic.estimate_days else "n/a"
        link = f"[{_escape_cell(epic.title)}]({epic.number:02d}-{epic.slug}.md)"
        rows.append(
            f"| {epic.number} | {link} | {_escape_cell(epic.goal)} | {depends} | {estimate} |"
        )
    return "\n".join(rows)


def review_block(
    *,
    key_facts: Sequence[str],
    questions: Sequence[str],
    checklist: Sequence[ChecklistItem],
    confidence: float,
) -> str:
    parts: list[str] = []
    if key_facts:
        parts += ["## Key facts", "", *[f"- {fact}" for fact in key_facts], ""]
    if questions:
        parts += ["## Open questions", "", *[f"{i}. {q}" for i, q in enumerate(questions, 1)], ""]
    parts += [
        "## Quality checks",
        "",
        f"Confidence score: **{confidence:.2f}** ({CONFIDENCE_FORMULA}).",
        "",
    ]
    for item in checklist:
        mark = "x" if item.passed else " "
        detail = f" — {item.detail}" if item.detail and not item.passed else ""
        parts.append(f"- [{mark}] {item.item}{detail}")
    return "\n".join(parts).rstrip() + "\n"


def assemble(
    *,
    title: str,
    sections: Sequence[WrittenSection],
    extra: Sequence[tuple[str, str]] = (),
    review: str = "",
) -> str:
    """``# title``, then ``## section`` blocks, then extra blocks, then the review.

    A section left empty (everything in it had been written before in the run) is left
    out rather than shown as a bare heading; the checklist names it.
    """
    parts = [f"# {title}", ""]
    for section in sections:
        if section.content.strip():
            parts += [f"## {section.spec.title}", "", section.content.strip(), ""]
    for heading, body in extra:
        parts += [f"## {heading}", "", body.strip(), ""]
    if review:
        parts.append(review.strip())
    return "\n".join(parts).rstrip() + "\n"
