"""List sections are lists (issue 15): asked for as JSON items, checked item by item,
rendered as Markdown lists.

Prose written "as a list" by a small model loops: its tasks and acceptance criteria came
out as paragraphs. Instead a list section (``kind: list`` in its template) is asked for as
a JSON object under a schema (grammar-constrained on llama.cpp, ``response_format`` on any
OpenAI-compatible endpoint); every item goes through the list rules (one line, no
placeholder, a sentence or a name, no duplicate, nothing the run already said) and the
section is rendered as a numbered list (tasks), a checklist (acceptance criteria) or
bullets. The scope has two lists, in and out of the first release, so later steps can
take the features from the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jeex.agents.repair_echo import (
    SAID_MIN_CHARS,
    drop_echoes,
    is_cut,
    is_said,
    normalise,
    paragraph_key,
    remembered,
    sentence_keys,
)
from jeex.agents.repair_text import Repaired, clean_list_item, dedupe_key, is_placeholder

MIN_ITEMS, MAX_ITEMS = 2, 10
ITEM_MAX_CHARS = 240


@dataclass(frozen=True)
class ListStyle:
    """How one list section is asked for and rendered."""

    marker: str = "-"  # "1." numbers the items; "- [ ]" makes a checklist
    hint: str = "Each item is one line."
    #: Two lists: the first release's features, and what it will not do.
    split_scope: bool = False


STYLES = {
    "tasks": ListStyle("1.", "Each item is one task that starts with a verb."),
    "acceptance_criteria": ListStyle("- [ ]", "Each item is one statement a tester can check."),
    "scope": ListStyle(
        hint="Each item is one feature: a short name, a colon, then one sentence.",
        split_scope=True,
    ),
    "components": ListStyle(
        hint="Each item is one component: its name, a colon, then one or two sentences."
    ),
}


def style_of(key: str) -> ListStyle:
    return STYLES.get(key, ListStyle())


def _items_schema(minimum: int) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 3, "maxLength": ITEM_MAX_CHARS},
        "minItems": minimum,
        "maxItems": MAX_ITEMS,
    }


def schema_for(key: str) -> dict[str, Any]:
    """The JSON the model must answer for the section with this key."""
    if style_of(key).split_scope:
        return {
            "title": "ScopeLists",
            "type": "object",
            "properties": {"in_scope": _items_schema(MIN_ITEMS), "out_of_scope": _items_schema(0)},
            "required": ["in_scope", "out_of_scope"],
        }
    return {
        "title": "SectionItems",
        "type": "object",
        "properties": {"items": _items_schema(MIN_ITEMS)},
        "required": ["items"],
    }


def ask(key: str) -> str:
    """The instruction that replaces "write a Markdown list" in the section's prompt."""
    style = style_of(key)
    shape = (
        'Answer with JSON only: {"in_scope": [...], "out_of_scope": [...]}'
        if style.split_scope
        else 'Answer with JSON only: {"items": [...]}'
    )
    return f"{shape}, {MIN_ITEMS} to 8 items. {style.hint} No numbering, no Markdown."


def _clean(raw: Any, said: set[str], counts: Counter[str], prompt: Sequence[str] = ()) -> list[str]:
    kept: list[str] = []
    seen: set[str] = set()
    for value in raw if isinstance(raw, list) else []:
        if not isinstance(value, str):
            counts["not text"] += 1
            continue
        for line in value.splitlines():
            item = clean_list_item(line)[:ITEM_MAX_CHARS]
            if not item or is_placeholder(item) or len(item.split()) < 2:
                counts["empty or placeholder"] += bool(line.strip())
                continue
            if drop_echoes(item, prompt)[1]:
                counts["repeats the prompt"] += 1
                continue
            if is_cut(item):
                counts["a piece of a sentence"] += 1
                continue
            key = dedupe_key(item)
            if key in seen:
                counts["duplicate"] += 1
                continue
            # An item whose sentence the run already wrote (in prose, or in an earlier item)
            # is that sentence twice to its reader, however the item goes on.
            keys = sentence_keys(item) | (
                {normalise(item)} if len(item) >= SAID_MIN_CHARS else set()
            )
            if any(is_said(k, said) for k in keys):
                counts["already written in the package"] += 1
                continue
            seen.add(key)
            said = said | remembered(keys)
            kept.append(item)
    return kept[:MAX_ITEMS]


def render(items: Sequence[str], marker: str) -> str:
    if marker == "1.":
        return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))
    return "\n".join(f"{marker} {item}" for item in items)


def items_markdown(
    key: str, data: Any, said: set[str], prompt: Sequence[str] = ()
) -> Repaired[str]:
    """The section's Markdown from the model's JSON, and what the rules removed.

    Raises ``ValueError`` when fewer than two usable items are left (the caller retries).
    """
    style = style_of(key)
    counts: Counter[str] = Counter()
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    if style.split_scope:
        inside = _clean(data.get("in_scope"), said, counts, prompt)
        outside = _clean(data.get("out_of_scope"), said, counts, prompt)
        if len(inside) < MIN_ITEMS:
            raise ValueError(f"only {len(inside)} usable in-scope item(s)")
        text = f"**In scope**\n\n{render(inside, '-')}"
        if outside:
            text += f"\n\n**Out of scope**\n\n{render(outside, '-')}"
        items = inside + outside
    else:
        items = _clean(data.get("items"), said, counts, prompt)
        if len(items) < MIN_ITEMS:
            raise ValueError(f"only {len(items)} usable item(s)")
        text = render(items, style.marker)
    block = paragraph_key(text)
    if block in said:
        raise ValueError("the list repeats one the run already wrote")
    said |= remembered(normalise(item) for item in items if len(item) >= SAID_MIN_CHARS)
    said |= remembered(set().union(*(sentence_keys(item) for item in items))) | {block}
    fixes = tuple(f"dropped {n} list item(s): {why}" for why, n in counts.items() if n)
    return Repaired(text, fixes)
