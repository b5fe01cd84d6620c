"""Markdown repair rules for the model's talk, stray quotes and broken lists.

SmolLM2 quotes its own answer (``"The app is ..."``), talks about it ("In this
version, I've added a few key features:", "I hope this helps!"), loops on one
list item until it runs out of tokens, and stops in the middle of the last one.
These rules work on the blocks `agents.repair_markdown` parses and run inside
its fixed-point loop, so each rule only has to make progress, and must count a
fix in `fixes` only when it changed the text. A code block is never edited.

Lists are read the CommonMark way: an item is a line starting with ``-``,
``*``, ``+``, ``1.`` or ``1)`` (indented at most one space); the lines after it
in the same paragraph belong to it (continuations and nested lists); a list
goes on across a blank line when the next paragraph starts with an item of the
same kind, and ends at anything else.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from jeex.agents.repair_text import dedupe_key

RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
# A list item, quote, table, HTML, heading, fence or indented code line. A leading
# ``**bold**`` or ``*emphasis*`` is prose: a bullet needs a space after it.
NOT_PROSE = re.compile(r"^(?: {4}|\t|\s*(?:[-*+](?:\s|$)|[>|<]|\d+[.)]\s|#{1,6}(?:\s|$)|```|~~~))")
CLOSERS = "\"'”’)]*_"


@dataclass
class Block:
    """A paragraph (``code`` false) or a fenced code block with its fence lines."""

    lines: list[str]
    code: bool


def is_prose(block: Block) -> bool:
    """A paragraph of plain sentences: no list, heading, table, quote, rule or code line."""
    return not block.code and not any(
        NOT_PROSE.match(line) or RULE.match(line) for line in block.lines
    )


def _prose_line(line: str) -> bool:
    return not (NOT_PROSE.match(line) or RULE.match(line))


def _rebuild(
    blocks: list[Block], deleted: set[tuple[int, int]], replaced: dict[tuple[int, int], str]
) -> None:
    """Apply line deletions and replacements (by block and line index); drop emptied blocks.

    Code blocks are kept as they are: the rules never address their lines.
    """
    rebuilt: list[Block] = []
    for b, block in enumerate(blocks):
        if block.code:
            rebuilt.append(block)
            continue
        lines = [replaced.get((b, i), line) for i, line in enumerate(block.lines)]
        lines = [line for i, line in enumerate(lines) if (b, i) not in deleted and line.strip()]
        rebuilt.extend([Block(lines, code=False)] if lines else [])
    blocks[:] = rebuilt


# --- quotation marks ------------------------------------------------------------------

_QUOTES = ('"', "“", "”", "„")


def _unquoted(lines: list[str]) -> list[str] | None:
    """The paragraph without its wrapping or stray edge quotes; None when nothing to strip.

    Wrapping: the paragraph starts and ends with a quote and holds no other one.
    Stray: an odd number of quotes and one at exactly one edge (or a lone one).
    Quotes inside sentences (``He said "go."``, ``"Fast" is the word.``) stay.
    """
    first = lines[0].lstrip()
    count = sum("\n".join(lines).count(quote) for quote in _QUOTES)
    starts, ends = first.startswith(_QUOTES), lines[-1].endswith(_QUOTES)
    wrapped = starts and ends and count == 2
    strip_start = wrapped or (starts and count % 2 == 1 and (not ends or count == 1))
    strip_end = wrapped or (ends and count % 2 == 1 and not starts)
    if not (strip_start or strip_end):
        return None
    new = list(lines)
    if strip_start:
        new[0] = new[0][: len(new[0]) - len(first)] + first[1:].lstrip()
    if strip_end:
        new[-1] = new[-1][:-1].rstrip()
    new = [line for line in new if line.strip()]
    return new if is_prose(Block(new, code=False)) else None


def strip_edge_quotes(blocks: list[Block], fixes: Counter[str]) -> None:
    """Remove quotes around a whole paragraph, or a stray one at its start or end."""
    for block in filter(is_prose, blocks):
        new = _unquoted(block.lines)
        if new is not None:
            block.lines = new
            fixes["quotes"] += 1
    blocks[:] = [block for block in blocks if block.lines]


# --- lists ----------------------------------------------------------------------------

_ITEM = re.compile(r"^ ?(?:([-*+])|\d{1,9}([.)]))[ \t]+(?=\S)")
_NUMBER = re.compile(r"^( ?)(\d{1,9})(?=[.)])")
_TERM = re.compile(r"(\*\*|__)(?P<term>[^*_\n]+?)\1(?P<after>\s*:|\s+[-–—](?=\s)|\s*$)?")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TERMINAL = (".", "!", "?", "…", ":", ";")
# Words a list item cannot end on: the model stopped in the middle of a phrase.
_FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "the", "and", "or", "but", "nor", "to", "of", "with", "by", "than", "as"),
        *("can", "could", "will", "would", "shall", "should", "may", "might", "must"),
        *("your", "their", "our", "its", "my", "very", "such"),
    }
)
CUT_ITEM_MIN_WORDS = 6


@dataclass
class _Item:
    """A list item: lines ``start`` up to ``end`` (exclusive) of block ``block``."""

    block: int
    start: int
    end: int


def _item_kind(line: str) -> str | None:
    """The bullet character or the number delimiter; None when the line is no item."""
    match = _ITEM.match(line)
    if match is None or RULE.match(line):
        return None
    return match.group(1) or match.group(2)


def _find_lists(blocks: list[Block]) -> list[list[_Item]]:
    """Every top-level list, in document order, as its items."""
    lists: list[list[_Item]] = []
    current: list[_Item] | None = None
    kind: str | None = None
    for b, block in enumerate(blocks):
        if block.code or _item_kind(block.lines[0]) != kind:
            current = None
        if block.code:
            continue
        for i, line in enumerate(block.lines):
            line_kind = _item_kind(line)
            if line_kind is None:
                if current is not None:
                    current[-1].end = i + 1
                continue
            if current is None or line_kind != kind:
                current, kind = [], line_kind
                lists.append(current)
            current.append(_Item(b, i, i + 1))
    return lists


def _item_text(blocks: list[Block], item: _Item) -> str:
    lines = blocks[item.block].lines[item.start : item.end]
    return " ".join([_ITEM.sub("", lines[0]), *(line.strip() for line in lines[1:])])


def _split_term(text: str) -> tuple[str | None, str]:
    """``(term, body)`` for a ``**Term**: body`` item, else ``(None, text)``."""
    match = _TERM.match(text)
    if match is None or (match.group("after") is None and not match.group("term").endswith(":")):
        return None, text
    return match.group("term"), text[match.end() :].strip()


def _lines_of(item: _Item) -> set[tuple[int, int]]:
    return {(item.block, i) for i in range(item.start, item.end)}


def _renumber(
    blocks: list[Block], items: list[_Item], replaced: dict[tuple[int, int], str]
) -> bool:
    """Number an ordered list's items on from its first number; True when one changed."""
    first = _NUMBER.match(blocks[items[0].block].lines[items[0].start])
    if first is None:
        return False
    changed = False
    for number, item in enumerate(items, start=int(first.group(2))):
        line = blocks[item.block].lines[item.start]
        new = _NUMBER.sub(rf"\g<1>{number}", line, count=1)
        replaced[(item.block, item.start)] = new
        changed = changed or new != line
    return changed


