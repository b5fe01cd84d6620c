"""Text out of an exhibit, as heading and paragraph blocks, within bounds (SECURITY.md P18).

PDF with pypdf (page by page, so chunks keep their page), DOCX with python-docx
(heading styles become headings), HTML with BeautifulSoup (scripts and styles
dropped, h1–h6 become headings), Markdown and text as they are. Every kind stops at
``exhibits_max_text_chars`` and PDFs at ``exhibits_max_pages``.

Exhibits are untrusted files and their parsers are large C and Python libraries, so
the worker never parses one itself: `extract_isolated` runs `extract` in a child
process (``exhibits.extract_sandbox``: the file on stdin, the blocks as JSON on
stdout; no database, no settings, no secrets) with an address-space limit
(RLIMIT_AS, ``exhibits_extract_memory_mb``), a CPU-time limit (RLIMIT_CPU,
``exhibits_extract_cpu_seconds``) and a wall-clock timeout
(``exhibits_extract_timeout_seconds``) after which it is killed. A thread could not
be stopped: a huge DOCX kept parsing after its timeout and took a server from
262 MiB to 907 MiB resident. Now a hostile file costs one child, and the worker's
memory does not move.

Inside the child the cheap checks still come first: a DOCX is a ZIP, and its entries,
the unpacked size of each part and of all of them, their compression ratios and the
absence of DTDs (entity bombs) are checked before it is opened, so a zip bomb is
refused without being inflated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import resource
import signal
import sys
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jeex.errors import ExtractionFailed, ExtractionTimedOut
from jeex.exhibits import sniff
from jeex.retrieval.chunking import Block, markdown_blocks

if TYPE_CHECKING:  # the sandbox child imports this module: it never loads the settings
    from jeex.config import Settings

MAX_ZIP_ENTRIES = 2000
MAX_ZIP_RATIO = 200
#: One part of a DOCX unpacked: a document.xml this large is already a tree of millions
#: of nodes (several hundred MiB in lxml), beyond any real document.
MAX_ZIP_PART_BYTES = 50 * 1024 * 1024
#: A DTD in an OOXML part: Word never writes one, an entity bomb needs one.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")

SANDBOX_MODULE = "jeex.exhibits.extract_sandbox"
#: Exit codes of the sandbox child besides 0: the file was refused (the reason is on
#: stdout as ``{"error": …}``; it would be refused again), or it needed more memory
#: than the limit.
EXIT_REFUSED = 3
EXIT_OUT_OF_MEMORY = 4
#: The only environment variables the child gets: it needs no secrets and no settings
#: (coverage's own are passed so the test suite measures the child too).
_CHILD_ENVIRONMENT = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR",
                      "COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")  # fmt: skip


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
    except (ExtractionFailed, MemoryError):
        raise
    except Exception as exc:  # an untrusted file may break the parser in any way
        raise ExtractionFailed(f"the PDF is damaged or unreadable ({type(exc).__name__})") from exc
    return blocks


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse archives with too many entries, too much unpacked data (in one part or in
    all), bomb-like ratios, or a DTD in an XML part (entity expansion)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_entries(infos, limits)
            for info in infos:
                if not info.is_dir():
                    _check_no_dtd(archive, info)
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed("the DOCX is not a valid ZIP archive") from exc
    except (NotImplementedError, RuntimeError, EOFError, OSError, zlib.error) as exc:
        # encrypted entries, unknown compression, truncated data: not a DOCX Word wrote
        raise ExtractionFailed(f"the DOCX is damaged ({type(exc).__name__})") from exc


def _check_entries(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ExtractionFailed(f"the DOCX has {len(infos)} parts; the limit is {MAX_ZIP_ENTRIES}")
    for info in infos:
        if info.file_size > MAX_ZIP_PART_BYTES:
            raise ExtractionFailed(
                f"the DOCX part {info.filename!r} unpacks to {info.file_size} bytes; "
                f"the limit for one part is {MAX_ZIP_PART_BYTES}"
            )
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


def _check_no_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a part that declares a DTD or entities, read piece by piece.

    python-docx's parser does not resolve entities, so a "billion laughs" would stay
    unexpanded; refusing it outright keeps that true whatever the parser does. The
    sizes were checked first, so this inflates at most ``unzipped_bytes`` (``zipfile``
    reads no more than a part's declared size), one MiB at a time.
    """
    tail = b""
    with archive.open(info) as part:
        while piece := part.read(1 << 20):
            window = tail + piece
            if any(marker in window for marker in _DTD_MARKERS):
                raise ExtractionFailed(
                    f"the DOCX part {info.filename!r} declares a DTD or entities "
                    "(Word never writes one; it could expand without bound)"
                )
            tail = window[-16:]


