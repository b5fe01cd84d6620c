"""The ``jeex`` command as a test runs it: in this process (``invoke``) or as a real
process (``jeex``), with only the settings the test gives it.

``invoke`` is the default: the same typer app, arguments, settings from the
environment, exit codes, stdout and stderr, without a Python start-up per call.
``jeex`` is for what only a process boundary shows: signals, Ctrl-C, servers that
must outlive the call, embedded servers shared between processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from typer.testing import CliRunner

from jeex import cli_support
from jeex.cli import app
from jeex.config import get_settings

COLUMNS = "200"


def jeex_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``JEEX_*``, plus ``settings`` (wide output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    return {**env, "COLUMNS": COLUMNS, **settings}


def jeex(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m jeex ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "jeex", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Completed:
    """What ``invoke`` saw, named like ``subprocess.CompletedProcess``."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


_one_at_a_time = threading.Lock()  # the runner swaps this process's stdout and stderr


def invoke(env: dict[str, str], *args: str) -> Completed:
    """``jeex ARGS`` in this process with exactly the ``JEEX_*`` settings of ``env``.

    An uncaught exception is exit code 1 with its traceback on stderr, as the real
    process would show it. In a test that runs an event loop, call it through
    ``ainvoke`` (commands run their own loop).
    """
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("JEEX_")}
    overrides.update({k: v for k, v in env.items() if k.startswith("JEEX_")})
    with _one_at_a_time, _fresh_settings(), _width(int(env.get("COLUMNS", COLUMNS))):
        result = CliRunner().invoke(app, list(args), env=overrides, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        stderr += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Completed(tuple(args), result.exit_code, result.stdout, stderr)


async def ainvoke(env: dict[str, str], *args: str) -> Completed:
    """``invoke`` from a test that runs an event loop: the command runs in a thread."""
    return await asyncio.to_thread(invoke, env, *args)


@contextmanager
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; each invocation is a new 'process'."""
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


@contextmanager
def _width(columns: int) -> Iterator[None]:
    """The consoles' width, as a terminal of ``COLUMNS`` columns would give them."""
    consoles = (cli_support.stdout, cli_support.stderr)
    before = [console.width for console in consoles]
    for console in consoles:
        console.width = columns
    try:
        yield
    finally:
        for console, width in zip(consoles, before, strict=True):
            console.width = width