def drop_duplicate_items(blocks: list[Block], fixes: Counter[str]) -> None:
    """Remove an item repeating an earlier one of its list: same bold term or same words.

    A numbered list that lost items is renumbered from its first number.
    """
    deleted: set[tuple[int, int]] = set()
    replaced: dict[tuple[int, int], str] = {}
    for items in _find_lists(blocks):
        terms: set[str] = set()
        texts: set[str] = set()
        kept: list[_Item] = []
        for item in items:
            text = _item_text(blocks, item)
            term_key = dedupe_key(_split_term(text)[0] or "")
            text_key = dedupe_key(text)
            if term_key in terms or text_key in texts:
                deleted |= _lines_of(item)
                fixes["item"] += 1
                continue
            kept.append(item)
            terms |= {term_key} - {""}
            texts |= {text_key} - {""}
        if len(kept) < len(items) and _renumber(blocks, kept, replaced):
            fixes["renumbered"] += 1
    _rebuild(blocks, deleted, replaced)


def _terminated(text: str) -> bool:
    return text.rstrip(CLOSERS + " ").endswith(_TERMINAL)


def _cut_off(texts: list[str]) -> bool:
    """Whether the last of a list's items was cut off by the token limit.

    It is, when it has no end punctuation and either ends on a function word
    ("You can"), or is a ``**Term**: body`` item with a body under six words
    while every other item of its list ends with punctuation.
    """
    *others, last = texts
    term, body = _split_term(last)
    if _terminated(body):
        return False
    words = _WORD.findall(body.lower())
    if words and words[-1] in _FUNCTION_WORDS:
        return True
    short = term is not None and len(words) < CUT_ITEM_MIN_WORDS
    return short and bool(others) and all(map(_terminated, others))


