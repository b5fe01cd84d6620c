"""What a section must not repeat: the prompt it was given, and what the run already wrote.

A small model echoes its prompt: the scaffolding labels ("Section:", "Instructions: …",
"Length: about 120 words."), the list of sections written so far, the instructions
themselves. And it loops across sections and documents: the same sentence closes every
epic. Neither is the model's limit, it is ours to catch (issue 15):

* ``drop_echoes`` removes every line of a section that starts with one of the prompt's
  labels, is a delimiter of its reference block, or repeats one of the prompt's own
  instruction lines (compared without case, spacing, punctuation or Markdown marks).
  The reference material inside the prompt is not compared here: restating an earlier
  document's sentence is repetition, which the next rule handles.
  So does every sentence about the text itself (a word count, "The response must
  contain …"): the prompt's instructions, or those of the model's training data.
* ``drop_said`` removes every sentence (of 40 characters or more) that the run has
  already written, in this document or an earlier one of the same run, or nearly so (a
  long sentence with a word or two changed), and every paragraph already written in the
  package, and adds the section's own sentences to what was said. Short sentences ("Yes.",
  a list item such as "Offline mode") may repeat legitimately and are left alone. Code
  blocks and tables are never edited.

Both are pure functions of their input, so they are tested directly and property-based.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: The labels ``prompts.section_messages`` writes; a line that starts with one is scaffolding.
LABELS = (
    "idea",
    "subject",
    "audience",
    "clarification",
    "document",
    "earlier documents",
    "sections already written",
    "section",
    "instructions",
    "length",
    "excerpts",
    "reference material",
)
#: The labels of an epic's focus line ("Goal: …", "Depends on: …") at the start of a line:
#: the label goes, its text stays. "Goal: List of items …" was an epic's whole scope in
#: make plan; in German, Russian and Spanish the model opens the Goal section with it, so
#: dropping the line left the section empty and failed the step.
_FOCUS_LABEL = re.compile(
    r"^(\s*(?:[-*+]\s+|\d+[.)]\s+)?)[*_`]*(?:goal|depends on)[*_`]*\s*:[*_`]*\s*",
    re.IGNORECASE,
)
_LABEL_LINE = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s+)?[*_`]*(?:"
    + "|".join(LABELS)
    # "SECTION 1: SHOWCHEPERS" (make plan's risks): a label numbered is still a label.
    + r")(?:\s+\d+)?[*_`]*\s*:",
    re.IGNORECASE,
)
#: The prompt's length instruction woven into a sentence ("The first release delivers in
#: about 120 words."), and the writing instructions of the model's own training data ("The
#: response must contain exactly 3 bullet points.", "use markdown formatting"): text about
#: the text, never about the product. English: the prompt's labels are English.
_ABOUT_THE_TEXT = re.compile(
    r"\b(?:about|around|approximately|roughly|exactly|at least|at most)\s+\d+\s+words\b"
    r"|\bthe (?:response|answer|output|document|text) (?:must|should|needs to) "
    r"(?:have|contain|include|be written|consist|start|end)\b"
    r"|\b(?:\d+|two|three|four|five) bullet points\b|\bmarkdown (?:formatting|dividers?)\b"
    r"|\bparagraphs (?:are|must be) separated\b|\bin all (?:lowercase|capital) letters\b"
    r"|\bpostscript starting with\b",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"^\s*(?:<<<\w*|\w*>>>)\s*$")
#: The epic's focus line (``implementation_planner.write_epic``) copied as a line of its own:
#: "The Epic 2 of 3: Shared lists. Goal: …" is the prompt's frame, not a sentence of the epic.
_FOCUS_LINE = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#+\s+)?[*_`]*(?:the\s+)?epic\s+\d+\s+of\s+\d+[*_`]*\s*:",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_ITEM = re.compile(r"^(\s*(?:[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+))")
#: A prompt line must have this many words before a section line repeating it is an echo.
ECHO_MIN_WORDS = 4
#: Sentences shorter than this may repeat (labels, short list items, "Yes.").
SAID_MIN_CHARS = 40


def normalise(text: str) -> str:
    """Lower case, words only: how two lines or sentences are compared."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def is_label_line(line: str) -> bool:
    return bool(_LABEL_LINE.match(line) or _DELIMITER.match(line) or _FOCUS_LINE.match(line))


#: The prompt's own words: its instructions, not the data it carries (the idea, the audience,
#: the clarifications, an epic's goal), which a section may rightly restate.
INSTRUCTION_LABELS = ("section", "sections already written", "instructions", "length", "document")
_INSTRUCTION = re.compile(r"^\s*(?:" + "|".join(INSTRUCTION_LABELS) + r")\s*:", re.IGNORECASE)


