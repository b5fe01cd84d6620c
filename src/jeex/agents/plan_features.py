"""Completing a thin epic plan from the features the earlier documents already name.

A small model asked for epics often repeats one title ten times; after repair the
plan has one feature epic or none. The about document's "In scope" list and the
architecture's components were written by the same pipeline for this product, so
they are the best source of the missing features. Pure functions, tested without
an LLM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from jeex.agents.contracts import Epic, RawEpic, RawEpicPlan
from jeex.agents.repair import Repaired, UnrepairableOutput, repair_epics
from jeex.agents.repair_text import clean_title, dedupe_key, is_placeholder

SOURCE_SECTIONS = ("scope", "components", "in scope", "features")
MIN_FEATURES = 2
TARGET_FEATURES = 4
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_TERM = re.compile(r"^\*\*(.+?)\*\*\s*[:\-–—]?\s*(.*)$|^([^:]{3,60}):\s+(.*)$")
_EDGE = re.compile(r"\b(infra\w*|setup|set up|deploy\w*|ci|cd|tests?|testing|qa)\b", re.I)


def _sections(markdown: str) -> Iterable[tuple[str, list[str]]]:
    heading, lines = "", list[str]()
    for line in markdown.splitlines():
        if line.startswith("## "):
            yield heading, lines
            heading, lines = line[3:].strip().lower(), []
        else:
            lines.append(line)
    yield heading, lines


def _title_and_goal(item: str) -> tuple[str, str]:
    match = _TERM.match(item)
    if match:
        term = match.group(1) or match.group(3)
        return term, (match.group(2) or match.group(4) or "").strip()
    words = item.split()
    return (" ".join(words[:6]), item) if len(words) <= 10 else ("", "")


def _items(lines: Sequence[str]) -> Iterable[str]:
    for line in lines:
        if re.search(r"out of scope|not in scope|later", line, re.I):
            return  # everything after "Out of scope" is what the release will not do
        match = _ITEM.match(line)
        if match:
            yield match.group(1).strip()


def feature_candidates(documents: Sequence[str]) -> list[RawEpic]:
    """Feature names from the lists of the scope and components sections, in order, unique."""
    found: dict[str, RawEpic] = {}
    for markdown in documents:
        for heading, lines in _sections(markdown):
            if heading not in SOURCE_SECTIONS:
                continue
            for item in _items(lines):
                title, goal = _title_and_goal(item)
                title = clean_title(title)
                if len(title) < 3 or is_placeholder(title) or _EDGE.search(title):
                    continue
                found.setdefault(dedupe_key(title), RawEpic(title=title, goal=goal[:300]))
    return list(found.values())


def _feature_count(epics: Sequence[Epic]) -> int:
    return max(0, len(epics) - 2)  # repaired plans put infrastructure first and testing last


def complete_plan(
    raw: RawEpicPlan, candidates: Sequence[RawEpic], *, max_epics: int = 12
) -> Repaired[list[Epic]]:
    """Repair the model's plan; when it has too few features, add named ones and repair again
    (never beyond ``max_epics`` epics in all)."""
    try:
        repaired: Repaired[list[Epic]] | None = repair_epics(raw, max_epics=max_epics)
    except UnrepairableOutput as exc:
        repaired, problem = None, exc
    features = min(MIN_FEATURES, max_epics - 2)
    if repaired is not None and _feature_count(repaired.value) >= features:
        return repaired
    have = {dedupe_key(e.title) for e in (repaired.value if repaired else [])}
    target = min(TARGET_FEATURES, max_epics - 2)
    missing = target - (_feature_count(repaired.value) if repaired else 0)
    extra = [c for c in candidates if dedupe_key(c.title) not in have][:missing]
    if not extra:
        if repaired is None:
            raise problem
        return repaired
    completed = repair_epics(RawEpicPlan(epics=[*raw.epics, *extra]), max_epics=max_epics)
    names = ", ".join(f"'{c.title}'" for c in extra)
    note = f"added feature epics named in the earlier documents: {names}"
    return Repaired(completed.value, (*completed.fixes, note))
