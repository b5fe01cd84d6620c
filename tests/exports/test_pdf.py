"""PDF export: typeset structure, and a renderer that reaches no network and no file (P20)."""

from __future__ import annotations

import io

import pypdf
import pytest

from jeex.exports.html import render_html
from jeex.exports.pdf import PdfRenderFailed, render_pdf
from jeex.exports.pdf_sandbox import ASSET_SCHEME, SandboxFetcher, bundled_assets, html_to_pdf
from support.canary import assert_canary_works, canary_server
from support.exports import (
    MALFORMED_TABLES,
    PASSWD_MARKER,
    Doc,
    hostile_markdown,
    huge_table,
    make_bundle,
    standard_docs,
)

HOSTILE_NAME = "</title><link rel=attachment href=file:///etc/passwd>"


async def pdf_of(html: str, *, timeout: float = 60, memory_mb: int = 2048) -> pypdf.PdfReader:
    data = await render_pdf(html, timeout_seconds=timeout, memory_mb=memory_mb)
    return pypdf.PdfReader(io.BytesIO(data))


def text_of(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def assert_nothing_embedded(reader: pypdf.PdfReader) -> None:
    root = reader.trailer["/Root"]
    names = root.get("/Names", {})
    assert "/EmbeddedFiles" not in names
    for page in reader.pages:
        resources = page.get("/Resources", {})
        assert "/XObject" not in resources or not any(
            x.get_object().get("/Subtype") == "/Image" for x in resources["/XObject"].values()
        )
        for annotation in page.get("/Annots", []) or []:
            assert annotation.get_object().get("/Subtype") != "/FileAttachment"


async def test_pdf_has_title_page_contents_and_page_numbers() -> None:
    bundle = make_bundle(standard_docs(3))
    reader = await pdf_of(render_html(bundle))
    pages = [page.extract_text() for page in reader.pages]
    assert "Family Lists" in pages[0]
    assert "A shared grocery list app for families" in pages[0]
    assert "Contents" in pages[1]
    for title in ("About: Family Lists", "Engineering standards", "Sync engine"):
        assert title in pages[1]
    total = len(pages)
    assert total >= 2 + len(bundle.documents)
    assert f"3 / {total}" in pages[2]
    assert "About: Family Lists" in pages[2]
    assert "graph TD" in text_of(reader)  # Mermaid shown as its source
    assert "Mermaid diagram (source)" in text_of(reader)
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "About: Family Lists" in outline


async def test_rendering_hostile_documents_reaches_nothing() -> None:
    with canary_server() as canary:
        assert_canary_works(canary)
        docs = [*standard_docs(1), Doc("plan_epic", hostile_markdown(canary.port),
                                       epic_number=2, title=HOSTILE_NAME)]  # fmt: skip
        reader = await pdf_of(render_html(make_bundle(docs, name=HOSTILE_NAME)))
        assert canary.hits == []
    text = text_of(reader)
    assert PASSWD_MARKER not in text
    assert "</title><link rel=attachment href=file:///etc/passwd>" in text
    assert "[image: exfil]" in text
    assert_nothing_embedded(reader)


RAW_HOSTILE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="{url}/link.css">
<link rel="attachment" href="file:///etc/passwd">
<style>@import url("{url}/import.css"); @import url("file:///etc/passwd");
@font-face {{ font-family: x; src: url("{url}/font.woff") }}
body {{ background: url("{url}/bg.png"); font-family: x }}</style>
</head><body>
<h1>raw</h1>
<img src="{url}/img.png"><img src="file:///etc/passwd"><img src="/dev/urandom">
<img src="{url}/redirect">
<svg width="10" height="10"><image href="{url}/svg.png" width="10" height="10"/></svg>
<object data="file:///etc/passwd"></object><embed src="{url}/embed">
<iframe src="{url}/frame"></iframe>
<a rel="attachment" href="file:///etc/passwd">attach</a>
<p style="background: url('{url}/inline.png')">styled</p>
</body></html>"""


def test_the_fetcher_alone_stops_raw_html() -> None:
    """Second fence: even unsanitised HTML reaches nothing (in process, no sandbox)."""
    with canary_server() as canary:
        assert_canary_works(canary)
        data = html_to_pdf(RAW_HOSTILE.format(url=canary.url))
        assert canary.hits == []
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert PASSWD_MARKER not in text_of(reader)
    assert "raw" in text_of(reader)
    assert_nothing_embedded(reader)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "https://example.com/x",
        "file:///etc/passwd",
        "data:text/css,body{}",
        "jeex-asset:../../../etc/passwd",
        "jeex-asset:missing.css",
        "ftp://127.0.0.1/x",
    ],
)
def test_sandbox_fetcher_refuses(url: str) -> None:
    fetcher = SandboxFetcher(bundled_assets())
    with pytest.raises(ValueError, match="refused"):
        fetcher.fetch(url)
    with pytest.raises(ValueError, match="refused"):
        fetcher.open(url)
    assert fetcher.refused == [url, url]


def test_sandbox_fetcher_serves_the_bundled_stylesheet() -> None:
    response = SandboxFetcher(bundled_assets()).fetch(f"{ASSET_SCHEME}export.css")
    assert b"@page" in response.read()


async def test_a_slow_render_is_killed_within_the_timeout() -> None:
    html = render_html(make_bundle(standard_docs(2)))
    with pytest.raises(PdfRenderFailed, match="longer than"):
        await render_pdf(html, timeout_seconds=0.05, memory_mb=2048)


async def test_the_renderer_runs_under_a_memory_limit() -> None:
    """The child sets its own address-space limit before it reads the document; 48 MiB is
    less than the renderer has mapped already, so the first growth a real document needs
    fails (with a generous limit this document renders: the table tests render more)."""
    many = "".join(f"<p>paragraph {n} of a long document</p>" for n in range(5000))
    with pytest.raises(PdfRenderFailed, match="failed|killed"):
        await render_pdf(many, timeout_seconds=60, memory_mb=48)


async def test_huge_and_malformed_tables_typeset() -> None:
    docs = [*standard_docs(1), Doc("plan_epic", huge_table(), epic_number=2, title="Huge"),
            Doc("plan_epic", MALFORMED_TABLES, epic_number=3, title="Malformed")]  # fmt: skip
    reader = await pdf_of(render_html(make_bundle(docs)), timeout=120)
    text = text_of(reader)
    flat = "".join(text.split())  # narrow cells wrap their words anywhere
    assert "r299c0" in flat
    assert "r300c0" not in flat
    assert "c20" not in flat
    assert "the first 300 of 1,500 rows and 20 of 40 columns" in " ".join(text.split())
    assert "no header" in text
