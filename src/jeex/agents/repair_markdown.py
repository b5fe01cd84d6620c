"""Markdown repair rules for one section's prose, as a weak model wrote it.

The model wraps its answer in a code fence, repeats the section title as a
heading (the renderer already writes ``## {title}``), loops on the same
paragraph or sentence, and stops mid-sentence when it runs out of tokens.
The rules work on blocks (paragraphs separated by blank lines, and fenced code
blocks); a fenced block is never edited, so tables, lists and Mermaid diagrams
survive. The rules for quotes, the model's talk about its answer and broken
lists live in `agents.repair_blocks` and run in the same passes. The rules are
repeated until nothing changes, which makes the result idempotent: a cleaned
section cleans to itself.
"""

from __future__ import annotations

import re
from collections import Counter

from jeex.agents.repair_blocks import (
    CLOSERS,
    RULE,
    Block,
    drop_cut_item,
    drop_duplicate_items,
    drop_meta_talk,
    is_prose,
    strip_edge_quotes,
)
from jeex.agents.repair_text import clean_title, dedupe_key

_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})\s*([^`]*?)\s*$")
_FENCE_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_TITLE_LINE = re.compile(r"^ {0,3}(?:(#{1,6})(?:\s+(.*?))?\s*#*|\*\*([^*]+)\*\*:?)\s*$")
_TOP_HEADING = re.compile(r"^ {0,3}#{1,2}(?=\s|$)")
_ANY_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s|$)")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]*_]*(?=\s)")
_WRAPPER_INFOS = frozenset({"markdown", "md"})
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def _opening_fence(line: str) -> str | None:
    match = _FENCE_OPEN.match(line)
    return match.group(1) if match else None


def _closes(line: str, fence: str) -> bool:
    match = _FENCE_CLOSE.match(line)
    return match is not None and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)


def _parse(text: str) -> tuple[list[Block], str | None]:
    """Split into blocks; also return the fence left open by a truncated answer."""
    blocks: list[Block] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is not None:
            current.append(line)
            if _closes(line, fence):
                blocks.append(Block(current, code=True))
                current, fence = [], None
        elif (opener := _opening_fence(line)) is not None:
            blocks.extend([Block(current, code=False)] if current else [])
            current, fence = [line], opener
        elif line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(Block(current, code=False))
            current = []
    if current:
        blocks.append(Block(current, code=fence is not None))
    return blocks, fence


def _render(blocks: list[Block]) -> str:
    return "\n\n".join("\n".join(block.lines) for block in blocks).rstrip()


def _wrapped_body(text: str) -> str | None:
    """The inside of a fence that wraps the whole answer, if the model added one.

    The wrapper may hold fences of its own (a Mermaid diagram) as long as they
    are balanced; a wrapper left open because the answer was cut is unwrapped
    too. An untagged fence is unwrapped only when it holds Markdown headings:
    an untagged fence around a directory tree is real content.
    """
    lines = text.split("\n")
    match = _FENCE_OPEN.match(lines[0])
    if match is None:
        return None
    blocks, open_fence = _parse(text)
    if len(blocks) == 1 and open_fence is not None:
        body = lines[1:]
    elif len(lines) > 1 and _closes(lines[-1], match.group(1)):
        body = lines[1:-1]
        if _parse("\n".join(body))[1] is not None:
            return None
    else:
        return None
    info = match.group(2).lower()
    has_heading = any(_ANY_HEADING.match(line) for line in body)
    return "\n".join(body) if info in _WRAPPER_INFOS or (not info and has_heading) else None


def _drop_leading_headings(blocks: list[Block], title: str, fixes: Counter[str]) -> None:
    """Drop the heading that repeats the section title, or a leading H1/H2 of its own."""
    wanted = dedupe_key(clean_title(title))
    removed = 0
    while blocks and not blocks[0].code:
        match = _TITLE_LINE.match(blocks[0].lines[0])
        if not match:
            return
        level = len(match.group(1) or "")
        text = match.group(2) or match.group(3) or ""
        repeats_title = dedupe_key(clean_title(text)) == wanted
        if not (repeats_title or (removed == 0 and 1 <= level <= 2)):
            return
        del blocks[0].lines[0]
        if not blocks[0].lines:
            del blocks[0]
        removed += 1
        fixes["heading"] += 1


def _demote_headings(blocks: list[Block], fixes: Counter[str]) -> None:
    """Keep the document outline: a section's own headings sit below its ``##``."""
    for block in blocks:
        if block.code:
            continue
        for index, line in enumerate(block.lines):
            if _TOP_HEADING.match(line):
                block.lines[index] = _TOP_HEADING.sub("###", line, count=1)
                fixes["demoted"] += 1


def _collapse_repeated_sentences(blocks: list[Block], fixes: Counter[str]) -> None:
    """Collapse a sentence said three or more times in a row: the model looped."""
    for block in filter(is_prose, blocks):
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(line.strip() for line in block.lines))
        kept: list[str] = []
        run = 0
        for sentence in sentences:
            run = run + 1 if kept and sentence == kept[-1] else 1
            kept.append(sentence)
            if run == 3:
                del kept[-2:]
                fixes["sentence"] += 1
            elif run > 3:
                kept.pop()
        if len(kept) < len(sentences):
            block.lines = [" ".join(kept)]


def _drop_trailing_fragment(blocks: list[Block], fixes: Counter[str]) -> None:
    """Cut the half sentence left when the model ran out of tokens.

    Only when a complete sentence precedes it in the same paragraph: a last
    paragraph without any sentence end may be a label, so it is kept.
    """
    if not blocks or not is_prose(blocks[-1]):
        return
    text = "\n".join(blocks[-1].lines)
    if text.rstrip(CLOSERS).endswith((".", "!", "?", ":", "…")):
        return
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        blocks[-1].lines = text[: ends[-1].end()].split("\n")
        fixes["fragment"] += 1


def _drop_duplicate_paragraphs(blocks: list[Block], fixes: Counter[str]) -> None:
    """Remove a paragraph the model already wrote; code blocks and rules are kept."""
    seen: set[str] = set()
    kept: list[Block] = []
    for block in blocks:
        key = "\n".join(block.lines)
        if block.code or RULE.match(key) or key not in seen:
            kept.append(block)
            seen.add(key)
        else:
            fixes["duplicate"] += 1
    blocks[:] = kept


def _clean_once(text: str, title: str, fixes: Counter[str]) -> str:
    """One pass of every rule; `clean_markdown` repeats it until nothing changes."""
    text = _LEADING_BLANK_LINES.sub("", text).rstrip()
    body = _wrapped_body(text)
    if body is not None:
        fixes["unwrapped"] += 1
        text = body
    blocks, open_fence = _parse(text)
    if open_fence is not None:
        blocks[-1].lines.append(open_fence)
        fixes["fence"] += 1
    strip_edge_quotes(blocks, fixes)
    drop_meta_talk(blocks, fixes)
    _drop_leading_headings(blocks, title, fixes)
    _demote_headings(blocks, fixes)
    _collapse_repeated_sentences(blocks, fixes)
    _drop_trailing_fragment(blocks, fixes)
    drop_duplicate_items(blocks, fixes)
    drop_cut_item(blocks, fixes)
    _drop_duplicate_paragraphs(blocks, fixes)
    return _render(blocks)


_MESSAGES = {
    "unwrapped": "unwrapped the code fence around the whole answer",
    "fence": "closed an unterminated code fence",
    "heading": "removed {n} leading heading(s); the renderer writes the section title",
    "demoted": "demoted {n} heading(s) to level 3",
    "sentence": "collapsed {n} sentence(s) repeated three or more times in a row",
    "fragment": "removed a trailing incomplete sentence",
    "duplicate": "removed {n} duplicate paragraph(s)",
    "quotes": "removed quotation marks around or at the edge of {n} paragraph(s)",
    "meta": "removed {n} sentence(s) where the model talked about its own answer",
    "meta_list": "removed {n} list item(s) describing the model's own changes, not the product",
    "item": "removed {n} duplicate list item(s)",
    "renumbered": "renumbered {n} numbered list(s) after removing items",
    "cut_item": "removed a trailing list item that was cut off",
}


def clean_markdown(text: str, *, title: str) -> tuple[str, list[str]]:
    """Apply the section rules to a fixed point; return the text and what was repaired."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    canonical = _LEADING_BLANK_LINES.sub("", text).rstrip()
    fixes: Counter[str] = Counter()
    previous = None
    while text != previous:
        previous, text = text, _clean_once(text, title, fixes)
    messages = [_MESSAGES[key].format(n=count) for key, count in fixes.items()]
    if text != canonical and not messages:
        messages.append("normalized whitespace and blank lines")
    return text, messages
