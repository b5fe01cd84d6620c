"""Hostile exhibits are refused or stopped in a child process, not in the worker (SECURITY.md P18).

Every file is generated here, small on disk and cheap to build: a 1 GiB zip bomb of
1 MiB, a billion-laughs DOCX, a DOCX of 3000 parts, a DOCX whose 45 MiB document.xml
needs more than 500 MiB to parse, and an HTML page of millions of nested tags. Each goes
through `extract.extract_isolated`, the path the exhibits job takes, under real rlimits.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import struct
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest

from jeex.config import Settings
from jeex.db.session import Database
from jeex.errors import ExtractionFailed, ExtractionTimedOut, TryAgain
from jeex.exhibits import extract, service, sniff
from jeex.exhibits.models import Exhibit
from jeex.retrieval.service import Retrieval
from jeex.tenants.service import Principal
from support.exhibit_files import docx, encrypted_pdf, pdf
from support.factories import create_exhibit, create_project

LIMITS = extract.Limits.of(Settings())
MiB = 1024 * 1024
#: How much the test process's resident memory may grow while a child handles a file.
PARENT_GROWTH_BOUND = 50 * MiB


def _rss() -> int:
    """This process's resident memory in bytes (VmRSS)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def _sandbox_children() -> list[int]:
    """Processes of ours running the extraction sandbox (there should be none left)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = int(status.split("PPid:")[1].split()[0])
        if parent == os.getpid() and extract.SANDBOX_MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


async def _isolated(
    data: bytes,
    media_type: str,
    *,
    timeout_seconds: float = 30,
    memory_mb: int = 768,
    cpu_seconds: int = 30,
) -> list[extract.Block]:
    return await extract.extract_isolated(
        data, media_type, LIMITS,
        timeout_seconds=timeout_seconds, memory_mb=memory_mb, cpu_seconds=cpu_seconds,
    )  # fmt: skip


def _rewrite_docx(replace: dict[str, bytes]) -> bytes:
    """A real python-docx document with some parts replaced."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx([("p", "hello")]))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)))
    return out.getvalue()


def _deflated_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP of ``(name, raw deflate data, crc32, unpacked size)`` entries, built by hand so
    that a 1 GiB part never exists in this process."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, compressed, crc, size in entries:
        offset, encoded = out.tell(), name.encode()
        fields = (20, 0, 8, 0, 0x21, crc, len(compressed), size, len(encoded))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + encoded + compressed)
        central.write(
            struct.pack("<IH", 0x02014B50, 20)
            + struct.pack("<HHHHHIIIHHHHHII", *fields, 0, 0, 0, 0, 0, offset)
            + encoded
        )
    directory = out.tell()
    out.write(central.getvalue())
    count, length = len(entries), len(central.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, length, directory, 0))
    return out.getvalue()


def _deflated(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data))


def zip_bomb_docx(gibibytes: int = 1) -> bytes:
    """A DOCX-shaped ZIP whose document.xml inflates to ``gibibytes`` GiB of zeros.

    After a full flush, deflate starts afresh: every MiB of zeros compresses to the same
    bytes, so the part is one compressed MiB repeated, never inflated here."""
    zeros = bytes(MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024 * gibibytes):
        crc = zlib.crc32(zeros, crc)
    bomb = one * (1024 * gibibytes) + packer.flush()
    return _deflated_zip(
        [
            _deflated("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", bomb, crc, 1024**3 * gibibytes),
        ]
    )


