"""Markdown written by a model, made safe to render (SECURITY.md P11, P12).

Documents are model output and user edits, so they are hostile input. They are parsed
with markdown-it-py in the ``js-default`` preset (raw HTML is text, ``javascript:``,
``vbscript:``, ``file:`` and ``data:`` links are refused), images are replaced by their
alt text (an image is a fetch, and a fetch is an exfiltration channel), and the HTML is
cleaned with an nh3 allow-list as a second, independent line of defence. Every other
renderer (DOCX, XLSX, PPTX) reads the same token stream, never the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_TAGS = frozenset(
    {
        "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s",
        "del", "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody",
        "tr", "th", "td", "span", "input",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "ol": {"start"},
    "input": {"type", "checked", "disabled"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Typeset formats cut tables beyond this (a 1,500 × 40 table exhausts WeasyPrint's
#: memory); a note under the table says so, and the ZIP keeps the Markdown whole.
MAX_TABLE_ROWS = 300
MAX_TABLE_COLUMNS = 20
# XML 1.0 forbids these; python-docx, openpyxl and python-pptx raise on them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _image_as_text(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image becomes ``[image: alt]``: shown, never fetched."""
    alt = self.renderInlineAsText(tokens[idx].children or [], options, env)
    return f'<span class="image">[image: {nh3.clean_text(alt)}]</span>'


def parser() -> MarkdownIt:
    """A fresh parser: raw HTML off, tables and strikethrough on, images as text."""
    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    md.add_render_rule("image", _image_as_text)
    return md


_PARSER = parser()


def parse(markdown: str) -> list[Token]:
    """The block token stream of a document, tables limited; the same for every renderer."""
    return limit_tables(_PARSER.parse(xml_safe(markdown)))


class _TableCutter:
    """Drops rows and cells past the limits, then notes what was dropped."""

    def __init__(self, max_rows: int, max_columns: int) -> None:
        self.max_rows, self.max_columns = max_rows, max_columns
        self.rows = self.columns = self.widest = 0
        self.skip_row = self.skip_cell = False

    def keep(self, token: Token) -> bool:
        kind = token.type
        if kind == "table_open":
            self.rows = self.widest = 0
        elif kind == "tr_open":
            self.rows, self.columns = self.rows + 1, 0
            self.skip_row = self.rows > self.max_rows + 1  # the header row is not counted
        if self.skip_row:
            self.skip_row = kind != "tr_close"  # the row ends here; what follows is kept
            return False
        if kind in {"th_open", "td_open"}:
            self.columns += 1
            self.widest = max(self.widest, self.columns)
            self.skip_cell = self.columns > self.max_columns
        if self.skip_cell:
            self.skip_cell = kind not in {"th_close", "td_close"}
            return False
        return True

    def note(self) -> str | None:
        parts = []
        if self.rows - 1 > self.max_rows:
            parts.append(f"the first {self.max_rows} of {self.rows - 1:,} rows")
        if self.widest > self.max_columns:
            parts.append(f"{self.max_columns} of {self.widest} columns")
        if not parts:
            return None
        return f"(Table shortened here: {' and '.join(parts)}; the ZIP export has it whole.)"


def _paragraph(text: str) -> list[Token]:
    inline = Token("inline", "", 0, content=text, children=[Token("text", "", 0, content=text)])
    return [Token("paragraph_open", "p", 1), inline, Token("paragraph_close", "p", -1)]


def limit_tables(
    tokens: Sequence[Token],
    *,
    max_rows: int = MAX_TABLE_ROWS,
    max_columns: int = MAX_TABLE_COLUMNS,
) -> list[Token]:
    """Tables cut to ``max_rows`` body rows and ``max_columns`` columns, with a note."""
    cutter = _TableCutter(max_rows, max_columns)
    kept: list[Token] = []
    for token in tokens:
        if cutter.keep(token):
            kept.append(token)
        if token.type == "table_close" and (note := cutter.note()):
            kept += _paragraph(note)
    return kept


def clean_html(html: str) -> str:
    """nh3 allow-list: only structural tags, only http(s)/mailto links; idempotent."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def to_html(markdown: str) -> str:
    """Safe HTML for one document."""
    return clean_html(_PARSER.renderer.render(parse(markdown), _PARSER.options, {}))


def xml_safe(text: str) -> str:
    """Drop characters no XML document may hold (a NUL in a title must not fail the export)."""
    return _XML_ILLEGAL.sub("", text)


def inline_text(token: Token) -> str:
    """Plain text of an inline token: links keep their text, images their alt text."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type == "image":
            parts.append(f"[image: {inline_text(child)}]")
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
    return "".join(parts)


def sections(tokens: Sequence[Token], level: str = "h2") -> dict[str, list[Token]]:
    """Tokens under each heading of ``level``, keyed by the heading's lower-cased text."""
    found: dict[str, list[Token]] = {}
    current: list[Token] | None = None
    heading = False
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag <= level:
            current = None
            if token.tag == level:
                current = found.setdefault(inline_text(tokens[index + 1]).strip().lower(), [])
            heading = True
        elif heading:
            heading = token.type != "heading_close"  # the heading's own text is not content
        elif current is not None:
            current.append(token)
    return found


def plain_paragraphs(tokens: Sequence[Token]) -> list[str]:
    """The text of every paragraph and list item, in order, for summaries."""
    return [inline_text(t).strip() for t in tokens if t.type == "inline" and t.content.strip()]


def list_items(tokens: Sequence[Token]) -> list[str]:
    """The text of the top-level items of lists in ``tokens`` (tasks, criteria)."""
    items: list[str] = []
    depth = 0
    for index, token in enumerate(tokens):
        if token.type in {"bullet_list_open", "ordered_list_open"}:
            depth += 1
        elif token.type in {"bullet_list_close", "ordered_list_close"}:
            depth -= 1
        elif token.type == "inline" and depth == 1 and _in_list_item(tokens, index):
            items.append(_strip_checkbox(inline_text(token).strip()))
    return [item for item in items if item]


def _in_list_item(tokens: Sequence[Token], index: int) -> bool:
    return index >= 2 and tokens[index - 2].type == "list_item_open"


def _strip_checkbox(text: str) -> str:
    return re.sub(r"^\[[ xX]\]\s*", "", text)


def attrs(token: Token) -> dict[str, Any]:
    """Token attributes as a plain dict (markdown-it types them loosely)."""
    return dict(token.attrs or {})
