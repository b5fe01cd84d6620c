"""Splitting extracted text into chunks by headings and paragraphs, with overlap.

A chunk never spans two headings or two pages, so each keeps one source location
(the heading it sits under and its page) that a citation can name. Paragraphs are
packed up to ``max_chars``; a paragraph longer than that is cut at sentence or word
boundaries. The next chunk of the same section starts with the tail of the previous
one (``overlap`` characters) so a fact cut at a boundary is still found whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Block:
    """A piece of extracted text: a heading or a paragraph, with the page it is on."""

    text: str
    page: int | None = None
    heading: bool = False


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage: ``ordinal`` is its 1-based number within its source (``§n``)."""

    ordinal: int
    text: str
    heading: str
    page: int | None

    @property
    def location(self) -> str:
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.heading:
            parts.append(f"“{self.heading}”")
        return ", ".join(parts)


def markdown_blocks(text: str, *, page: int | None = None) -> list[Block]:
    """Markdown (or plain text) as heading and paragraph blocks; fenced code stays whole."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(paragraph).strip()
        if body:
            blocks.append(Block(body, page))
        paragraph.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(heading.group(2).strip(), page, heading=True))
        elif not line.strip() and not in_fence:
            flush()
        else:
            paragraph.append(line)
    flush()
    return blocks


def _split_long(text: str, limit: int) -> list[str]:
    """Cut an over-long paragraph at sentence ends, else at spaces, else hard."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut], sentence[cut:].lstrip()
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, overlap: int) -> str:
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    cut = text.find(" ", len(text) - overlap)
    return text[cut + 1 :] if cut != -1 else text[-overlap:]


def chunk_blocks(blocks: Iterable[Block], *, max_chars: int, overlap: int) -> list[Chunk]:
    """Pack paragraphs under each heading into chunks of at most about ``max_chars``."""
    chunks: list[Chunk] = []
    heading = ""
    parts: list[str] = []
    fresh = False  # the chunk being built holds more than the carried overlap
    page: int | None = None
    carried = ""

    def emit() -> None:
        nonlocal parts, carried, fresh, page
        if fresh:
            body = "\n\n".join(parts).strip()
            chunks.append(Chunk(len(chunks) + 1, body, heading, page))
            carried = _tail(body, overlap)
        parts = [carried] if carried else []
        fresh, page = False, None

    for block in blocks:
        if block.heading:
            emit()
            heading, parts, carried = block.text[:200], [], ""
            continue
        for piece in _split_long(block.text, max(1, max_chars - overlap)):
            size = sum(len(p) + 2 for p in parts)
            if fresh and (size + len(piece) > max_chars or block.page != page):
                emit()
            if not fresh:
                page = block.page
            parts.append(piece)
            fresh = True
    emit()
    return chunks


def chunk_text(text: str, *, max_chars: int, overlap: int) -> list[Chunk]:
    """Chunks of a Markdown or plain-text string."""
    return chunk_blocks(markdown_blocks(text), max_chars=max_chars, overlap=overlap)
