"""A real ``jeex serve --workers 1`` with its own slow scripted LLM, and headless Chromium.

The browser is Debian's ``chromium`` (``make setup`` installs it), driven by Playwright
through its executable path: nothing is downloaded. The LLM server is this module's
own, so its speed can be changed mid-test (slow while a run is paused, fast otherwise)
without touching the shared one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from jeex.db.urls import DatabaseUrls
from support.api import SECRET
from support.cli import jeex
from support.fakellm import ScriptedLLM
from support.servers import serve_env, start_server
from support.web import CHROMIUM, PASSWORD, Site


@pytest.fixture
def web_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture
def site(
    database_urls: DatabaseUrls, web_llm: ScriptedLLM, tmp_path: Path, empty_queue: None
) -> Iterator[Site]:
    env = serve_env(
        database_urls.owner.render_as_string(hide_password=False),
        web_llm.base_url,
        tmp_path / "data",
        SECRET,
    )
    tenant = f"web-{uuid.uuid4().hex[:8]}"
    email = f"{tenant}@x.test"
    created = jeex({**env, "JEEX_USER_PASSWORD": PASSWORD}, "users", "create",
                   "--email", email, "--tenant", tenant)  # fmt: skip
    assert created.returncode == 0, created.stderr
    site = Site(start_server(env, tmp_path, "--workers", "1"), web_llm, email, tenant, env)
    try:
        yield site
    finally:  # the server of the end: a test may have restarted it
        site.server.proc.terminate()
        site.server.proc.wait(timeout=30)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"no Chromium at {CHROMIUM}: run `make setup` (it installs Debian's chromium)"
    )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the tests leave screenshots: docs/screenshots with JEEX_SCREENSHOTS=1."""
    if os.environ.get("JEEX_SCREENSHOTS") == "1":
        folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    else:
        folder = tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
