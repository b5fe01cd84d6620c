"""Text-level repair rules: filler detection, titles, slugs and the list repairs.

A 135M model copies the schema's field names ("title", "string"), the prompt's
own examples ("Epic 3") and template filler ("[insert X]") into its answers.
These helpers recognise that filler and normalise one-line text so that the
structural repairs in `agents.repair` can compare, dedupe and slug it reliably.
The result types and the question / key-fact rules live here too, to keep each
module small; import everything from `agents.repair`, which re-exports it.
Every function here is pure and idempotent: repairing twice changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from slugify import slugify

T = TypeVar("T")

TITLE_MAX_LENGTH = 120


class UnrepairableOutput(Exception):
    """The model's output cannot be repaired into something usable; the message says why."""


@dataclass(frozen=True)
class Repaired(Generic[T]):
    """A repaired value and the human-readable list of repairs, for the audit trail."""

    value: T
    fixes: tuple[str, ...] = ()


_PLACEHOLDER_WORDS = frozenset(
    {
        "tbd",
        "tba",
        "todo",
        "fixme",
        "n/a",
        "n.a",
        "na",
        "none",
        "null",
        "nil",
        "undefined",
        "string",
        "str",
        "text",
        "title",
        "name",
        "goal",
        "description",
        "summary",
        "example",
        "sample",
        "placeholder",
        "untitled",
        "unknown",
        "etc",
        "lorem ipsum",
        "epic title",
        "epic name",
        "title here",
        "your title",
        "your title here",
        "insert title",
        "insert title here",
        "to be determined",
        "to be defined",
        "not applicable",
        "same as above",
        "question",
        "fact",
        "key fact",
    }
)

_PLACEHOLDER_PATTERNS = (
    # "Epic", "Epic 3", "Feature B", "Step #2": the prompt's own labels, no content.
    re.compile(
        r"(?:epic|feature|task|item|step|phase|stage|milestone|sprint|story|part|section"
        r"|question|fact)s?(?:\s*#?\s*(?:\d+|[a-z]))?"
    ),
    re.compile(r"x{3,}"),
    re.compile(r"<[^<>]*>|\[[^\[\]]*\]|\{\{.*\}\}|\{[^{}]*\}"),
    re.compile(r"lorem ipsum\b.*"),
    re.compile(r"(?:insert|enter|add|your)\b.*\bhere"),
    re.compile(r"insert\s+\w.*"),
)

_EDGE_NOISE = " \t\n\r\"'`*_“”‘’«»"
_TRAILING_PUNCT = ".,;:!?…-–—"


def _normalise_for_placeholder(text: str) -> str:
    """Lowercase and peel quotes, emphasis and end punctuation that hide filler."""
    core = text.strip().lower()
    previous = None
    while core != previous:
        previous = core
        core = core.strip(_EDGE_NOISE).rstrip(_TRAILING_PUNCT).lstrip("-–—•")
    return re.sub(r"\s+", " ", core)


def is_placeholder(text: str) -> bool:
    """Tell filler from content, so filler is dropped instead of published.

    A text with no letter or digit ("...", "—") counts as filler too.
    """
    core = _normalise_for_placeholder(text)
    if not re.search(r"[^\W_]", core):
        return True
    if core in _PLACEHOLDER_WORDS:
        return True
    return any(pattern.fullmatch(core) for pattern in _PLACEHOLDER_PATTERNS)


_PROSE_PLACEHOLDERS = re.compile(
    r"\b(?:TODO|FIXME|X{3,})\b"
    r"|\b(?i:tbd)\b"
    r"|(?i:lorem\s+ipsum)"
    r"|\{\{[^{}\n]*\}\}"
    r"|\[(?i:insert|enter|add|your|placeholder|tbd|todo|name\b|company\b)[^\[\]\n]{0,80}\](?![(\[:])"
    r"|\[[A-Z][\w'-]*(?:[ ][A-Z][\w'-]*)+\](?![(\[:])"
    r"|<(?i:insert|enter|your|placeholder|tbd|todo)[^<>\n]{0,80}>"
    r"|<[A-Za-z]+(?:[ _][A-Za-z]+)+>"
)
_FENCE_OR_INLINE_CODE = re.compile(r"^\s*(`{3,}|~{3,}).*?^\s*\1[ \t]*$|`[^`\n]*`", re.M | re.S)


