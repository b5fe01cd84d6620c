"""Child-process entry of the PDF renderer: HTML on stdin, PDF on stdout.

Run by ``exports.pdf.render_pdf`` under a timeout and RLIMIT_AS; it has no database
connection, no settings and no secrets, and its fetcher refuses every URL but the
bundled stylesheet.
"""

from __future__ import annotations

import logging
import sys
from importlib import resources
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from jeex.exports.pdf import apply_limits

ASSET_SCHEME = "jeex-asset:"


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


def main() -> None:
    # WeasyPrint logs each refused URL; stderr is kept for the one-line failure reason.
    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
    apply_limits(int(sys.argv[1]))  # before a byte of the document is read
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(html_to_pdf(html))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
