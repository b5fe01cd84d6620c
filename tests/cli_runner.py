"""The real ``jeex`` command in a subprocess, with only the settings a test gives it."""

from __future__ import annotations

import os
import subprocess
import sys


def jeex_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``JEEX_*``, plus ``settings`` (wide output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    return {**env, "COLUMNS": "200", **settings}


def jeex(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jeex", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