def prompt_lines(messages: Iterable[dict[str, str]]) -> list[str]:
    """The prompt's instructions, sentence by sentence: the system message, and the user
    lines under an instruction label. Quoted material (earlier documents between ``<<<``
    and ``>>>``, passages between ``<<<SOURCES`` and ``SOURCES>>>``) and the data lines
    (idea, audience, clarifications, focus) are not instructions."""
    lines: list[str] = []
    for message in messages:
        system = message.get("role") == "system"
        inside = False
        for line in message["content"].split("\n"):
            if _DELIMITER.match(line):
                inside = line.strip().startswith("<<<")
                continue
            if inside or not (system or _INSTRUCTION.match(line)):
                continue
            lines.extend(part for part in _SENTENCE.split(line) if part.strip())
    return lines


def _echoes(line: str, given: Sequence[str]) -> bool:
    said = normalise(line)
    if not said:
        return False
    for prompt in given:
        if len(prompt.split()) < ECHO_MIN_WORDS:
            continue
        if said == prompt or (len(said.split()) >= ECHO_MIN_WORDS and said in prompt):
            return True
        if prompt in said and len(prompt.split()) >= 2 * ECHO_MIN_WORDS:
            return True
    return False


def _echo(piece: str, given: Sequence[str]) -> bool:
    return is_label_line(piece) or bool(_ABOUT_THE_TEXT.search(piece)) or _echoes(piece, given)


def drop_echoes(text: str, prompt: Sequence[str]) -> tuple[str, int]:
    """The section without the lines (or sentences inside a line) that repeat its prompt,
    and how many were removed."""
    given = [normalise(line) for line in prompt]
    kept: list[str] = []
    removed = 0
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if fenced or not line.strip() or line.lstrip().startswith("|"):
            kept.append(line)
            continue
        if is_label_line(line) or _echoes(line, given):  # the text about itself: by sentence
            removed += 1
            continue
        line, labelled = _FOCUS_LABEL.subn(r"\1", line, count=1)
        removed += labelled
        if labelled and not line.strip():
            continue
        marker = _ITEM.match(line)
        prefix = marker.group(1) if marker else ""
        pieces = _sentences(line[len(prefix) :])
        left = [piece for piece in pieces if not _echo(piece, given)]
        removed += len(pieces) - len(left)
        if left:
            kept.append(prefix + " ".join(left) if len(left) < len(pieces) else line)
    return "\n".join(kept), removed


def _sentences(block: str) -> list[str]:
    return [s for s in _SENTENCE.split(block.strip()) if s]


def _is_prose(block: str) -> bool:
    first = block.lstrip()
    # A heading may open a prose block ("### In scope" over its bullets): its lines are
    # read one by one (``_text_line``), the heading itself kept as it is.
    return bool(first) and not first.startswith(("|", "```", "~~~", "    "))


#: A paragraph (a block of prose, a whole list) must have this many words to be one a
#: reader notices twice; shorter ones ("Yes.", a two-item list) may repeat.
PARAGRAPH_MIN_WORDS = 8
#: What starts a paragraph's key in the run's memory.
PARAGRAPH_MARK = "¶ "


def sentence_keys(text: str) -> set[str]:
    """The normalised sentences of one line of text that are long enough to count."""
    return {normalise(s) for s in _sentences(text) if len(s) >= SAID_MIN_CHARS}


#: A sentence of this many words or more is also remembered by its word 5-grams: the small
#: model writes a long sentence again with a word or two changed ("…in mind, ensuring
#: that…" / "…in mind and ensures that…", 43 words, in make plan's overview), which a reader
#: sees as the same sentence. Shorter sentences sharing a frame ("The X section sets out
#: how …") read as a style, and are compared whole only.
NEAR_MIN_WORDS = 20
NEAR_SHINGLE_WORDS = 5
#: The share of a sentence's 5-grams already written that makes it a repeat.
NEAR_SHARE = 0.6
#: What starts a 5-gram's key in the run's memory.
SHINGLE_MARK = "≈ "


