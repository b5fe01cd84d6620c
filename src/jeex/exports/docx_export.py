"""DOCX export with python-docx, built from the sanitised Markdown token stream.

Real Word structure: ``Heading 1..4`` styles (so Word's navigation pane and TOC field
work), ``List Bullet``/``List Number`` paragraphs, tables with a header row, monospace
code blocks. Nothing in a document can add an image, a field or a link relationship
that Word would fetch: only text runs are written (docs/decisions.md explains why not
pandoc).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_BREAK
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from markdown_it.token import Token

from jeex.exports.bundle import ExportBundle
from jeex.exports.markdown import MAX_TABLE_COLUMNS, parse, xml_safe

MONOSPACE = "DejaVu Sans Mono"


def _runs(paragraph: Paragraph, inline: Token) -> None:
    """Inline children → runs with bold/italic/code; links keep their text only."""
    bold = italic = False
    for child in inline.children or []:
        if child.type == "strong_open":
            bold = True
        elif child.type == "strong_close":
            bold = False
        elif child.type == "em_open":
            italic = True
        elif child.type == "em_close":
            italic = False
        elif child.type in {"text", "code_inline"}:
            run = paragraph.add_run(child.content)
            run.bold, run.italic = bold or None, italic or None
            if child.type == "code_inline":
                run.font.name = MONOSPACE
        elif child.type == "image":
            paragraph.add_run(f"[image: {child.content}]").italic = True
        elif child.type in {"softbreak", "hardbreak"}:
            paragraph.add_run(" ")


def _table_rows(tokens: Sequence[Token], start: int) -> tuple[list[list[Token]], int]:
    rows: list[list[Token]] = []
    index = start
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(token)
        index += 1
    return rows, index


def _table(document: DocxDocument, rows: list[list[Token]]) -> None:
    width = min(max((len(r) for r in rows), default=0), MAX_TABLE_COLUMNS)
    if not rows or width == 0:
        return
    table = document.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    for row_index, (row, cells) in enumerate(zip(table.rows, rows, strict=True)):
        for cell, inline in zip(row.cells, cells[:width], strict=False):
            paragraph = cell.paragraphs[0]
            _runs(paragraph, inline)
            if row_index == 0:
                for run in paragraph.runs:
                    run.bold = True


class _Writer:
    """Walks block tokens; list depth decides the list style, order decides numbering."""

    def __init__(self, document: DocxDocument) -> None:
        self.document = document
        self.lists: list[str] = []
        self.quote = 0

    def _paragraph_style(self) -> str | None:
        if self.lists:
            kind = "List Number" if self.lists[-1] == "ol" else "List Bullet"
            depth = min(len(self.lists), 3)
            return kind if depth == 1 else f"{kind} {depth}"
        return "Quote" if self.quote else None

    def write(self, tokens: Sequence[Token]) -> None:
        index = 0
        while index < len(tokens):
            index = self._block(tokens, index) + 1

    def _block(self, tokens: Sequence[Token], index: int) -> int:
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            level = min(int(token.tag[1]), 4)
            _runs(self.document.add_heading("", level=level), tokens[index + 1])
            return index + 2
        if kind in {"bullet_list_open", "ordered_list_open"}:
            self.lists.append(token.tag)
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            self.lists.pop()
        elif kind == "blockquote_open":
            self.quote += 1
        elif kind == "blockquote_close":
            self.quote -= 1
        elif kind == "inline":
            _runs(self.document.add_paragraph(style=self._paragraph_style()), token)
        elif kind in {"fence", "code_block"}:
            self._code(token)
        elif kind == "table_open":
            rows, end = _table_rows(tokens, index)
            _table(self.document, rows)
            return end
        elif kind == "hr":
            self.document.add_paragraph("—" * 20)
        return index

    def _code(self, token: Token) -> None:
        label = "Mermaid diagram (source)" if token.info.strip() == "mermaid" else None
        if label:
            self.document.add_paragraph().add_run(label).bold = True
        run = self.document.add_paragraph().add_run(token.content.rstrip("\n"))
        run.font.name = MONOSPACE
        run.font.size = Pt(8.5)


def _title_page(document: DocxDocument, bundle: ExportBundle) -> None:
    project = bundle.project
    document.add_heading(xml_safe(project.name), level=0)
    document.add_paragraph(xml_safe(project.idea))
    facts = [
        ("Audience", project.audience or "—"),
        ("Language", project.language),
        ("Model", project.model),
        ("Generated", project.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    for label, value in facts:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(xml_safe(value))
    document.add_heading("Contents", level=1)
    for item in bundle.documents:
        document.add_paragraph(xml_safe(item.doc.title), style="List Number")


def render_docx(bundle: ExportBundle) -> bytes:
    """Title page and contents, then each document from a new page."""
    document = Document()
    document.core_properties.title = xml_safe(bundle.project.name)[:255]
    document.core_properties.author = "JEEX Plan"
    _title_page(document, bundle)
    writer = _Writer(document)
    for item in bundle.documents:
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        writer.write(parse(item.doc.content))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