def find_placeholders(markdown: str) -> list[str]:
    """List template filler left in prose, so a document can be rejected or flagged.

    Code (fenced blocks and inline spans) is skipped: a Mermaid node such as
    ``A[Web App]`` or a ``<div>`` in a sample is content, not filler.
    """
    prose = _FENCE_OR_INLINE_CODE.sub(" ", markdown)
    found: list[str] = []
    for match in _PROSE_PLACEHOLDERS.finditer(prose):
        if match.group(0) not in found:
            found.append(match.group(0))
    return found


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_NUMBERING = re.compile(
    r"^(?:"
    r"\(?\d+(?:\.\d+)*[.)](?!\d)\s*"  # "1.", "1)", "(2)", "1.2." but not "1.5x"
    r"|\d+\s*[:\-–—]\s+"  # "1 - ", "2: "
    r"|(?:epic|step|phase|stage|milestone|part|feature|task|sprint|item)\s*#?\s*"
    r"(?:\d+|[a-z])?(?:\s*[:.)]\s*|\s*[\-–—]+\s+)"  # "Epic 3:", "Epic #3 -", not "Feature-rich"
    r")(?=\S)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?:[-*+•·>]|#{1,6})\s+")


def _clean_title_once(text: str) -> str:
    """One pass of the title rules; `clean_title` repeats it to a fixed point."""
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"[*`]+", "", text)
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)
    text = re.sub(r"\s+", " ", text).strip(_EDGE_NOISE)
    text = _BULLET.sub("", text).lstrip("#").strip(_EDGE_NOISE)
    text = _NUMBERING.sub("", text).strip(_EDGE_NOISE)
    text = text.rstrip(_TRAILING_PUNCT + " ").strip(_EDGE_NOISE)
    if len(text) > TITLE_MAX_LENGTH:
        cut = text[: TITLE_MAX_LENGTH + 1].rfind(" ")
        text = text[: cut if cut > 0 else TITLE_MAX_LENGTH]
    return text[:1].upper() + text[1:]


def clean_title(text: str) -> str:
    """Reduce a model-written title to its words: no markup, numbering or end punctuation.

    Positions are re-assigned by the repair, so the model's own "Epic 3:" prefix
    is noise; and the cap keeps titles inside the `Epic.title` contract.
    """
    previous = None
    while text != previous:
        previous, text = text, _clean_title_once(text)
    return text


def make_slug(title: str, *, max_length: int = 60) -> str:
    """A file-name-safe slug that is never empty, so every epic gets a plan file."""
    slug = slugify(title, max_length=max_length, word_boundary=True, lowercase=True)
    return str(slug).strip("-") or "epic"


_LIST_MARKER = re.compile(
    r"^(?:[-*+•·]\s+|\(?\d+[.)](?!\d)\s*|\d+\s*[:\-–—]\s+|[a-z][.)]\s+"
    r"|(?:q|question|fact|key fact)\s*#?\s*\d*\s*[:.)\-–—]\s*)",
    re.IGNORECASE,
)


def clean_list_item(text: str) -> str:
    """Strip the bullet or number a model puts before each item of a JSON list."""
    previous = None
    text = re.sub(r"\s+", " ", text).strip()
    while text != previous:
        previous = text
        text = _LIST_MARKER.sub("", text).strip(' \t"“”')
    return text


