"""Rules, in code, that turn a weak model's structured output into something usable.

The pipeline often runs a 135M model: it numbers epics twice, repeats them,
writes "TBD" as a title, forgets infrastructure and testing, and points
dependencies at epics that do not exist. Instead of re-prompting until the
model gets it right (it may never), the output is repaired by deterministic,
tested rules, and every repair is recorded as a sentence for the audit trail.
All repairs are idempotent: repairing a repaired value changes nothing and
reports no fixes.

Epic plan decisions (`repair_epics`):

* Infrastructure goes first and testing last. The first epic whose title
  matches the infrastructure pattern is moved first; for testing, an epic that
  is already last is kept there, otherwise the first testing epic is moved
  last (this keeps the repair idempotent). Missing ones are inserted. Other
  infrastructure or testing epics stay in the middle; a title matching both
  patterns counts as infrastructure.
* A *feature* epic is a middle epic that is neither infrastructure nor
  testing. A plan without one is unusable and raises `UnrepairableOutput`.
* Over the cap, middle epics are dropped from the end, extra infrastructure or
  testing epics before feature epics, so the cap never removes the last feature.
* Dependencies are remapped through the model's own numbers when those were
  unique (or through list positions when the model gave no numbers at all);
  otherwise they are dropped. A reference to a removed duplicate follows it to
  the epic that was kept. Only references to earlier epics survive. Every epic
  after the first that is left without dependencies depends on epic 1 (the
  infrastructure); testing is *not* made to depend on every feature epic,
  which would only restate the order.
* Estimates are clamped into 1..365 days; a missing estimate stays None.

The text rules, the question / key-fact rules and the result types live in
`agents.repair_text`, the section Markdown rules in `agents.repair_markdown`
(quotes, model talk and list rules in `agents.repair_blocks`);
this module re-exports the public names, so callers import from here only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from jeex.agents.contracts import Epic, RawEpic, RawEpicPlan
from jeex.agents.repair_echo import drop_echoes
from jeex.agents.repair_markdown import clean_markdown
from jeex.agents.repair_text import (
    Repaired,
    UnrepairableOutput,
    clean_title,
    find_placeholders,
    is_placeholder,
    make_slug,
    repair_key_facts,
    repair_questions,
)

__all__ = [  # grouped: results, epic rules, text rules
    "Repaired",
    "UnrepairableOutput",
    "repair_epics",
    "repair_questions",
    "repair_key_facts",
    "clean_section_markdown",
    "clean_title",
    "find_placeholders",
    "is_placeholder",
    "make_slug",
]

SLUG_MAX_LENGTH = 60
ESTIMATE_RANGE = (1, 365)
INFRA_TITLE = "Infrastructure and project setup"
INFRA_GOAL = (
    "Set up the repository, development environment, CI/CD pipeline and deployment "
    "foundation that every other epic builds on."
)
TESTING_TITLE = "Testing and quality assurance"
TESTING_GOAL = (
    "Cover the product with automated unit, integration and end-to-end tests, and "
    "verify it against the acceptance criteria before release."
)
_INFRA = re.compile(
    r"\b(?:infra\w*|set ?ups?|foundations?|scaffold\w*|bootstrap\w*|dev ?ops|environments?"
    r"|ci|cd|cicd)\b"
)
_TESTING = re.compile(r"\b(?:tests?|testing|qa|quality (?:assurance|control)|e2e|uat)\b")


@dataclass(eq=False)
class _Draft:
    """An epic being repaired; `depends_on` still holds the model's own numbers."""

    title: str
    goal: str = ""
    raw_number: int | None = None
    depends_on: list[int] = field(default_factory=list)
    estimate_days: int | None = None


def _quote(text: str) -> str:
    """Quote model text in a fix message without letting a runaway string flood the audit."""
    text = " ".join(text.split())
    return f"'{text[:57]}...'" if len(text) > 60 else f"'{text}'"


def _words(title: str) -> str:
    """Classify by the slug's words, so two titles deduped as equal classify alike."""
    return make_slug(title, max_length=1000).replace("-", " ")


def _is_infra(title: str) -> bool:
    return bool(_INFRA.search(_words(title)))


def _is_testing(title: str) -> bool:
    return bool(_TESTING.search(_words(title))) and not _is_infra(title)


def _is_feature(draft: _Draft) -> bool:
    return not _is_infra(draft.title) and not _is_testing(draft.title)


def _clean_goal(goal: str, title: str, fixes: list[str]) -> str:
    cleaned = " ".join(goal.split())
    if cleaned and is_placeholder(cleaned):
        fixes.append(f"cleared the placeholder goal {_quote(goal)} of epic {_quote(title)}")
        return ""
    if cleaned != goal:
        fixes.append(f"normalized whitespace in the goal of epic {_quote(title)}")
    return cleaned


