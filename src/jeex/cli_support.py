"""What every CLI command shares: settings, errors as one line, JSON output, async entry."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from jeex.config import Settings, get_settings
from jeex.db.session import Database
from jeex.errors import AppError, InvalidInput
from jeex.logs import configure_logging
from jeex.runtime import Runtime
from jeex.secret_sources import redact

T = TypeVar("T")
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    stderr.print(f"[bold red]Error:[/] {redact(message)}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        settings = get_settings()
    except AppError as exc:  # a secret source (file, Vault) that cannot be read
        fail(exc.message, exc.exit_code)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across settings
            fail(f"invalid settings: {first['msg'].removeprefix('Value error, ')}")
        fail(f"invalid setting JEEX_{str(first['loc'][0]).upper()}: {first['msg']}")
    configure_logging(settings)
    return settings


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return f"{field}: {first['msg'].removeprefix('Value error, ')}"


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def check_writable_dir(path: Path) -> Path:
    """Fail before anything is written if ``path`` cannot become a writable folder."""
    path = path.expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInput(f"--out {path} is not usable: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInput(f"--out {path} is not writable")
    return path


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; Ctrl-C and SIGTERM cancel it so cleanup code runs either way, and
    Ctrl-C then ends in ``KeyboardInterrupt``.

    Both are the event loop's own signal handlers (``loop.add_signal_handler``), not
    asyncio.Runner's SIGINT handler, which it installs only when the process still has
    Python's default one. Signals reach the main thread only: a command run from another
    thread (a program embedding the CLI) leaves them to that program."""
    interrupted = False

    async def wrapper() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None and threading.current_thread() is threading.main_thread():

            def interrupt() -> None:
                nonlocal interrupted
                interrupted = True
                task.cancel()

            loop.add_signal_handler(signal.SIGINT, interrupt)
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await main()

    try:
        return asyncio.run(wrapper())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise


def guarded(call: Callable[[], T]) -> T:
    """Domain errors become one line and their exit code; nothing else is swallowed."""
    try:
        return call()
    except AppError as exc:
        fail(exc.message, exc.exit_code)
    except ValidationError as exc:
        fail(validation_message(exc))


def with_database(settings: Settings, work: Callable[[Runtime, Database], Awaitable[T]]) -> T:
    """Start what a command needs, hand ``work`` an engine for its event loop, dispose of
    it after; domain errors become one line (``guarded``)."""

    async def main(runtime: Runtime) -> T:
        db = runtime.database()
        try:
            return await work(runtime, db)
        finally:
            await db.dispose()

    def call() -> T:
        with Runtime(settings) as runtime:
            return run_async(lambda: main(runtime))

    return guarded(call)
