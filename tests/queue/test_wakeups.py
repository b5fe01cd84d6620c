"""A job queued while the worker is between fetches still wakes it (no wait for the poll)."""

from __future__ import annotations

import asyncio
import uuid

from jeex.config import Settings
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.llm.client import LLMClient
from jeex.queue import app as queue
from jeex.worker import QueueWorker

started: dict[str, asyncio.Event] = {}


@queue.app.task(name="tests.wakeup_noop", queue="tests-wakeups")
async def wakeup_noop(key: str) -> None:
    started[key].set()


async def test_jobs_queued_one_after_another_never_wait_for_the_poll(
    settings: Settings, database_urls: DatabaseUrls, llm: LLMClient, empty_queue: None
) -> None:
    # With a 60 s poll, any missed notification stalls its job for up to a minute. Each job
    # is queued the moment the previous one starts, which is when procrastinate's worker is
    # fetching again: without PromptWorker about one job in fifty was missed.
    slow_poll = settings.model_copy(update={"queue_poll_seconds": 60.0})
    worker = QueueWorker(slow_poll, app_url=database_urls.app, llm=llm, queues=["tests-wakeups"])
    serving = asyncio.create_task(worker.run())
    db = Database(database_urls.app)
    try:
        await asyncio.sleep(1.0)  # listening
        for _ in range(200):
            key = uuid.uuid4().hex
            started[key] = asyncio.Event()
            async with db.global_session() as session:
                await queue.defer(
                    session,
                    "tests.wakeup_noop",
                    lock=key,
                    args={"key": key},
                    queue="tests-wakeups",
                )
            await asyncio.wait_for(started[key].wait(), timeout=15)
    finally:
        worker.stop()
        await asyncio.gather(serving, return_exceptions=True)
        await db.dispose()
