"""What the browser tests share with their fixtures: the Chromium they drive, the site."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from support.fakellm import ScriptedLLM
from support.servers import Server

CHROMIUM = os.environ.get("JEEX_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "pass-word-1"


@dataclass
class Host:
    """One ``jeex serve --workers 1`` shared by a module's tests (a test may restart it)."""

    server: Server
    llm: ScriptedLLM
    env: dict[str, str]


@dataclass
class Site:
    """The host as one test sees it: its own tenant and user."""

    host: Host
    email: str
    tenant: str

    @property
    def server(self) -> Server:
        return self.host.server

    @property
    def llm(self) -> ScriptedLLM:
        return self.host.llm

    @property
    def env(self) -> dict[str, str]:
        return self.host.env

    @property
    def url(self) -> str:
        return self.server.url
