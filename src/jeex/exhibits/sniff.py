"""What a file is, decided by its bytes; the name only tells what the sender claims.

Allowed kinds: PDF, DOCX, HTML, Markdown, plain text (SECURITY.md P17). A file whose
name claims one kind and whose content is another (an HTML page named ``.pdf``, a
PDF/HTML polyglot, a zip named ``.docx`` without a Word document inside) is rejected
with the kind that was detected. The text kinds (text, Markdown) may stand for each
other: a ``.txt`` of Markdown is still text.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from jeex.errors import UnsupportedMediaType

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"

LABELS = {PDF: "PDF", DOCX: "DOCX", HTML: "HTML", MARKDOWN: "Markdown", TEXT: "plain text"}
_BY_SUFFIX = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": TEXT,
    ".text": TEXT,
}
_TEXT_KINDS = {MARKDOWN, TEXT}
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)
_HTML_TAGS = re.compile(rb"<(p|div|h[1-6]|table|ul|ol|br|span|a\s[^>]*href)[\s/>]", re.I)
_MARKDOWN_HINT = re.compile(r"^(#{1,6}\s+\S|[-*+]\s+\S|\d+\.\s+\S|>\s|```|\|.*\|)", re.M)
_ZIP_MAGIC = b"PK\x03\x04"


def claimed(filename: str) -> str | None:
    """The kind the file name claims, if it claims a known one."""
    return _BY_SUFFIX.get(PurePath(filename).suffix.lower())


def _is_docx(head: bytes, data: bytes) -> bool:
    if not head.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _text(data: bytes) -> str | None:
    """The bytes as UTF-8 (with or without BOM) if they look like text, else None."""
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    return None if controls > 8 else text


def detect(data: bytes) -> str:
    """The kind of ``data`` by content; raises `UnsupportedMediaType` if it is none we take."""
    head = data[:1024]
    if head.lstrip(b"\r\n\t ").startswith(b"%PDF-"):
        if _HTML_TAGS.search(data[:65536]) or _HTML_START.search(data[:1024]):
            raise UnsupportedMediaType("the file is both a PDF and an HTML page; refused")
        return PDF
    if _is_docx(head, data):
        return DOCX
    if head.startswith(_ZIP_MAGIC):
        raise UnsupportedMediaType("the file is a ZIP archive, not a Word (DOCX) document")
    text = _text(data)
    if text is None:
        raise UnsupportedMediaType(
            "the content is binary of an unsupported type; "
            "supported: PDF, DOCX, HTML, Markdown, plain text"
        )
    if _HTML_START.search(data[:1024]) or len(_HTML_TAGS.findall(data[:65536])) >= 2:
        return HTML
    if _MARKDOWN_HINT.search(text[:65536]):
        return MARKDOWN
    return TEXT


def check(filename: str, data: bytes) -> str:
    """The detected kind, after checking it against what the name claims."""
    detected = detect(data)
    said = claimed(filename)
    if said is None or said == detected or (said in _TEXT_KINDS and detected in _TEXT_KINDS):
        return detected
    raise UnsupportedMediaType(
        f"the file name says {LABELS[said]} but the content is {LABELS[detected]}"
    )
