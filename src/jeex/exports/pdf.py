"""PDF export: WeasyPrint in a child process that can reach no network and no file.

SECURITY.md P20. Three fences, each enough on its own for the common cases:

1. the HTML is sanitised (no images, no raw HTML, no ``<link>``/``<style>``);
2. ``SandboxFetcher`` answers only ``jeex-asset:`` URLs from a fixed in-memory table
   and refuses everything else (``http:``, ``file:``, ``data:`` …), with redirects off;
3. rendering happens in a child process with a timeout and an address-space limit
   (RLIMIT_AS), so a pathological document costs one killed process, not the worker.

No URL is ever passed to ``write_pdf(stylesheets=…)``: the stylesheet is a string.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from collections.abc import Callable
from importlib import resources
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from jeex.errors import AppError

ASSET_SCHEME = "jeex-asset:"
SANDBOX_MODULE = "jeex.exports.pdf_sandbox"


class PdfRenderFailed(AppError):
    """The PDF renderer failed or ran out of time or memory."""

    status_code = 500


def bundled_assets() -> dict[str, bytes]:
    """Everything the renderer may load, read once from the package (never from a URL)."""
    folder = resources.files("jeex.exports") / "assets"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}


class SandboxFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``jeex-asset:<name>`` from memory; every other URL is refused, not fetched."""

    def __init__(self, assets: dict[str, bytes]) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self._assets = assets
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        name = url.removeprefix(ASSET_SCHEME) if url.startswith(ASSET_SCHEME) else None
        if name is None or name not in self._assets:
            self.refused.append(url[:200])
            raise ValueError(f"resource refused by the export sandbox: {url[:200]}")
        return URLFetcherResponse(
            url, body=self._assets[name], headers={"Content-Type": "text/css"}
        )

    def open(self, url: Any, data: Any = None, timeout: Any = None) -> URLFetcherResponse:
        """urllib's entry point refused too, so no code path reaches an opener."""
        return self.fetch(str(getattr(url, "full_url", url)))


def html_to_pdf(html: str) -> bytes:
    """Render in this process: call only inside the sandbox child (or in its tests)."""
    fetcher = SandboxFetcher(bundled_assets())
    stylesheet = CSS(
        string=fetcher.fetch(f"{ASSET_SCHEME}export.css").read().decode(), url_fetcher=fetcher
    )
    document = HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf(stylesheets=[stylesheet])
    return pdf


def _limits(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


async def render_pdf(html: str, *, timeout_seconds: float, memory_mb: int) -> bytes:
    """Run ``pdf_sandbox`` with the HTML on stdin; its stdout is the PDF."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        SANDBOX_MODULE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limits(memory_mb),  # noqa: PLW1509 - no threads are started before exec
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(html.encode("utf-8")), timeout=timeout_seconds
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PdfRenderFailed(f"the PDF renderer took longer than {timeout_seconds:g} s") from None
    if process.returncode != 0 or not out.startswith(b"%PDF"):
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise PdfRenderFailed(f"the PDF renderer failed: {last[0][:300]}")
    return out
