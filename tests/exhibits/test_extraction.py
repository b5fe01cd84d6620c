"""Content sniffing, extraction and upload limits on generated files (SECURITY.md P16–P18)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from jeex.config import Settings
from jeex.errors import EmptyUpload, ExtractionFailed, PayloadTooLarge, UnsupportedMediaType
from jeex.exhibits import extract, files, sniff
from support.exhibit_files import docx, encrypted_pdf, pdf, zip_bomb_docx

LIMITS = extract.Limits.of(Settings())


def test_pdf_text_keeps_its_pages() -> None:
    data = pdf([["Market study", "Families lose 40 minutes a week."], ["Price is 7.77 euros."]])
    assert sniff.check("study.pdf", data) == sniff.PDF
    blocks = extract.extract(data, sniff.PDF, LIMITS)
    pages = {b.text: b.page for b in blocks}
    assert any("40 minutes" in text and page == 1 for text, page in pages.items())
    assert any("7.77 euros" in text and page == 2 for text, page in pages.items())


def test_encrypted_and_corrupt_pdfs_fail_with_a_reason() -> None:
    with pytest.raises(ExtractionFailed, match="encrypted"):
        extract.extract(encrypted_pdf([["secret plan"]]), sniff.PDF, LIMITS)
    with pytest.raises(ExtractionFailed, match="damaged|no text"):
        extract.extract(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", sniff.PDF, LIMITS)


def test_pdf_page_limit() -> None:
    limits = extract.Limits(pages=1, chars=10_000, unzipped_bytes=10**6)
    with pytest.raises(ExtractionFailed, match="2 pages"):
        extract.extract(pdf([["a"], ["b"]]), sniff.PDF, limits)


def test_docx_headings_become_headings() -> None:
    data = docx([("h1", "Interviews"), ("p", "Parent A forgets milk."), ("h2", "Pricing"),
                 ("p", "Parents would pay 3 euros.")])  # fmt: skip
    assert sniff.check("notes.docx", data) == sniff.DOCX
    blocks = extract.extract(data, sniff.DOCX, LIMITS)
    assert [(b.text, b.heading) for b in blocks] == [
        ("Interviews", True),
        ("Parent A forgets milk.", False),
        ("Pricing", True),
        ("Parents would pay 3 euros.", False),
    ]


def test_docx_zip_bomb_is_refused_without_inflating() -> None:
    bomb = zip_bomb_docx(50)
    assert len(bomb) < 200_000
    with pytest.raises(ExtractionFailed, match="suspiciously|unpacks"):
        extract.extract(bomb, sniff.DOCX, LIMITS)


def test_html_drops_scripts_and_keeps_headings() -> None:
    data = (
        b"<!doctype html><html><head><script>alert('x')</script><style>p{}</style></head>"
        b"<body><h2>Backlog</h2><p>Shared lists sync in real time.</p></body></html>"
    )
    assert sniff.check("page.html", data) == sniff.HTML
    blocks = extract.extract(data, sniff.HTML, LIMITS)
    assert [(b.text, b.heading) for b in blocks] == [
        ("Backlog", True),
        ("Shared lists sync in real time.", False),
    ]


def test_markdown_and_text() -> None:
    md = b"# Backlog\n\n- share a list\n- tick items\n\nSome prose here.\n"
    assert sniff.check("backlog.md", md) == sniff.MARKDOWN
    assert extract.extract(md, sniff.MARKDOWN, LIMITS)[0].heading
    text = b"Plain notes.\n\nSecond paragraph."
    assert sniff.check("notes.txt", text) == sniff.TEXT
    assert [b.text for b in extract.extract(text, sniff.TEXT, LIMITS)] == [
        "Plain notes.",
        "Second paragraph.",
    ]
    assert sniff.check("notes.txt", md) == sniff.MARKDOWN  # text kinds stand for each other


@pytest.mark.parametrize(
    ("name", "data", "detected"),
    [
        ("report.pdf", b"<!doctype html><html><body><p>hi</p></body></html>", "HTML"),
        ("notes.docx", b"just some text", "plain text"),
        ("page.html", pdf([["x"]]), "PDF"),
    ],
)
def test_lying_names_are_refused_naming_what_was_found(
    name: str, data: bytes, detected: str
) -> None:
    with pytest.raises(UnsupportedMediaType, match=detected) as caught:
        sniff.check(name, data)
    assert caught.value.status_code == 415


def test_unsupported_content_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff.check("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(64))
    with pytest.raises(UnsupportedMediaType, match="ZIP"):
        sniff.check("a.zip", zip_bomb_docx(1).replace(b"word/document.xml", b"word/other.xmlx"))
    polyglot = b"%PDF-1.4\n<html><body><p>hi</p><p>there</p></body></html>"
    with pytest.raises(UnsupportedMediaType, match="both"):
        sniff.check("x.pdf", polyglot)


def test_scanned_pdf_without_text_fails() -> None:
    with pytest.raises(ExtractionFailed, match="no text"):
        extract.extract(pdf([[]]), sniff.PDF, LIMITS)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.pdf", "x.pdf"),
        ("a.pdf\x00.html", "a.pdf.html"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("   ", "exhibit"),
        ("...", "exhibit"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
        ("ok name?.md", "ok name_.md"),
    ],
)
def test_file_names_are_sanitised(raw: str, clean: str) -> None:
    assert files.sanitize_filename(raw) == clean


def test_size_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    sent = 0

    def pieces():  # an endless upload: the limit, not the sender, ends it
        nonlocal sent
        while True:
            sent += 1024
            yield b"x" * 1024

    target = tmp_path / "up" / "file"
    with pytest.raises(PayloadTooLarge) as caught:
        files.receive(pieces(), target, limit=10_000)
    assert caught.value.status_code == 413
    assert sent <= 11 * 1024
    assert not target.exists()
    with pytest.raises(EmptyUpload):
        files.receive(iter([b""]), tmp_path / "empty", limit=10)
    assert not (tmp_path / "empty").exists()


def test_text_caps_and_docx_tables() -> None:
    small = extract.Limits(pages=10, chars=20, unzipped_bytes=10**7)
    blocks = extract.extract(pdf([["a" * 15, "b" * 15], ["never read"]]), sniff.PDF, small)
    assert sum(len(b.text) for b in blocks) <= 20
    import docx as python_docx

    document = python_docx.Document()
    document.add_paragraph("Intro.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Family", "2.49"
    out = io.BytesIO()
    document.save(out)
    texts = [b.text for b in extract.extract(out.getvalue(), sniff.DOCX, LIMITS)]
    assert texts == ["Intro.", "Plan | Price", "Family | 2.49"]
    capped = extract.extract(out.getvalue(), sniff.DOCX, small)
    assert sum(len(b.text) for b in capped) <= 20


def test_zip_bounds() -> None:
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for n in range(extract.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"word/{n}.xml", "")
    with pytest.raises(ExtractionFailed, match="parts"):
        extract.check_zip(many.getvalue(), LIMITS)
    tiny = extract.Limits(pages=1, chars=100, unzipped_bytes=1024)
    with pytest.raises(ExtractionFailed, match="unpacks"):
        extract.check_zip(zip_bomb_docx(1), tiny)
    with pytest.raises(ExtractionFailed, match="not a valid ZIP"):
        extract.check_zip(b"PK\x03\x04 broken", LIMITS)
    fake = io.BytesIO()
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not-word/>")
    with pytest.raises(ExtractionFailed, match="damaged"):
        extract.extract(fake.getvalue(), sniff.DOCX, LIMITS)


def test_html_without_block_elements_falls_back_to_its_text() -> None:
    blocks = extract.extract(
        b"<html><body>Just <b>bold</b> words</body></html>", sniff.HTML, LIMITS
    )
    assert [b.text for b in blocks] == ["Just bold words"]
    with pytest.raises(ExtractionFailed, match="no text"):
        extract.extract(b"<html><body><script>x()</script></body></html>", sniff.HTML, LIMITS)


async def test_async_receive_streams_and_caps(tmp_path: Path) -> None:
    async def pieces(n: int):
        for _ in range(n):
            yield b"y" * 100

    received = await files.receive_async(pieces(3), tmp_path / "a", limit=1000)
    assert received.size == 300
    assert (tmp_path / "a").read_bytes() == b"y" * 300
    assert list(files.read_pieces(tmp_path / "a", size=128)) == [b"y" * 128, b"y" * 128, b"y" * 44]
    with pytest.raises(PayloadTooLarge):
        await files.receive_async(pieces(20), tmp_path / "b", limit=1000)
    assert not (tmp_path / "b").exists()
    received.discard()
    assert not (tmp_path / "a").exists()
    assert files.inside(tmp_path, tmp_path / "x" / "y")
    assert not files.inside(tmp_path / "x", tmp_path / "x" / ".." / "z")