def _docx(data: bytes, limits: Limits) -> list[Block]:
    check_zip(data, limits)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:  # an untrusted file may break the parser in any way
        if type(exc).__name__ == "XMLSyntaxError" and getattr(exc, "code", None) == 2:
            # lxml reports libxml2's failed allocation (XML_ERR_NO_MEMORY) as a syntax error
            raise MemoryError from exc
        raise ExtractionFailed(f"the DOCX is damaged ({type(exc).__name__})") from exc
    budget = _Budget(limits.chars)
    blocks: list[Block] = []
    # Style id → is a heading. python-docx resolves ``paragraph.style`` by scanning every
    # style of the document, for each paragraph: 48,000 paragraphs took over a minute.
    headings: dict[str | None, bool] = {}
    for paragraph in document.paragraphs:
        text = budget.take(paragraph.text.strip())
        if not text:
            continue
        style_id = paragraph._p.style
        if style_id not in headings:
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            headings[style_id] = style.lower().startswith(("heading", "title"))
        blocks.append(Block(text, None, heading=headings[style_id]))
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


def apply_rlimits(memory_mb: int, cpu_seconds: int) -> None:
    """The child's limits, set by the child itself before it reads the file: a
    ``preexec_fn`` would run between fork and exec of a worker that has threads, which
    Python documents as unsafe."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # SIGXCPU at the soft limit; SIGKILL a second later should it be ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in _CHILD_ENVIRONMENT if name in os.environ}


async def extract_isolated(
    data: bytes,
    media_type: str,
    limits: Limits,
    *,
    timeout_seconds: float,
    memory_mb: int,
    cpu_seconds: int,
) -> list[Block]:
    """`extract` in a child process under RLIMIT_AS, RLIMIT_CPU and a wall-clock timeout.

    Raises `ExtractionFailed` with the reason: the file's own refusal, or the child out of
    memory or CPU time (the same file would fail again: not transient); the child killed
    by a signal, or `ExtractionTimedOut` when it was killed at ``timeout_seconds``
    (``transient``: a second try, on a less loaded machine, may succeed).
    """
    header = {
        "media_type": media_type,
        "limits": dataclasses.asdict(limits),
        "rlimits": {"memory_mb": memory_mb, "cpu_seconds": cpu_seconds},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        SANDBOX_MODULE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_environment(),
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(json.dumps(header).encode() + b"\n" + data),
            timeout=timeout_seconds,
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ExtractionTimedOut(timeout_seconds) from None
    except BaseException:  # cancelled (the worker is stopping): the child goes too
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return _result(process.returncode, out, err, memory_mb=memory_mb, cpu_seconds=cpu_seconds)


def _result(
    returncode: int | None, out: bytes, err: bytes, *, memory_mb: int, cpu_seconds: int
) -> list[Block]:
    last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    if returncode == EXIT_OUT_OF_MEMORY or (returncode and "MemoryError" in last[0]):
        raise ExtractionFailed(f"text extraction ran out of memory (limit {memory_mb} MiB)")
    if returncode == -signal.SIGXCPU:
        raise ExtractionFailed(f"text extraction used more than {cpu_seconds} s of CPU time")
    if returncode is not None and returncode < 0:
        raise ExtractionFailed(f"text extraction was killed (signal {-returncode})", transient=True)
    try:
        answer = json.loads(out) if returncode in (0, EXIT_REFUSED) else None
    except ValueError:
        answer = None
    if returncode == EXIT_REFUSED and isinstance(answer, dict) and "error" in answer:
        raise ExtractionFailed(str(answer["error"]))
    if returncode == 0 and isinstance(answer, dict) and "blocks" in answer:
        return [Block(text, page, heading) for text, page, heading in answer["blocks"]]
    raise ExtractionFailed(f"text extraction failed (exit {returncode}): {last[0][:300]}")
