"""PDF export: WeasyPrint in a child process that can reach no network and no file.

This is the parent's side (it never imports WeasyPrint, so workers stay light);
``exports.pdf_sandbox`` is the child's.

SECURITY.md P20. Three fences, each enough on its own for the common cases:

1. the HTML is sanitised (no images, no raw HTML, no ``<link>``/``<style>``);
2. ``pdf_sandbox.SandboxFetcher`` answers only ``jeex-asset:`` URLs from a fixed in-memory table
   and refuses everything else (``http:``, ``file:``, ``data:`` …), with redirects off;
3. rendering happens in a child process with a timeout and an address-space limit
   (RLIMIT_AS), so a pathological document costs one killed process, not the worker.

No URL is ever passed to ``write_pdf(stylesheets=…)``: the stylesheet is a string.
"""

from __future__ import annotations

import asyncio
import resource
import sys

from jeex.errors import AppError

SANDBOX_MODULE = "jeex.exports.pdf_sandbox"


class PdfRenderFailed(AppError):
    """The PDF renderer failed or ran out of time or memory."""

    status_code = 500

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        #: A timeout, or the child killed by a signal: a second try may succeed.
        self.transient = transient


def apply_limits(memory_mb: int) -> None:
    """The renderer's limits, set by the child itself before it reads the HTML: a
    ``preexec_fn`` would run between fork and exec of a worker that has threads, which
    Python documents as unsafe."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def render_pdf(html: str, *, timeout_seconds: float, memory_mb: int) -> bytes:
    """Run ``pdf_sandbox`` with the HTML on stdin; its stdout is the PDF."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        SANDBOX_MODULE,
        str(memory_mb),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(html.encode("utf-8")), timeout=timeout_seconds
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PdfRenderFailed(
            f"the PDF renderer took longer than {timeout_seconds:g} s", transient=True
        ) from None
    if process.returncode is not None and process.returncode < 0:
        raise PdfRenderFailed(
            f"the PDF renderer was killed (signal {-process.returncode})", transient=True
        )
    if process.returncode != 0 or not out.startswith(b"%PDF"):
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise PdfRenderFailed(f"the PDF renderer failed: {last[0][:300]}")
    return out
