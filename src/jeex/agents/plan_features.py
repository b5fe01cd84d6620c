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
MAX_TITLE_WORDS = 6
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
    # A short item is a feature's name; the first words of a longer one are not ("List of
    # items that are part", make plan 2026-12-07).
    words = item.split()
    return (item.rstrip("."), item) if len(words) <= MAX_TITLE_WORDS else ("", "")


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


def with_product(candidates: Sequence[RawEpic], name: str, idea: str) -> list[RawEpic]:
    """The scope's features, then the product itself as the last resort of the relevance
    rule.

    A small model's scope is sometimes whole sentences ("The first release will only offer
    one feature: …"), which name no feature; its epics are then themes ("Showchepers"). An
    epic named after the product is plainer than either, and about it."""
    title = clean_title(name)
    known = {dedupe_key(c.title) for c in candidates}
    if len(title) < 3 or dedupe_key(title) in known:
        return list(candidates)
    return [*candidates, RawEpic(title=title, goal=idea[:300])]


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


#: What an off-topic epic of a small model is about: the themes issue 15 found in place of
#: features ("Sustainability", "Impact", "Vision and values" …). A title is measured
#: against this as well as against the product: e5's scores sit in a narrow band, and a
#: theme word is nearly as similar to any idea as a feature is, but much more to this.
GENERIC_THEMES = (
    "Sustainability, impact, innovation, vision and values, excellence, growth, success, "
    "community, marketing strategy, the future, a game-changer"
)


def relevance_anchor(idea: str, candidates: Sequence[RawEpic]) -> str:
    """What an epic is compared with: the idea and the scope's features."""
    features = "; ".join(c.title for c in candidates[:10])
    return f"{idea}. {features}" if features else idea


@dataclass(frozen=True)
class Similarities:
    """What the relevance rule is given, measured once by the planner: each feature epic's
    title (in plan order), then each scope feature (``candidates``), against the idea and
    the scope (``relevance_anchor``) and against ``GENERIC_THEMES``."""

    to_product: Sequence[float]
    to_themes: Sequence[float]


@dataclass(frozen=True)
class Thresholds:
    """A title is about the product when it is at least ``similarity`` similar to the idea
    and the scope, and at least ``margin`` more similar to them than to generic themes."""

    similarity: float
    margin: float

    def on_topic(self, to_product: float, to_themes: float) -> bool:
        return to_product >= self.similarity and to_product - to_themes >= self.margin


def replace_off_topic(
    plan: Repaired[list[Epic]],
    scores: Similarities,
    candidates: Sequence[RawEpic],
    *,
    thresholds: Thresholds,
) -> Relevance:
    """Replace each feature epic not about the product by the next scope feature that is
    about it and not yet in the plan (its number, dependencies and estimate stay).

    An off-topic epic with no such feature left is dropped when a feature epic about the
    product remains (the plan is renumbered, dependencies follow); when none would remain,
    it stays and is reported, so the document's check shows it.
    """
    epics = list(plan.value)
    middle = len(epics) - 2
    measured = list(zip(scores.to_product, scores.to_themes, strict=True))
    taken = {dedupe_key(e.title) for e in epics}
    taken_slugs = {e.slug for e in epics}
    spare = [
        feature
        for feature, (product, themes) in zip(candidates, measured[middle:], strict=True)
        if dedupe_key(feature.title) not in taken and thresholds.on_topic(product, themes)
    ]
    fixes: list[str] = []
    left: dict[int, str] = {}  # the off-topic epics nothing replaced, by number
    for offset, (product, themes) in enumerate(measured[:middle], start=1):
        epic = epics[offset]
        if thresholds.on_topic(product, themes):
            continue
        why = f"similarity {product:.2f}, {product - themes:+.2f} against generic themes"
        if not spare:
            left[epic.number] = f"{epic.title} ({why})"
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
            f"replaced epic '{epic.title}' ({why}: not about this product) with "
            f"'{feature.title}' from the scope"
        )
    if left and len(left) < middle:
        kept = [e for e in epics if e.number not in left]
        raw = RawEpicPlan(
            epics=[
                RawEpic(
                    number=e.number,
                    title=e.title,
                    goal=e.goal,
                    depends_on=e.depends_on,
                    estimate_days=e.estimate_days,
                )
                for e in kept
            ]
        )
        renumbered = repair_epics(raw, max_epics=len(epics))
        dropped = "; ".join(f"'{reason}'" for reason in left.values())
        fixes.append(f"dropped epic(s) not about this product, no scope feature left: {dropped}")
        return Relevance(Repaired(renumbered.value, (*plan.fixes, *fixes)))
    return Relevance(Repaired(epics, (*plan.fixes, *fixes)), tuple(left.values()))
