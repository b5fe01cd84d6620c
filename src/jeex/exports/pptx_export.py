"""PPTX export with python-pptx: a short summary deck from the documents' key facts.

Slides: title, problem, audience, solution, architecture, plan. Each slide takes the
matching section of a document (or its key facts when the section is missing) and
keeps a few short bullets: a deck is a summary, the PDF is the whole text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

from pptx import Presentation
from pptx.presentation import Presentation as PresentationType
from pptx.util import Pt

from jeex.exports.bundle import ExportBundle
from jeex.exports.markdown import list_items, parse, plain_paragraphs, sections, xml_safe
from jeex.exports.plan_data import epic_rows

MAX_BULLETS = 5
MAX_BULLET_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _short(text: str) -> str:
    text = " ".join(xml_safe(text).split())
    return text if len(text) <= MAX_BULLET_CHARS else text[: MAX_BULLET_CHARS - 1].rstrip() + "…"


def _bullets_from(texts: Sequence[str]) -> list[str]:
    """Sentences of the first paragraphs, shortened: at most ``MAX_BULLETS``."""
    bullets: list[str] = []
    for text in texts:
        for sentence in _SENTENCE_END.split(text):
            if sentence.strip():
                bullets.append(_short(sentence))
            if len(bullets) == MAX_BULLETS:
                return bullets
    return bullets


def _section_bullets(bundle: ExportBundle, document_type: str, keys: Sequence[str]) -> list[str]:
    item = bundle.first(document_type)
    if item is None:
        return []
    found = sections(parse(item.doc.content))
    for key in keys:
        if key in found:
            texts = list_items(found[key]) or plain_paragraphs(found[key])
            bullets = _bullets_from(texts)
            if bullets:
                return bullets
    facts = item.metadata.get("key_facts") or []
    return _bullets_from([str(fact) for fact in facts if isinstance(fact, str)])


def _slide(deck: PresentationType, title: str, bullets: Sequence[str]) -> None:
    slide = deck.slides.add_slide(deck.slide_layouts[1])  # "Title and Content"
    assert slide.shapes.title is not None
    slide.shapes.title.text = title
    body = slide.placeholders[1].text_frame
    body.word_wrap = True
    lines = list(bullets) or ["(not written yet)"]
    body.text = lines[0]
    for line in lines[1:]:
        body.add_paragraph().text = line
    for paragraph in body.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(18)


def _plan_bullets(bundle: ExportBundle) -> list[str]:
    rows = epic_rows(bundle)
    bullets = [
        _short(
            f"{row.number}. {row.title}"
            + (f" ({row.estimate_days} d)" if row.estimate_days else "")
        )
        for row in rows[:8]
    ]
    if len(rows) > 8:
        bullets.append(f"… and {len(rows) - 8} more epics")
    total = sum(row.estimate_days or 0 for row in rows)
    if total:
        bullets.append(f"Estimated total: {total} days")
    return bullets


def render_pptx(bundle: ExportBundle) -> bytes:
    """Six slides; empty sections say so rather than invent content."""
    project = bundle.project
    deck = Presentation()
    title_slide = deck.slides.add_slide(deck.slide_layouts[0])
    assert title_slide.shapes.title is not None
    title_slide.shapes.title.text = _short(project.name)
    title_slide.placeholders[1].text = _short(project.idea)
    audience = _section_bullets(bundle, "about", ["audience", "target audience"])
    _slide(deck, "Problem", _section_bullets(bundle, "about", ["problem", "problem statement"]))
    _slide(
        deck,
        "Audience",
        [_short(project.audience), *audience][:MAX_BULLETS] if project.audience else audience,
    )
    _slide(deck, "Solution", _section_bullets(bundle, "about", ["value", "solution", "scope"]))
    _slide(
        deck,
        "Architecture",
        _section_bullets(bundle, "architecture", ["overview", "components", "technology stack"]),
    )
    _slide(deck, "Plan", _plan_bullets(bundle))
    deck.core_properties.title = xml_safe(project.name)[:255]
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()