def _clamp_estimate(days: int | None, title: str, fixes: list[str]) -> int | None:
    if days is None:
        return None
    low, high = ESTIMATE_RANGE
    clamped = min(max(days, low), high)
    if clamped != days:
        fixes.append(f"clamped the estimate of {_quote(title)} from {days} to {clamped} day(s)")
    return clamped


MAX_TERM_WORDS = 4
_TERM_TITLE = re.compile(r"^([^:]{3,60}):\s+(\S.*)$")


def _split_sentence_title(title: str, goal: str) -> tuple[str, str]:
    """A weak model writes "Sync: lists stay in step on every phone" as a title.

    The short term before the colon (at most four words) is the title; the rest becomes
    the goal when the goal is empty.
    """
    match = _TERM_TITLE.match(title)
    if match and len(match.group(1).split()) <= MAX_TERM_WORDS:
        title, goal = match.group(1), goal or match.group(2)
    return clean_title(title), goal


def _clean_draft(raw: RawEpic, fixes: list[str]) -> _Draft | None:
    """Clean one epic's fields; None when its title is filler and the epic is dropped."""
    title, goal = _split_sentence_title(clean_title(raw.title), raw.goal)
    if is_placeholder(title):
        fixes.append(f"dropped an epic with the empty or placeholder title {_quote(raw.title)}")
        return None
    if title != raw.title:
        fixes.append(f"cleaned the epic title {_quote(raw.title)} to {_quote(title)}")
    return _Draft(
        title=title,
        goal=_clean_goal(goal, title, fixes),
        raw_number=raw.number,
        depends_on=list(raw.depends_on),
        estimate_days=_clamp_estimate(raw.estimate_days, title, fixes),
    )


def _original_numbers(raws: list[RawEpic], fixes: list[str]) -> list[int] | None:
    """The numbers dependencies refer to, or None when they cannot be trusted."""
    numbers = [raw.number for raw in raws]
    if all(number is None for number in numbers):
        return list(range(1, len(raws) + 1))
    known = [number for number in numbers if number is not None]
    if len(known) == len(numbers) and len(set(known)) == len(known):
        return known
    if any(raw.depends_on for raw in raws):
        fixes.append("ignored all dependencies because the epic numbers were missing or repeated")
    return None


def _dedupe(drafts: list[_Draft], by_number: dict[int, _Draft | None], fixes: list[str]) -> None:
    """Drop repeated epics (the model loops); references to a repeat follow the kept one."""
    kept: dict[str, _Draft] = {}
    for draft in list(drafts):
        first = kept.setdefault(make_slug(draft.title, max_length=1000), draft)
        if first is draft:
            continue
        drafts.remove(draft)
        merged = not first.goal and bool(draft.goal)
        first.goal = first.goal or draft.goal
        suffix = " and kept its goal" if merged else ""
        fixes.append(f"removed the duplicate epic {_quote(draft.title)}{suffix}")
        for number, target in by_number.items():
            if target is draft:
                by_number[number] = first


def _order(drafts: list[_Draft], fixes: list[str]) -> list[_Draft]:
    """Put infrastructure first and testing last, inserting them when missing."""
    infra = next((draft for draft in drafts if _is_infra(draft.title)), None)
    rest = [draft for draft in drafts if draft is not infra]
    testing = rest[-1] if rest and _is_testing(rest[-1].title) else None
    if testing is None:
        testing = next((draft for draft in rest if _is_testing(draft.title)), None)
        if testing is not None:
            fixes.append(f"moved the testing epic {_quote(testing.title)} to the end")
    if infra is None:
        infra = _Draft(title=INFRA_TITLE, goal=INFRA_GOAL)
        fixes.append(f"inserted the infrastructure epic {_quote(INFRA_TITLE)} first")
    elif drafts[0] is not infra:
        fixes.append(f"moved the infrastructure epic {_quote(infra.title)} to position 1")
    if testing is None:
        testing = _Draft(title=TESTING_TITLE, goal=TESTING_GOAL)
        fixes.append(f"appended the testing epic {_quote(TESTING_TITLE)} last")
    return [infra, *(draft for draft in rest if draft is not testing), testing]


def _cap(ordered: list[_Draft], max_epics: int, fixes: list[str]) -> list[_Draft]:
    """Keep at most `max_epics`, dropping extra infra/testing epics before features."""
    middle = ordered[1:-1]
    excess = len(ordered) - max_epics
    if excess <= 0:
        return ordered
    newest_first = middle[::-1]
    candidates = [d for d in newest_first if not _is_feature(d)]
    candidates += [d for d in newest_first if _is_feature(d)]
    dropped = candidates[:excess]
    names = ", ".join(_quote(draft.title) for draft in middle if draft in dropped)
    fixes.append(f"dropped {excess} epic(s) beyond the limit of {max_epics}: {names}")
    return [ordered[0], *(d for d in middle if d not in dropped), ordered[-1]]


