"""A real queue worker in the test's own event loop, served until the test sees its effect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.engine import URL

from jeex.config import Settings
from jeex.llm.client import LLMClient
from jeex.retrieval.service import Retrieval
from jeex.worker import QueueWorker


async def serve_until(
    settings: Settings,
    app_url: URL,
    done: Callable[[], Awaitable[bool]],
    *,
    queues: Sequence[str],
    retrieval: Retrieval | None = None,
    llm: LLMClient | None = None,
    timeout: float = 30.0,
    every: float = 0.2,
) -> bool:
    """Run a ``QueueWorker`` on ``queues`` until ``done()`` (asked ``every`` seconds) or
    ``timeout``; True if done."""
    worker = QueueWorker(
        settings.model_copy(update={"queue_poll_seconds": 0.2}),
        app_url=app_url,
        llm=llm,
        queues=queues,
        retrieval=retrieval,
    )
    serving = asyncio.create_task(worker.run())
    deadline = time.monotonic() + timeout
    try:
        while not await done():
            if time.monotonic() > deadline or serving.done():
                return False
            await asyncio.sleep(every)
        return True
    finally:
        worker.stop()
        await asyncio.wait_for(serving, 30)
