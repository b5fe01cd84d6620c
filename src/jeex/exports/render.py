"""One entry point for every format: a bundle in, the file's bytes and manifest out.

CPU-bound renderers run in a thread so the worker's event loop keeps heart-beating;
the PDF renderer runs in its own sandboxed child process (``exports.pdf``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jeex.config import Settings
from jeex.exports.bundle import ExportBundle
from jeex.exports.docx_export import render_docx
from jeex.exports.html import render_html
from jeex.exports.package import package_entries
from jeex.exports.pdf import render_pdf
from jeex.exports.pptx_export import render_pptx
from jeex.exports.xlsx_export import render_xlsx
from jeex.exports.zip_export import manifest, render_zip

_IN_THREAD: dict[str, Callable[[ExportBundle], bytes]] = {
    "docx": render_docx,
    "xlsx": render_xlsx,
    "pptx": render_pptx,
}


@dataclass(frozen=True)
class Rendered:
    """A finished artifact: its bytes and the manifest stored on the export row."""

    data: bytes
    manifest: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _manifest(bundle: ExportBundle) -> dict[str, Any]:
    """Every format records what it was made from, as the ZIP's manifest.json does."""
    return manifest(bundle, package_entries(bundle.project, [d.doc for d in bundle.documents]))


async def render(bundle: ExportBundle, export_format: str, settings: Settings) -> Rendered:
    if export_format == "zip":
        data, made_of = await asyncio.to_thread(render_zip, bundle)
        return Rendered(data, made_of)
    if export_format == "pdf":
        html = render_html(bundle)
        data = await render_pdf(
            html,
            timeout_seconds=settings.export_pdf_timeout_seconds,
            memory_mb=settings.export_pdf_memory_mb,
        )
        return Rendered(data, _manifest(bundle))
    renderer = _IN_THREAD.get(export_format)
    if renderer is None:
        raise ValueError(f"no renderer for {export_format!r}")
    return Rendered(await asyncio.to_thread(renderer, bundle), _manifest(bundle))