def _require_usable(ordered: list[_Draft], min_epics: int, raw_count: int) -> None:
    if not any(_is_feature(draft) for draft in ordered[1:-1]):
        raise UnrepairableOutput(
            f"the plan has no feature epics: none of the {raw_count} epic title(s) "
            "is a usable feature after dropping placeholders, duplicates, infrastructure "
            "and testing"
        )
    if len(ordered) < min_epics:
        raise UnrepairableOutput(
            f"the plan has {len(ordered)} epics after repair, fewer than the minimum of {min_epics}"
        )


def _resolve_dependencies(
    draft: _Draft,
    position: int,
    positions: dict[int, int],
    by_number: dict[int, _Draft | None] | None,
    fixes: list[str],
) -> list[int]:
    """Map the model's numbers to new positions; keep only references to earlier epics."""
    mapped: list[int] = []
    dropped: list[int] = []
    for number in draft.depends_on:
        target = by_number.get(number) if by_number is not None else None
        new = positions.get(id(target)) if target is not None else None
        if new is not None and new < position:
            mapped.append(new)
        else:
            dropped.append(number)
    label = f"epic {position} {_quote(draft.title)}"
    if dropped and by_number is not None:
        numbers = ", ".join(str(number) for number in dropped)
        fixes.append(
            f"{label}: dropped references to the model's epic(s) {numbers}"
            " (itself, later or unknown)"
        )
    result = sorted(set(mapped))
    if result != mapped:
        fixes.append(f"{label}: removed repeated dependencies and sorted them")
    if not result and position > 1:
        fixes.append(f"{label}: made it depend on epic 1, the infrastructure")
        return [1]
    return result


def _finalise(
    ordered: list[_Draft], by_number: dict[int, _Draft | None] | None, fixes: list[str]
) -> list[Epic]:
    """Renumber by position, remap dependencies and give every epic a unique slug."""
    positions = {id(draft): index for index, draft in enumerate(ordered, start=1)}
    if any(draft.raw_number != positions[id(draft)] for draft in ordered):
        fixes.append(f"renumbered epics 1..{len(ordered)}")
    taken: set[str] = set()
    epics: list[Epic] = []
    for position, draft in enumerate(ordered, start=1):
        depends_on = _resolve_dependencies(draft, position, positions, by_number, fixes)
        epics.append(
            Epic(
                number=position,
                title=draft.title,
                slug=_unique_slug(draft.title, taken),
                goal=draft.goal,
                depends_on=depends_on,
                estimate_days=draft.estimate_days,
            )
        )
    return epics


def _unique_slug(title: str, taken: set[str]) -> str:
    """Slugs name plan files, so two epics must never share one; suffix -2, -3, ..."""
    base = slug = make_slug(title, max_length=SLUG_MAX_LENGTH)
    counter = 2
    while slug in taken:
        suffix = f"-{counter}"
        slug = base[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        counter += 1
    taken.add(slug)
    return slug


def repair_epics(
    raw: RawEpicPlan, *, min_epics: int = 3, max_epics: int = 12
) -> Repaired[list[Epic]]:
    """Turn the model's epic list into a plan the renderer and dependency graph can trust.

    Raises `UnrepairableOutput` when no feature epic survives, or fewer than
    `min_epics` epics remain; see the module docstring for the rules.
    """
    if max_epics < 3 or min_epics > max_epics:
        raise ValueError("need 3 <= max_epics and min_epics <= max_epics")
    fixes: list[str] = []
    numbers = _original_numbers(raw.epics, fixes)
    drafts: list[_Draft] = []
    by_number: dict[int, _Draft | None] = {}
    for index, raw_epic in enumerate(raw.epics):
        draft = _clean_draft(raw_epic, fixes)
        drafts.extend([draft] if draft is not None else [])
        if numbers is not None:
            by_number[numbers[index]] = draft
    _dedupe(drafts, by_number, fixes)
    ordered = _cap(_order(drafts, fixes), max_epics, fixes)
    _require_usable(ordered, min_epics, len(raw.epics))
    epics = _finalise(ordered, by_number if numbers is not None else None, fixes)
    return Repaired(epics, tuple(fixes))


def clean_section_markdown(text: str, *, title: str, prompt: Sequence[str] = ()) -> Repaired[str]:
    """Clean one section's prose; the rules live in `agents.repair_markdown`, and the
    lines that echo the section's ``prompt`` go first (`agents.repair_echo`).

    Raises `UnrepairableOutput` when nothing is left, so the caller can retry.
    """
    text, echoed = drop_echoes(text, prompt)
    cleaned, fixes = clean_markdown(text, title=title)
    if echoed:
        fixes.insert(0, f"removed {echoed} line(s) repeating the prompt (labels or instructions)")
    if not cleaned.strip():
        raise UnrepairableOutput(f"section '{title}' is empty after cleaning")
    return Repaired(cleaned, tuple(fixes))