def shingles(key: str) -> set[str]:
    """The word 5-grams of a normalised sentence, as the memory holds them (none when the
    sentence is too short to be compared this way)."""
    words = key.split()
    if len(words) < NEAR_MIN_WORDS:
        return set()
    n = NEAR_SHINGLE_WORDS
    return {SHINGLE_MARK + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def is_said(key: str, *memories: set[str]) -> bool:
    """Whether a normalised sentence was written before: the same words, or most of its
    5-grams."""
    if any(key in memory for memory in memories):
        return True
    grams = shingles(key)
    hits = sum(1 for gram in grams if any(gram in memory for memory in memories))
    return bool(grams) and hits >= NEAR_SHARE * len(grams)


def remembered(keys: Iterable[str]) -> set[str]:
    """Sentence keys with their 5-grams: what the memory adds for them."""
    found: set[str] = set()
    for key in keys:
        found.add(key)
        found |= shingles(key)
    return found


def paragraph_key(block: str) -> str:
    """How a whole paragraph is remembered beside the sentences ("¶" keeps the two apart);
    empty for a paragraph too short to count."""
    words = normalise(block)
    return f"{PARAGRAPH_MARK}{words}" if len(words.split()) >= PARAGRAPH_MIN_WORDS else ""


def _text_line(line: str) -> bool:
    """A line whose sentences count: not a heading or a table row inside a prose block."""
    first = line.lstrip()
    return bool(first) and not first.startswith(("#", "|"))


def sentences_of(text: str) -> set[str]:
    """The normalised long sentences of a text (with their 5-grams) and its paragraphs, as
    ``drop_said`` remembers them."""
    found: set[str] = set()
    for block in text.split("\n\n"):
        if _is_prose(block):
            for line in block.split("\n"):
                if not _text_line(line):
                    continue
                marker = _ITEM.match(line)
                body = line[len(marker.group(1)) :] if marker else line
                found |= remembered(sentence_keys(body))
            found.add(paragraph_key(block))
    found.discard("")
    return found


#: Where a piece of a sentence the model split in two stops (as for list items), or starts.
_CUT_END = (",", ";", ":", "-", "–", "(", "[", "{", "/", "’", "'")
#: A stray mark after the last word ("… groceries, 10% *"); "**bold**" at the end is not one.
_STRAY_END = re.compile(r"\s[*_&+=]+$")
_CUT_START = (",", ";", ":", ".", ")", "]", "}", "`", "/", "’")
#: English words no sentence ends on: an item that stops at one without a full stop was cut
#: off at the token limit ("A user can", seen in ``make plan``'s acceptance criteria).
_DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "from",
        "by",
        "that",
        "which",
        "can",
        "could",
        "will",
        "would",
        "should",
        "must",
        "may",
        "might",
        "shall",
        "their",
        "its",
        "our",
        "your",
        "his",
        "her",
        "this",
        "these",
        "those",
    ]
)


def is_cut(item: str) -> bool:
    """A piece of a sentence (a list item, a key fact, a question): it starts in lower case
    (where the script has case: the middle of a word or a sentence) or with a comma or a
    closing bracket, stops at a comma, a dash, an opening bracket or an apostrophe, or ends
    on an English word no sentence ends on."""
    text = item.strip()
    if not text or (text[0].isalpha() and text[0].islower()) or text.endswith(_CUT_END):
        return True
    if text.startswith(_CUT_START) or _STRAY_END.search(text):  # ", for those who …"
        return True
    return text.rsplit(maxsplit=1)[-1].lower() in _DANGLING


def fresh_items(items: Sequence[str], text: str) -> tuple[list[str], list[str]]:
    """The items (a review's key facts, its questions) that are whole sentences and repeat
    neither a sentence of ``text`` nor one of an earlier item, and those dropped: a key fact
    holding a sentence the document already says is that sentence twice to its reader."""
    said = sentences_of(text)
    kept: list[str] = []
    dropped: list[str] = []
    words = [normalise(item) for item in items]
    whole = [key for item, key in zip(items, words, strict=True) if not is_cut(item)]
    for item, key in zip(items, words, strict=True):
        keys = {normalise(s) for s in _sentences(item) if len(s) >= SAID_MIN_CHARS}
        # "The product is designed to help people" beside the same words going on: the
        # first is the second cut short.
        longer = any(other != key and other.startswith(f"{key} ") for other in whole)
        if is_cut(item) or longer or keys & said:
            dropped.append(item)
            continue
        said |= keys
        kept.append(item)
    return kept, dropped


def drop_said(text: str, said: set[str]) -> tuple[str, list[str]]:
    """The section without sentences already said in the run, and those it dropped.

    ``said`` grows by the section's own sentences, so a sentence repeated inside the
    section is dropped too. Lines emptied by the rule go; blocks are rejoined as they were.
    """
    dropped: list[str] = []
    blocks: list[str] = []
    fenced = False
    for block in text.split("\n\n"):
        if block.lstrip().startswith(("```", "~~~")) or fenced:
            fences = sum(1 for line in block.split("\n") if _FENCE.match(line))
            fenced = fenced != (fences % 2 == 1)
            blocks.append(block)
            continue
        if not _is_prose(block):
            blocks.append(block)
            continue
        lines: list[str] = []
        fresh: set[str] = set()  # the block's sentences: remembered only if the block stays
        for line in block.split("\n"):
            if not _text_line(line):  # a heading or table row inside the block stays
                if line.strip():
                    lines.append(line)
                continue
            marker = _ITEM.match(line)
            prefix = marker.group(1) if marker else ""
            kept: list[str] = []
            for sentence in _sentences(line[len(prefix) :]):
                key = normalise(sentence)
                if len(sentence) >= SAID_MIN_CHARS and is_said(key, said, fresh):
                    dropped.append(sentence)
                    continue
                if len(sentence) >= SAID_MIN_CHARS:
                    fresh |= remembered([key])
                kept.append(sentence)
            if kept:
                lines.append(prefix + " ".join(kept))
        # Then the paragraph as it stands (a whole list of short items counts too): one
        # written before in the package is dropped whole, and its sentences are not
        # remembered, so a later paragraph may still say one of them.
        whole = paragraph_key("\n".join(lines))
        if whole and whole in said:
            dropped.append("\n".join(lines))
            continue
        said |= fresh
        if whole:
            said.add(whole)
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks), dropped
