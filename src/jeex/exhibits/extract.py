"""Text out of an exhibit, as heading and paragraph blocks, within bounds (SECURITY.md P18).

PDF with pypdf (page by page, so chunks keep their page), DOCX with python-docx
(heading styles become headings), HTML with BeautifulSoup (scripts and styles
dropped, h1–h6 become headings), Markdown and text as they are. A DOCX is a ZIP:
its entries, their total unpacked size and their compression ratio are checked
before it is opened, so a zip bomb is refused without being inflated. Every kind
stops at ``exhibits_max_text_chars`` and PDFs at ``exhibits_max_pages``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from jeex.config import Settings
from jeex.errors import ExtractionFailed
from jeex.exhibits import sniff
from jeex.retrieval.chunking import Block, markdown_blocks

MAX_ZIP_ENTRIES = 2000
MAX_ZIP_RATIO = 200


@dataclass(frozen=True)
class Limits:
    pages: int
    chars: int
    unzipped_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            pages=settings.exhibits_max_pages,
            chars=settings.exhibits_max_text_chars,
            unzipped_bytes=settings.exhibits_max_unzipped_bytes,
        )


class _Budget:
    """Counts characters taken so far; extraction stops cleanly when the cap is reached."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, text: str) -> str:
        text = text[: max(0, self.left)]
        self.left -= len(text)
        return text

    @property
    def spent(self) -> bool:
        return self.left <= 0


def _pdf(data: bytes, limits: Limits) -> list[Block]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed("the PDF is encrypted; upload a copy without a password")
        if len(reader.pages) > limits.pages:
            raise ExtractionFailed(
                f"the PDF has {len(reader.pages)} pages; the limit is {limits.pages}"
            )
        budget = _Budget(limits.chars)
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, 1):
            text = budget.take(page.extract_text() or "")
            blocks += [Block(p.text, number, p.heading) for p in markdown_blocks(text)]
            if budget.spent:
                break
    except ExtractionFailed:
        raise
    except Exception as exc:  # an untrusted file may break the parser in any way
        raise ExtractionFailed(f"the PDF is damaged or unreadable ({type(exc).__name__})") from exc
    return blocks


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse archives with too many entries, too much unpacked data or bomb-like ratios."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed("the DOCX is not a valid ZIP archive") from exc
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ExtractionFailed(f"the DOCX has {len(infos)} parts; the limit is {MAX_ZIP_ENTRIES}")
    total = sum(info.file_size for info in infos)
    if total > limits.unzipped_bytes:
        raise ExtractionFailed(
            f"the DOCX unpacks to {total} bytes; the limit is {limits.unzipped_bytes}"
        )
    for info in infos:
        if info.file_size > 1_000_000 and info.file_size > MAX_ZIP_RATIO * max(
            1, info.compress_size
        ):
            raise ExtractionFailed(f"the DOCX part {info.filename!r} is compressed suspiciously")


def _docx(data: bytes, limits: Limits) -> list[Block]:
    check_zip(data, limits)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # an untrusted file may break the parser in any way
        raise ExtractionFailed(f"the DOCX is damaged ({type(exc).__name__})") from exc
    budget = _Budget(limits.chars)
    blocks: list[Block] = []
    for paragraph in document.paragraphs:
        text = budget.take(paragraph.text.strip())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        heading = style.lower().startswith(("heading", "title"))
        blocks.append(Block(text, None, heading=heading))
        if budget.spent:
            break
    for table in document.tables:
        for row in table.rows:
            line = budget.take(" | ".join(cell.text.strip() for cell in row.cells))
            if line.strip(" |"):
                blocks.append(Block(line))
    return blocks


def _html(data: bytes, limits: Limits) -> list[Block]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data[: limits.chars * 4], "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object"]):
        tag.decompose()
    budget = _Budget(limits.chars)
    blocks: list[Block] = []
    body = soup.body or soup
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td"]):
        if element.find(["p", "li", "h1", "h2", "h3", "h4", "h5", "h6"]):
            continue  # a container: its children come on their own
        text = budget.take(" ".join(element.get_text(" ").split()))
        if text:
            blocks.append(
                Block(text, None, heading=element.name[0] == "h" and len(element.name) == 2)
            )
        if budget.spent:
            break
    if not blocks:
        text = budget.take(" ".join(body.get_text(" ").split()))
        blocks = [Block(text)] if text else []
    return blocks


def _plain(data: bytes, limits: Limits, *, markdown: bool) -> list[Block]:
    text = data.decode("utf-8-sig", errors="replace")[: limits.chars]
    if markdown:
        return markdown_blocks(text)
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return [Block(p) for p in paragraphs if p]


def extract(data: bytes, media_type: str, limits: Limits) -> list[Block]:
    """The blocks of a file of a detected kind; raises `ExtractionFailed` with a reason."""
    if media_type == sniff.PDF:
        blocks = _pdf(data, limits)
    elif media_type == sniff.DOCX:
        blocks = _docx(data, limits)
    elif media_type == sniff.HTML:
        blocks = _html(data, limits)
    else:
        blocks = _plain(data, limits, markdown=media_type == sniff.MARKDOWN)
    if not any(b.text.strip() and not b.heading for b in blocks):
        raise ExtractionFailed("no text could be extracted (a scanned PDF needs OCR first)")
    return blocks
