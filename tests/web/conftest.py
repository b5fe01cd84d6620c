"""A real ``jeex serve --workers 1`` with its own slow scripted LLM, and headless Chromium,
both shared by the module's tests; each test signs in to a tenant of its own.

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
from support.cli import invoke
from support.database import clear_queue
from support.fakellm import ScriptedLLM
from support.servers import serve_env, start_server
from support.web import CHROMIUM, PASSWORD, Host, Site


@pytest.fixture(scope="module")
def web_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture(scope="module")
def host(
    database_urls: DatabaseUrls, web_llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Host]:
    """One server for the module: starting one costs seconds; tests stay apart by tenant."""
    clear_queue(database_urls)
    folder = tmp_path_factory.mktemp("site")
    env = serve_env(
        database_urls.owner.render_as_string(hide_password=False),
        web_llm.base_url,
        folder / "data",
        SECRET,
    )
    # A monthly token quota, so the usage panel has a limit and a meter to show.
    env["JEEX_QUOTA_TOKENS_PER_MONTH"] = "2000000"
    # Every browser test of the module shares this server and 127.0.0.1; together they
    # send more than the default 100 requests a minute (tests/api/test_rate_limits.py
    # covers the limits themselves).
    env["JEEX_RATE_LIMIT_IP"] = "2000/minute"
    # Few passages per exhibit, so a test can show a partially indexed one cheaply.
    env["JEEX_EXHIBITS_MAX_PASSAGES"] = "3"
    host = Host(start_server(env, folder, "--workers", "1"), web_llm, env)
    try:
        yield host
    finally:  # the server of the end: a test may have restarted it
        host.server.proc.terminate()
        host.server.proc.wait(timeout=30)


@pytest.fixture
def site(host: Host) -> Site:
    """A new tenant and user on the shared server, and a scripted model with nothing left
    over from an earlier test."""
    host.llm.reset()
    host.llm.seconds_per_token = 0.0
    tenant = f"web-{uuid.uuid4().hex[:8]}"
    email = f"{tenant}@x.test"
    created = invoke({**host.env, "JEEX_USER_PASSWORD": PASSWORD}, "users", "create",
                     "--email", email, "--tenant", tenant)  # fmt: skip
    assert created.returncode == 0, created.stderr
    return Site(host, email, tenant)


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """One headless Chromium for the module (a launch costs seconds)."""
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
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The module's Chromium; the pages a test opened (each in its own context: its own
    storage and cookies) are closed after it, so no stream of theirs stays open."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the tests leave screenshots: docs/screenshots with JEEX_SCREENSHOTS=1."""
    if os.environ.get("JEEX_SCREENSHOTS") == "1":
        folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    else:
        folder = tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