def dedupe_key(text: str) -> str:
    """Compare items ignoring case, spacing and punctuation: a model's rewordings differ so."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


_ITEM_MESSAGES = {
    "rhetorical": "dropped {n} rhetorical or generic {noun}(s) that ask the reader nothing",
    "split": "split {n} multi-line {noun} item(s) into one {noun} per line",
    "cleaned": "stripped list markers, quotes or extra whitespace from {n} {noun}(s)",
    "placeholder": "dropped {n} empty or placeholder {noun}(s)",
    "fragment": "dropped {n} {noun}(s) that were not sentences (under 3 words, mostly symbols,"
    " or code)",
    "finished": "ended {n} {noun}(s) with a single question mark",
    "statement": "dropped {n} {noun}(s) that were statements, not questions",
    "duplicate": "removed {n} duplicate {noun}(s)",
    "capped": "dropped {n} {noun}(s) beyond the limit of {limit}",
}


def _split_lines(items: Iterable[str], counts: Counter[str]) -> list[str]:
    """A weak model often returns the whole list as one string, one item per line."""
    lines: list[str] = []
    for item in items:
        parts = [part for part in item.splitlines() if part.strip()]
        counts["split"] += len(parts) > 1
        lines.extend(parts or [item])
    return lines


_CODE_FRAGMENTS = ("(", ")", "{", "}", ";", "=", ".join", "</")
#: Markdown structure copied out of the document is not a fact: headings, tables, rules.
_MARKUP_STARTS = ("#", "|", "---", "***", "```", ">")


def _is_sentence_like(text: str) -> bool:
    """At least 3 words, 60% letters among non-space characters, no code, no Markdown markup.

    Broken JSON leaves fragments such as ``.join(`` in a list of facts.
    """
    chars = [char for char in text if not char.isspace()]
    letters = sum(char.isalpha() for char in chars)
    return (
        len(text.split()) >= 3
        and letters * 5 >= len(chars) * 3
        and not any(fragment in text for fragment in _CODE_FRAGMENTS)
        and not text.lstrip().startswith(_MARKUP_STARTS)
    )


def _repair_items(
    items: list[str],
    *,
    limit: int,
    noun: str,
    finish: Callable[[str], str],
    reject: Callable[[str], bool] = lambda _text: False,
) -> Repaired[list[str]]:
    """The shared list rules: clean, drop filler and fragments, finish, dedupe, cap."""
    counts: Counter[str] = Counter()
    kept: list[str] = []
    seen: set[str] = set()
    for item in _split_lines(items, counts):
        text = clean_list_item(item)
        counts["cleaned"] += text != item
        if is_placeholder(text):
            counts["placeholder"] += 1
            continue
        finished = finish(text)
        if not finished:
            counts["statement"] += 1
            continue
        if not _is_sentence_like(finished):
            counts["fragment"] += 1
            continue
        if reject(finished):
            counts["rhetorical"] += 1
            continue
        counts["finished"] += finished != text
        key = dedupe_key(finished)
        counts["duplicate"] += key in seen
        if key not in seen:
            seen.add(key)
            kept.append(finished)
    counts["capped"] = max(len(kept) - limit, 0)
    fixes = [
        _ITEM_MESSAGES[key].format(n=n, noun=noun, limit=limit) for key, n in counts.items() if n
    ]
    return Repaired(kept[:limit], tuple(fixes))


_TRAILING_PUNCTUATION = re.compile(r"[\s.,;:!?？…]*$")


def _as_question(text: str) -> str:
    """A question keeps one question mark; a statement is not a question and is dropped.

    Appending "?" to "the team has taken great care" would invent a question nobody asked.
    """
    trailing = _TRAILING_PUNCTUATION.search(text)
    ending = trailing.group() if trailing else ""
    if "?" not in ending and "？" not in ending:
        return ""
    body = text[: len(text) - len(ending)]
    mark = "？" if "？" in ending and "?" not in ending else "?"
    return body[:1].upper() + body[1:] + mark


#: Questions that ask the reader nothing: praise in question form, the model's own
#: rhetoric, or so generic they fit any product (issue 15). Checked on the question as a
#: whole, case-insensitively, in the four languages the benchmark uses.
_RHETORICAL = re.compile(
    r"game[- ]?changer|revolutioni[sz]|stand(?:s)? out|what makes .{0,80}"
    r"(?:unique|special|different|great|successful|stand|ideal|perfect|so )"
    r"|why (?:is|are|should|would|do|does) .{0,80}(?:important|matter|choose|need|use|love)"
    r"|how (?:can|do|will|could) (?:we|you|i) (?:ensure|make sure|guarantee)"
    r"|what are the (?:main |key )?(?:benefits|advantages)"
    r"|(?:isn't|wouldn't|doesn't|aren't) (?:it|that|this)\b|can you imagine|have you ever|what if\b"
    r"|what do you think|any (?:other )?questions"
    r"|what (?:is|are) the (?:main |overall |primary )?(?:purpose|point|vision)s? of"
    r"|в чём (?:цель|смысл)|was ist (?:der|das) (?:zweck|ziel)"
    r"|cuál es (?:el|la) (?:propósito|objetivo)"
    r"|что делает .{0,80}(?:уникальн|особенн)|почему .{0,80}важн"
    r"|was macht .{0,80}(?:einzigartig|besonders)|warum ist .{0,80}wichtig"
    r"|qué hace .{0,80}(?:únic|especial)|por qué es .{0,80}importante",
    re.IGNORECASE,
)
#: Fewer words than this cannot name what the product must decide.
_MIN_QUESTION_WORDS = 4


def is_rhetorical(question: str) -> bool:
    """A question nobody needs to answer to improve the document."""
    return bool(_RHETORICAL.search(question)) or len(question.split()) < _MIN_QUESTION_WORDS


def repair_questions(questions: list[str], *, limit: int = 5) -> Repaired[list[str]]:
    """Questions for the user: real questions only, none rhetorical or generic, each
    once, at most `limit`."""
    return _repair_items(
        questions, limit=limit, noun="question", finish=_as_question, reject=is_rhetorical
    )


def repair_key_facts(facts: list[str], *, limit: int = 10) -> Repaired[list[str]]:
    """Key facts handed to later agents: no filler or repeats, at most `limit`."""
    return _repair_items(facts, limit=limit, noun="key fact", finish=lambda text: text)
