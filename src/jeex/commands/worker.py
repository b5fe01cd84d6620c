"""``jeex worker``: serve the job queue until SIGTERM or Ctrl-C, then drain and exit 0."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

from jeex.cli_support import fail, stderr
from jeex.config import Settings
from jeex.errors import AppError
from jeex.queue.app import DEFAULT_QUEUES
from jeex.runtime import Runtime
from jeex.worker import QueueWorker


async def _serve(runtime: Runtime, concurrency: int | None, queues: Sequence[str]) -> None:
    assert runtime.urls is not None
    llm = runtime.llm_client()
    worker = QueueWorker(
        runtime.settings,
        app_url=runtime.urls.app,
        llm=llm,
        concurrency=concurrency,
        queues=queues,
        retrieval=runtime.retrieval(),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    stderr.print(
        f"worker {worker.name} serving {', '.join(queues)} "
        f"(concurrency {worker.concurrency}); SIGTERM or Ctrl-C stops it",
        highlight=False,
    )
    try:
        await worker.run()
    finally:
        await llm.close()
    stderr.print(f"worker {worker.name} stopped", highlight=False)


def worker(settings: Settings, *, concurrency: int | None, queues: Sequence[str] | None) -> None:
    try:
        with Runtime(settings, need_llm=True) as runtime:
            asyncio.run(_serve(runtime, concurrency, list(queues or DEFAULT_QUEUES)))
    except AppError as exc:
        fail(exc.message, exc.exit_code)
