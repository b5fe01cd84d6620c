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
class Site:
    server: Server
    llm: ScriptedLLM
    email: str
    tenant: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url