def drop_cut_item(blocks: list[Block], fixes: Counter[str]) -> None:
    """Remove the section's last list item when the model stopped in the middle of it."""
    lists = _find_lists(blocks)
    if not lists:
        return
    items, last = lists[-1], lists[-1][-1]
    at_end = last.block == len(blocks) - 1 and last.end == len(blocks[-1].lines)
    if at_end and _cut_off([_item_text(blocks, item) for item in items]):
        _rebuild(blocks, _lines_of(last), {})
        fixes["cut_item"] += 1


# --- the model talking about its answer -----------------------------------------------

_LEAD = r"[\s*_\"“”'‘’]*"
# The model describing its own revision; a list such a sentence introduces goes too.
_META_CHANGES = re.compile(
    _LEAD + r"(?:in\s+this\s+(?:\w+\s+){0,2}?(?:version|revision|rewrite|draft)\b[^.!?:\n]{0,40}?"
    r"\bI\b|I(?:'ve|’ve|\s+have)?\s+(?:added|made|rewritten|rewrote|revised|updated|included"
    r"|removed|expanded|changed|improved|edited)\b)",
    re.IGNORECASE,
)
# Chat talk around the answer: the sentence goes, whatever follows it stays.
_META_TALK = re.compile(
    _LEAD + r"(?:here(?:'s|’s|\s+is|\s+are)\s+(?:(?:my|the|a|an|your|this|some)\s+)?"
    r"(?:[\w-]+\s+){0,3}?(?:version|revision|rewrite|draft|answer|response|reply|section"
    r"|paragraph|output|text|content|attempt)s?\b"
    r"|here(?:'s|’s|\s+is)\s+(?:what|how)\s+I\b"
    r"|(?:sure|certainly|absolutely|of\s+course)(?:!|\.(?=\s|$)|,\s*(?:here|I\b|let|below))"
    r"|as\s+an\s+ai\b|I\s+hope\s+(?:this|that|it)\b|let\s+me\s+know\b|feel\s+free\s+to\b"
    r"|in\s+this\s+(?:\w+\s+){0,2}?(?:response|answer|section|text|paragraph)\b[^.!?:\n]{0,40}?"
    r"\bI\b"
    r"|note\W{0,4}\s*this\s+(?:section|version|answer|response|draft|text)\b)",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.!?…:][\"'”’)\]*_]*(?=\s|$)")


def _without_meta(line: str) -> tuple[str, int, bool]:
    """Strip a line's leading meta sentences.

    Returns the rest, how many sentences went, and whether the last one was
    about the model's changes and ended with ``:``, so it introduces a list.
    """
    rest, removed, introduces = line.strip(), 0, False
    while match := _META_CHANGES.match(rest) or _META_TALK.match(rest):
        end = _CLAUSE_END.search(rest, match.end() - 1)
        cut = end.end() if end else len(rest)
        introduces = match.re is _META_CHANGES and rest[:cut].rstrip(CLOSERS).endswith(":")
        rest, removed = rest[cut:].strip(), removed + 1
    return rest, removed, introduces


def drop_meta_talk(blocks: list[Block], fixes: Counter[str]) -> None:
    """Remove sentences where the model talks about its answer instead of the product.

    "Here's the revised section:" goes but the section after it stays; "In
    this version, I've added:" goes together with the list it introduces,
    which describes the model's changes, not the product.
    """
    lists = _find_lists(blocks)
    starts = {
        (item.block, item.start): (items, k) for items in lists for k, item in enumerate(items)
    }
    deleted: set[tuple[int, int]] = set()
    replaced: dict[tuple[int, int], str] = {}
    for b, block in enumerate(blocks):
        for i, line in enumerate([] if block.code else block.lines):
            if not _prose_line(line):
                continue
            rest, removed, introduces = _without_meta(line)
            kept = line[: len(line) - len(line.lstrip())] + rest
            if not removed or (rest and not _prose_line(kept)):
                continue
            fixes["meta"] += removed
            replaced[(b, i)] = kept
            after = (b, i + 1) if i + 1 < len(block.lines) else (b + 1, 0)
            if introduces and not rest and after in starts:
                items, k = starts[after]
                fixes["meta_list"] += len(items) - k
                for item in items[k:]:
                    deleted |= _lines_of(item)
    _rebuild(blocks, deleted, replaced)
