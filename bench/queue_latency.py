"""Enqueue → start latency and jobs/s of our queue stack, against bare procrastinate.

Why: every run and every later job goes through ``jeex.queue``; what it adds on top of
procrastinate (enqueue on the caller's SQLAlchemy session inside a savepoint, our worker
wrapper, its sweeper) must stay small. Both sides run a no-op task in this process, on the
same fresh database, one after the other:

- ours: ``jeex.queue.app.defer`` in a committed SQLAlchemy transaction, served by
  ``QueueWorker``;
- bare: ``Task.defer_async`` on procrastinate's own pool, served by ``App.run_worker_async``.

Latency is measured one job at a time (enqueue, wait for it to start); throughput with N jobs
queued at once. Goal: ratio ours/bare ≤ 1.2; p50 ≤ 25 ms, p99 ≤ 100 ms.

Run ``python bench/queue_latency.py [--jobs 200] [--database-url postgresql://…]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from procrastinate import App, PsycopgConnector

from jeex.config import Settings
from jeex.db.bootstrap import prepare
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls, libpq_dsn, to_sqlalchemy_url
from jeex.llm.client import LLMClient
from jeex.queue import app as queue
from jeex.worker import QueueWorker

started: dict[str, float] = {}
arrived = asyncio.Event()


@queue.app.task(name="bench.noop", queue="bench")
async def ours_noop(key: str) -> None:
    started[key] = time.perf_counter()
    arrived.set()


bare_app = App(connector=PsycopgConnector())


@bare_app.task(name="bench.bare_noop", queue="bare")
async def bare_noop(key: str) -> None:
    started[key] = time.perf_counter()
    arrived.set()


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    jobs_per_second: float


async def _measure(defer: Callable[[str], Awaitable[None]], jobs: int) -> Result:
    latencies = []
    for _ in range(jobs):
        key = uuid.uuid4().hex
        arrived.clear()
        sent = time.perf_counter()
        await defer(key)
        while key not in started:
            await arrived.wait()
            arrived.clear()
        latencies.append((started[key] - sent) * 1000)
    keys = [uuid.uuid4().hex for _ in range(jobs)]
    begin = time.perf_counter()
    for key in keys:
        await defer(key)
    while not all(key in started for key in keys):
        await asyncio.sleep(0.005)
    elapsed = max(started[k] for k in keys) - begin
    latencies.sort()
    return Result(
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        jobs_per_second=jobs / elapsed,
    )


async def _ours(urls: DatabaseUrls, settings: Settings, jobs: int) -> Result:
    llm = LLMClient(settings, base_url="http://127.0.0.1:9/v1")  # never called
    worker = QueueWorker(settings, app_url=urls.app, llm=llm, queues=["bench"])
    serving = asyncio.create_task(worker.run())
    db = Database(urls.app)

    async def defer(key: str) -> None:
        async with db.global_session() as session:
            await queue.defer(session, "bench.noop", lock=key, args={"key": key})

    try:
        await asyncio.sleep(1.0)  # the worker is listening
        return await _measure(defer, jobs)
    finally:
        worker.stop()
        await asyncio.gather(serving, return_exceptions=True)
        await db.dispose()
        await llm.close()


async def _bare(urls: DatabaseUrls, jobs: int) -> Result:
    connector = PsycopgConnector(conninfo=libpq_dsn(urls.app), min_size=1, max_size=5)
    with bare_app.replace_connector(connector):
        async with bare_app.open_async():
            serving = asyncio.create_task(
                bare_app.run_worker_async(
                    queues=["bare"], install_signal_handlers=False, fetch_job_polling_interval=1
                )
            )

            async def defer(key: str) -> None:
                await bare_noop.configure(lock=key, queueing_lock=key).defer_async(key=key)

            try:
                await asyncio.sleep(1.0)
                return await _measure(defer, jobs)
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)


def _fresh_database(server: str) -> tuple[DatabaseUrls, Settings, Callable[[], None]]:
    url = to_sqlalchemy_url(server)
    name = f"jeex_bench_{secrets.token_hex(3)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    owner = url.set(database=name)
    urls = DatabaseUrls.derive(owner, app_user="jeex_app", app_password="")
    settings = Settings(
        database_url=owner.render_as_string(hide_password=False), queue_poll_seconds=1.0
    )
    prepare(urls, settings)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()

    return urls, settings, drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "JEEX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"
        ),
    )
    args = parser.parse_args()
    urls, settings, drop = _fresh_database(args.database_url)
    try:
        bare = await _bare(urls, args.jobs)
        ours = await _ours(urls, settings, args.jobs)
    finally:
        drop()
    print(f"{'':<24}{'ours':>10}{'bare':>10}{'ratio':>8}")
    for label, a, b in (
        ("enqueue→start p50 ms", ours.p50_ms, bare.p50_ms),
        ("enqueue→start p99 ms", ours.p99_ms, bare.p99_ms),
    ):
        print(f"{label:<24}{a:>10.1f}{b:>10.1f}{a / b:>8.2f}")
    ratio = bare.jobs_per_second / ours.jobs_per_second
    print(
        f"{'jobs/s (N queued)':<24}{ours.jobs_per_second:>10.0f}"
        f"{bare.jobs_per_second:>10.0f}{ratio:>8.2f}  (ratio = bare/ours time)"
    )


if __name__ == "__main__":
    asyncio.run(main())
