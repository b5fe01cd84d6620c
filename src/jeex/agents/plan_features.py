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
from dataclasses import dataclass

from jeex.agents.contracts import Epic, RawEpic, RawEpicPlan
from jeex.agents.repair import Repaired, UnrepairableOutput, repair_epics
from jeex.agents.repair_text import clean_title, dedupe_key, is_placeholder, make_slug

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


@dataclass(frozen=True)
class Relevance:
    """The plan after the relevance rule, and the feature epics still off-topic."""

    plan: Repaired[list[Epic]]
    off_topic: tuple[str, ...] = ()


def relevance_anchor(idea: str, candidates: Sequence[RawEpic]) -> str:
    """What an epic is compared with: the idea and the scope's features."""
    features = "; ".join(c.title for c in candidates[:10])
    return f"{idea}. {features}" if features else idea


def replace_off_topic(
    plan: Repaired[list[Epic]],
    similarities: Sequence[float],
    candidates: Sequence[RawEpic],
    *,
    threshold: float,
) -> Relevance:
    """Replace each feature epic less similar to the product than ``threshold`` by the next
    feature of the scope not yet in the plan (its number, dependencies and estimate stay).

    ``similarities`` are those of the feature epics (the plan without its first and last
    epic), in order. An off-topic epic with no feature left to take its place stays, and
    is reported, so the document's check shows it.
    """
    epics = list(plan.value)
    taken = {dedupe_key(e.title) for e in epics}
    taken_slugs = {e.slug for e in epics}
    spare = [c for c in candidates if dedupe_key(c.title) not in taken]
    fixes: list[str] = []
    left: list[str] = []
    for offset, score in enumerate(similarities, start=1):
        epic = epics[offset]
        if score >= threshold:
            continue
        if not spare:
            left.append(f"{epic.title} ({score:.2f})")
            continue
        feature = spare.pop(0)
        slug = make_slug(feature.title)
        while slug in taken_slugs:
            slug = f"{slug[:55]}-{epic.number}"
        taken_slugs.add(slug)
        epics[offset] = epic.model_copy(
            update={"title": feature.title, "goal": feature.goal or epic.goal, "slug": slug}
        )
        fixes.append(
            f"replaced epic '{epic.title}' (similarity {score:.2f} < {threshold:.2f}: not about "
            f"this product) with '{feature.title}' from the scope"
        )
    return Relevance(Repaired(epics, (*plan.fixes, *fixes)), tuple(left))
