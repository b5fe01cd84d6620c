"""Serve the web UI at ``/``: ``index.html`` and its assets under ``/static``.

The UI is build-free (plain ES modules and CSS shipped in the package), so there is no
install-time build step and nothing is fetched from a network at run time. Every
screen is drawn by ``app.js`` from the JSON API; the server renders no page of its own
beyond this shell, and document HTML comes from the API already sanitised.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
#: Assets change with the package version; the shell itself is always revalidated.
_NO_CACHE = {"Cache-Control": "no-cache"}


async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_NO_CACHE)


def mount(app: FastAPI) -> None:
    app.add_api_route("/", index, include_in_schema=False, methods=["GET"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
