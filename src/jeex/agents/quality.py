"""Validation checklist and confidence score of a finished document.

The confidence score is not the model's opinion of itself: it is the share of
these checks that passed (each weighs the same), rounded to two decimals. The
document states the formula and the failed checks, so a reader can see why.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from jeex.agents.contracts import ChecklistItem
from jeex.agents.repair import find_placeholders
from jeex.agents.repair_echo import SAID_MIN_CHARS, is_label_line, normalise
from jeex.templates import SectionSpec

CONFIDENCE_FORMULA = (
    "confidence = checks passed / checks run (each check weighs the same), at most 0.50 "
    "when a reader would see a defect at once (prompt text, repetition, off-topic epics)"
)
MIN_SHARE, MAX_SHARE = 0.3, 2.5
NO_PROMPT_TEXT = "No prompt text in the document"
NO_REPEATED_SENTENCE = "No sentence is repeated"
NO_REPEATED_PARAGRAPH = "No paragraph is repeated"
EPICS_ON_TOPIC = "Every feature epic is about this product"
#: Checks whose failure a reader sees at once: the document cannot score above the cap.
READER_DEFECTS = frozenset(
    {NO_PROMPT_TEXT, NO_REPEATED_SENTENCE, NO_REPEATED_PARAGRAPH, EPICS_ON_TOPIC}
)
DEFECT_CAP = 0.5


@dataclass(frozen=True)
class WrittenSection:
    """A section as it ends up in the document."""

    spec: SectionSpec
    content: str

    @property
    def words(self) -> int:
        return len(self.content.split())


def _paragraphs(sections: Sequence[WrittenSection]) -> list[str]:
    return [
        " ".join(p.split()).lower()
        for s in sections
        for p in s.content.split("\n\n")
        if len(p.split()) >= 8
    ]


def _lower(section: WrittenSection) -> float:
    """A list is as long as its items (written one per line, issue 15): no lower bound."""
    return 0.0 if section.spec.kind == "list" else MIN_SHARE


def check_sections(sections: Sequence[WrittenSection], expected: int) -> list[ChecklistItem]:
    empty = [s.spec.title for s in sections if not s.content.strip()]
    out_of_range = [
        f"{s.spec.title} ({s.words} words, target {s.spec.target_words})"
        for s in sections
        if not _lower(s) * s.spec.target_words <= s.words <= MAX_SHARE * s.spec.target_words
    ]
    placeholders = sorted({p for s in sections for p in find_placeholders(s.content)})
    repeated = [p[:60] for p, n in Counter(_paragraphs(sections)).items() if n > 1]
    echoed = [
        f"{s.spec.title}: {line.strip()[:60]}"
        for s in sections
        if s.spec.kind != "mermaid"
        for line in s.content.split("\n")
        if is_label_line(line)
    ]
    sentences = Counter(
        normalise(sentence)
        for s in sections
        for sentence in re.split(r"(?<=[.!?…])\s+", s.content)
        if len(sentence.strip()) >= SAID_MIN_CHARS and not sentence.lstrip().startswith("|")
    )
    said_twice = [key[:60] for key, n in sentences.items() if n > 1 and key]
    return [
        ChecklistItem(
            item=f"All {expected} sections are written",
            passed=len(sections) == expected and not empty,
            detail=", ".join(empty),
        ),
        ChecklistItem(
            item="Every section is near its target length",
            passed=not out_of_range,
            detail="; ".join(out_of_range),
        ),
        ChecklistItem(
            item="No placeholder text", passed=not placeholders, detail=", ".join(placeholders)
        ),
        ChecklistItem(item=NO_REPEATED_PARAGRAPH, passed=not repeated, detail="; ".join(repeated)),
        ChecklistItem(item=NO_PROMPT_TEXT, passed=not echoed, detail="; ".join(echoed)),
        ChecklistItem(
            item=NO_REPEATED_SENTENCE, passed=not said_twice, detail="; ".join(said_twice[:5])
        ),
    ]


def check_mermaid(sections: Sequence[WrittenSection]) -> ChecklistItem:
    has_diagram = any("```mermaid" in s.content for s in sections)
    return ChecklistItem(
        item="The model wrote a Mermaid diagram",
        passed=has_diagram,
        detail="" if has_diagram else "none written; one is drawn from the component list",
    )


def check_extraction(key_facts: Sequence[str], fixes: Sequence[str]) -> list[ChecklistItem]:
    return [
        ChecklistItem(
            item="At least 3 key facts extracted",
            passed=len(key_facts) >= 3,
            detail=f"{len(key_facts)} found",
        ),
        ChecklistItem(
            item="Structured output valid without repair",
            passed=not fixes,
            detail="; ".join(fixes),
        ),
    ]


def confidence(checklist: Sequence[ChecklistItem]) -> float:
    """The share of checks passed, capped at ``DEFECT_CAP`` by any reader-visible defect."""
    if not checklist:
        return 0.0
    score = round(sum(item.passed for item in checklist) / len(checklist), 2)
    return min(score, DEFECT_CAP) if defects(checklist) else score


def defects(checklist: Sequence[ChecklistItem]) -> list[str]:
    """The failed checks a reader sees at once (why a score is capped)."""
    return [item.item for item in checklist if not item.passed and item.item in READER_DEFECTS]
