"""``jeex worker``: serve the job queue until SIGTERM or Ctrl-C, then drain and exit 0."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

from prometheus_client import start_http_server

from jeex import metrics, tracing
from jeex.cli_support import fail, stderr
from jeex.config import Settings
from jeex.errors import AppError
from jeex.queue.app import DEFAULT_QUEUES
from jeex.runtime import Runtime
from jeex.worker import QueueWorker


async def _serve(
    runtime: Runtime, concurrency: int | None, queues: Sequence[str], metrics_port: int | None
) -> None:
    assert runtime.urls is not None
    llm = runtime.llm_client()
    worker = QueueWorker(
        runtime.settings,
        app_url=runtime.urls.app,
        llm=llm,
        concurrency=concurrency,
        queues=queues,
        retrieval=runtime.retrieval(),
        refresh_metrics=metrics_port is not None,
    )
    exporter = None
    if metrics_port is not None:
        host = runtime.settings.metrics_host
        exporter, _ = start_http_server(metrics_port, addr=host, registry=metrics.REGISTRY)
        stderr.print(f"metrics on http://{host}:{metrics_port}/metrics", highlight=False)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    stderr.print(
        f"worker {worker.name} serving "
        + ", ".join(f"{lane} ({slots} at once)" for lane, (_, slots) in worker.lanes.items())
        + "; SIGTERM or Ctrl-C stops it",
        highlight=False,
    )
    try:
        await worker.run()
    finally:
        await llm.close()
        if exporter is not None:
            exporter.shutdown()
    stderr.print(f"worker {worker.name} stopped", highlight=False)


def worker(
    settings: Settings,
    *,
    concurrency: int | None,
    queues: Sequence[str] | None,
    metrics_port: int | None = None,
) -> None:
    tracing.configure(settings, "jeex-worker")
    try:
        with Runtime(settings, need_llm=True) as runtime:
            queues = list(queues or DEFAULT_QUEUES)
            asyncio.run(_serve(runtime, concurrency, queues, metrics_port))
    except AppError as exc:
        fail(exc.message, exc.exit_code)