def billion_laughs_docx() -> bytes:
    """A DOCX whose document.xml declares ten levels of entities, 10⁹ "lol"s in one run."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    body = (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>"
        f"<!DOCTYPE w:document [{entities}]>"
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    return _rewrite_docx({"word/document.xml": body.encode()})


def many_parts_docx(parts: int = 3000) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for n in range(parts):
            archive.writestr(f"word/media/part{n}.xml", "")
    return out.getvalue()


def huge_document_docx(mebibytes: int = 45) -> bytes:
    """A real DOCX whose document.xml is ``mebibytes`` MiB of short paragraphs: under the
    per-part limit (50 MiB) and the ratio check (about 6:1), 7 MiB on disk, and more than
    500 MiB in lxml and python-docx (a child given 768 MiB peaked at 554 MiB and took 11 s;
    the same extraction in a thread left the test process 400 MiB larger)."""
    rng = random.Random(21)
    words = ["plan", "list", "milk", "family", "price", "week", "shop", "bread", "share"]
    block = "".join(
        f"<w:p><w:r><w:t>{' '.join(rng.choices(words, k=6))} {n}</w:t></w:r></w:p>"
        for n in range(12_000)
    ).encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx([("p", "hello")]))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target,
    ):
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info.filename, source.read(info))
                continue
            with target.open("word/document.xml", "w") as part:
                part.write(source.read(info).split(b"<w:body>")[0] + b"<w:body>")
                for _ in range(mebibytes * MiB // len(block)):
                    part.write(block)
                part.write(b"<w:sectPr/></w:body></w:document>")
    return out.getvalue()


def nested_html(mebibytes: int) -> bytes:
    """``mebibytes`` MiB of unclosed ``<div>``: millions of nested tags for BeautifulSoup."""
    unit = b"<div>"
    return b"<!doctype html><html><body>" + unit * (mebibytes * MiB // len(unit))


async def test_a_zip_bomb_is_refused_from_its_headers_naming_the_part() -> None:
    bomb = zip_bomb_docx(1)
    assert len(bomb) < 2 * MiB
    before = _rss()
    with pytest.raises(ExtractionFailed, match="document.xml' unpacks to 1073741824 bytes"):
        extract.check_zip(bomb, LIMITS)  # in this process: refused without inflating
    assert _rss() - before < PARENT_GROWTH_BOUND
    with pytest.raises(ExtractionFailed, match="the limit for one part is") as refused:
        await _isolated(bomb, sniff.DOCX)
    assert not refused.value.transient


async def test_a_billion_laughs_docx_is_refused_for_its_dtd() -> None:
    with pytest.raises(ExtractionFailed, match="word/document.xml' declares a DTD") as refused:
        await _isolated(billion_laughs_docx(), sniff.DOCX)
    assert not refused.value.transient


async def test_a_docx_of_3000_parts_is_refused() -> None:
    with pytest.raises(ExtractionFailed, match="has 3001 parts; the limit is 2000"):
        await _isolated(many_parts_docx(3000), sniff.DOCX)


async def test_a_docx_too_big_to_parse_exhausts_the_child_not_the_worker() -> None:
    data = huge_document_docx(45)
    assert len(data) < 10 * MiB
    before = _rss()
    with pytest.raises(ExtractionFailed, match=r"ran out of memory \(limit 256 MiB\)") as refused:
        await _isolated(data, sniff.DOCX, memory_mb=256)
    growth = _rss() - before
    assert growth < PARENT_GROWTH_BOUND, f"the parent grew by {growth / MiB:.0f} MiB"
    assert not refused.value.transient  # the same file would fail the same way
    assert _sandbox_children() == []


async def test_deeply_nested_html_is_stopped_by_the_cpu_limit() -> None:
    data = nested_html(20)  # 4 million nested tags: minutes and gigabytes for BeautifulSoup
    before = _rss()
    with pytest.raises(ExtractionFailed, match="used more than 1 s of CPU time") as refused:
        await _isolated(data, sniff.HTML, memory_mb=1024, cpu_seconds=1)
    assert _rss() - before < PARENT_GROWTH_BOUND
    assert not refused.value.transient


async def test_a_slow_or_cancelled_extraction_is_killed_and_leaves_no_process() -> None:
    data = nested_html(8)
    started = asyncio.get_running_loop().time()
    with pytest.raises(ExtractionTimedOut, match="took longer than 1 s") as refused:
        await _isolated(data, sniff.HTML, timeout_seconds=1, memory_mb=768, cpu_seconds=60)
    assert asyncio.get_running_loop().time() - started < 10
    assert refused.value.transient
    assert _sandbox_children() == []
    # A cancelled job (the worker stopping) takes its child with it.
    job = asyncio.ensure_future(_isolated(data, sniff.HTML, memory_mb=768, cpu_seconds=60))
    for _ in range(500):  # until its child runs (10 s at most)
        if _sandbox_children():
            break
        await asyncio.sleep(0.02)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert _sandbox_children() == []


async def test_normal_files_extract_the_same_in_the_child() -> None:
    files = {
        sniff.DOCX: docx([("h1", "Interviews"), ("p", "Parent A forgets milk."),
                          ("h2", "Pricing"), ("p", "Parents would pay 3 euros.")]),
        sniff.PDF: pdf([["Market study", "Families lose 40 minutes."], ["Price is 7.77 euros."]]),
        sniff.HTML: b"<html><body><h2>Backlog</h2><p>Shared lists sync.</p>"
        b"<script>alert(1)</script></body></html>",
        sniff.MARKDOWN: "# Backlog\n\n- share a list ✓\n\nProse.\n".encode(),
        sniff.TEXT: b"Plain notes.\n\nSecond paragraph.",
    }  # fmt: skip
    isolated = await asyncio.gather(*(_isolated(data, kind) for kind, data in files.items()))
    for (kind, data), blocks in zip(files.items(), isolated, strict=True):
        assert blocks == extract.extract(data, kind, LIMITS), kind
        assert blocks
    with pytest.raises(ExtractionFailed, match="encrypted") as refused:
        await _isolated(encrypted_pdf([["secret"]]), sniff.PDF)
    assert not refused.value.transient


async def test_the_exhibits_job_retries_a_timeout_and_fails_a_hostile_file_at_once(
    db: Database, settings: Settings, retrieval: Retrieval, principal: Principal
) -> None:
    slow = settings.model_copy(update={"exhibits_extract_timeout_seconds": 0.5})
    async with db.tenant_session(principal.tenant_id) as session:
        project = await create_project(session, tenant=principal, name="Hostile")
        slow_page = await create_exhibit(session, settings, tenant=principal,
                                         project_id=project.id, filename="deep.html",
                                         data=nested_html(8))  # fmt: skip
        laughs = await create_exhibit(session, settings, tenant=principal,
                                      project_id=project.id, filename="laughs.docx",
                                      data=billion_laughs_docx())  # fmt: skip

    async def row(exhibit_id: uuid.UUID) -> Exhibit:
        async with db.tenant_session(principal.tenant_id) as session:
            found = await service.get(session, exhibit_id=exhibit_id)
        assert found is not None
        return found

    ids = {"tenant_id": principal.tenant_id}
    with pytest.raises(TryAgain, match="took longer than 0.5 s"):
        await service.process(db, slow, retrieval, **ids, exhibit_id=slow_page.id,
                              last_attempt=False)  # fmt: skip
    pending = await row(slow_page.id)
    assert (pending.status, pending.error) == (
        "pending", "text extraction took longer than 0.5 s; trying again")  # fmt: skip
    status = await service.process(db, slow, retrieval, **ids, exhibit_id=slow_page.id)
    assert status == "failed"
    assert (await row(slow_page.id)).error == "text extraction took longer than 0.5 s"
    # A refusal is final at the first attempt: it would be refused again.
    status = await service.process(db, settings, retrieval, **ids, exhibit_id=laughs.id,
                                   last_attempt=False)  # fmt: skip
    assert status == "failed"
    assert "declares a DTD" in str((await row(laughs.id)).error)
    assert _sandbox_children() == []
