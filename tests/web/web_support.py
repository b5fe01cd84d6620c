"""What the browser tests share with their fixtures (a module of its own name: every test
folder has a ``conftest``, so importing one by that name depends on collection order)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from api.sse_support import Server
from fakellm import ScriptedLLM

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
