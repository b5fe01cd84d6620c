"""HTTP API latency under a fixed request rate, and SSE fan-out delay to many subscribers.

Why: the API must stay quick while runs stream, and a committed event must reach every
browser watching the project within a blink. Measured on real ``jeex serve --workers 0``
processes on loopback, a fresh database, and this process as the client:

1. ``GET /projects``, ``GET /projects/{id}/progress`` and ``GET /documents/{id}/preview``
   (a petition with five written sections, three exhibits and 60 events) at a fixed rate
   (open loop: a request is sent every 1/rate s whether or not the previous one answered)
   against one API process; p50/p95/p99. Goals: p95 <= 50 ms (CRUD), <= 10 ms (progress
   snapshot, document preview). The latencies are taken with a minimal HTTP/1.1 client
   (``LeanClient``), so that the client's own work is not counted as the server's;
   ``GET /health`` and the preview are also timed through httpx, side by side, to show
   what a heavier client adds. The preview's one query is also timed alone, in this
   process, so the database's share of the request is visible.
2. SSE fan-out: S subscribers of one project, split over two API processes; the bench
   commits events one at a time and records, per subscriber and event, the time from the
   commit returning to the frame arriving. Goals: p50 <= 50 ms, p99 <= 250 ms.

The client shares the machine (2 cores here) with both servers and PostgreSQL: at 1,000
subscribers, parsing 1,000 streams in one Python process is part of what is measured.

Run ``python bench/api_load.py [--quick]`` with ``JEEX_BENCH_DATABASE_URL`` (or
``JEEX_TEST_DATABASE_URL``) naming a PostgreSQL server; paste the table into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa

from jeex.auth import service as auth_service
from jeex.config import Settings
from jeex.db.bootstrap import prepare
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls, to_sqlalchemy_url
from jeex.events import service as events_service
from jeex.monitor import preview as preview_service
from jeex.runs import service as runs_service
from jeex.vocabulary import EventType

SECRET = "bench-secret-key-that-is-long-enough-for-hs256"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _row(name: str, values: list[float], goal: str) -> str:
    p50 = statistics.median(values)
    p95, p99 = _percentile(values, 0.95), _percentile(values, 0.99)
    return f"| {name} | {len(values)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {goal} |"


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[DatabaseUrls]:
    url = to_sqlalchemy_url(server)
    name = f"jeex_bench_{secrets.token_hex(3)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    owner = url.set(database=name)
    urls = DatabaseUrls.derive(owner, app_user="jeex_app", app_password="")
    prepare(urls, Settings(database_url=owner.render_as_string(hide_password=False)))
    try:
        yield urls
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def servers(urls: DatabaseUrls, count: int, data_dir: Path) -> Iterator[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEEX_")}
    env.update(
        JEEX_DATABASE_URL=urls.owner.render_as_string(hide_password=False),
        JEEX_LLM_BASE_URL="http://127.0.0.1:9/v1",
        JEEX_DATA_DIR=str(data_dir),
        JEEX_AUTH_SECRET_KEY=SECRET,
        JEEX_API_SSE_BUFFER_EVENTS="10000",
        # Latency is measured here, not the limits (tests/api/test_rate_limits.py): 50
        # requests a second for a minute are above every default limit.
        JEEX_RATE_LIMIT_IP="1000000/minute",
        JEEX_RATE_LIMIT_USER="1000000/hour",
        JEEX_RATE_LIMIT_PROJECT="1000000/hour",
    )
    procs, bases = [], []
    for _ in range(count):
        port = _free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jeex",
                    "serve",
                    "--workers",
                    "0",
                    "--port",
                    str(port),
                    "--log-level",
                    "WARNING",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    # The LLM endpoint is a closed port on purpose (nothing is generated
                    # here): ready means everything else answers.
                    checks = httpx.get(f"{base}/ready", timeout=5).json()
                    if all(v == "ok" for k, v in checks.items() if k not in ("llm", "status")):
                        break
                time.sleep(0.2)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


class LeanClient:
    """A minimal keep-alive HTTP/1.1 ``GET`` client on asyncio streams: a load generator.

    Why not httpx for the latency figures: the client shares the 2 cores with the server
    and PostgreSQL, and httpx's own work per request (about 1.5 ms here, measured as
    ``GET /health`` through both clients side by side) is counted in every latency it
    reports. This one parses a status line and ``Content-Length`` and nothing else, so
    what it times is the server's. Both clients' figures are printed."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> int:
        """The response's status; its body is read and dropped."""
        if self.idle:
            try:
                return await self._get(self.idle.pop(), path)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # the server closed an idle connection (keep-alive timeout)
        return await self._get(await asyncio.open_connection(self.host, self.port), path)

    async def _get(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str) -> int:
        reader, writer = conn
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        self.idle.append(conn)
        return int(head[9:12])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _httpx_status(client: httpx.AsyncClient, path: str) -> int:
    return (await client.get(path)).status_code


async def open_loop(
    get: Callable[[str], Awaitable[int]], path: str, rate: float, seconds: float
) -> list[float]:
    """Send one request every 1/rate s for ``seconds``; latencies in ms."""
    latencies: list[float] = []
    print(f"measuring GET {path} for {seconds:g} s", file=sys.stderr, flush=True)

    async def one() -> None:
        start = time.perf_counter()
        status = await get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        latencies.append((time.perf_counter() - start) * 1000)

    tasks = []
    begin = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


def server_shares(metrics: str, route: str) -> tuple[int, float, float]:
    """From the server's own request histogram (``/metrics``): how many requests of
    ``route`` it answered, and the shares answered within 5 and 10 ms, measured inside the
    server (no client, no loopback)."""
    buckets: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("jeex_http_request_duration_seconds_bucket{") and (
            f'route="{route}"' in line and 'method="GET"' in line
        ):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[le] = buckets.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    total = buckets.get("+Inf", 0.0)
    if not total:
        return 0, 0.0, 0.0
    return int(total), buckets.get("0.005", 0.0) / total, buckets.get("0.01", 0.0) / total


async def fan_out(
    db: Database, bases: list[str], key: str, tenant_id: uuid.UUID, project_id: str,
    subscribers: int, events: int,
) -> list[float]:  # fmt: skip
    """Delays (ms) from each event's commit to its arrival at each subscriber."""
    committed: dict[int, float] = {}
    arrivals: list[tuple[int, float]] = []
    ready = 0
    all_ready = asyncio.Event()
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None), limits=limits) as client:

        async def subscribe(base: str) -> None:
            nonlocal ready
            url = f"{base}/api/v1/projects/{project_id}/events"
            async with client.stream("GET", url, headers=headers) as response:
                ready += 1
                if ready == subscribers:
                    all_ready.set()
                seen = 0
                async for line in response.aiter_lines():
                    if line.startswith("id:"):
                        arrivals.append((int(line[3:]), time.perf_counter()))
                        seen += 1
                        if seen == events:
                            return

        tasks = [asyncio.create_task(subscribe(bases[i % len(bases)])) for i in range(subscribers)]
        await asyncio.wait_for(all_ready.wait(), 120)
        await asyncio.sleep(1.0)  # every stream has passed its replay and waits on the hub
        for _ in range(events):
            async with db.tenant_session(tenant_id) as session:
                event = await events_service.append(
                    session, project_id=uuid.UUID(project_id), type=EventType.SECTION_DELTA,
                    data={"text": "x" * 80},
                )  # fmt: skip
            committed[event.seq] = time.perf_counter()
            await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return [(arrived - committed[seq]) * 1000 for seq, arrived in arrivals]


async def _petition(
    c: httpx.AsyncClient, db: Database, urls: DatabaseUrls, tenant_id: uuid.UUID
) -> str:
    """A petition as the monitor polls it mid-way: five sections written, three exhibits,
    60 events."""
    body = {
        "kind": "petition",
        "title": "EB-1A petition for Dr. Ana Ruiz",
        "inputs": {"beneficiary": "Dr. Ana Ruiz", "field": "computational biology"},
    }
    started = (await c.post("/api/v1/documents", json=body)).json()
    document_id, run_id = uuid.UUID(started["id"]), uuid.UUID(started["run_id"])
    paragraph = "Dr. Ana Ruiz received the Lindqvist Prize for her work [1.1.A §1]. " * 12
    async with db.tenant_session(tenant_id) as session:
        for position, key in enumerate(
            ("introduction", "beneficiary_background", "criterion_awards",
             "criterion_memberships", "criterion_articles")
        ):  # fmt: skip
            await runs_service.upsert_section(
                session, run_id=run_id, key=key, position=position, title=key,
                status="completed", content=f"{paragraph}\n\n{paragraph}", tokens_out=300,
            )  # fmt: skip
        for index in range(60):
            await events_service.append(
                session, project_id=document_id, run_id=run_id, type=EventType.SECTION_COMPLETED,
                data={"key": "introduction", "words": 120, "i": index},
            )  # fmt: skip
    engine = sa.create_engine(urls.owner, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for label in ("1.1.A", "1.2.B", "2.6-C"):
            conn.execute(
                sa.text(
                    "insert into exhibits (tenant_id, id, project_id, label, filename, media_type,"
                    " size, sha256, path, status) values (:t, :i, :p, :l, :f, 'text/markdown',"
                    " 100, :h, 'x', 'ready')"
                ),
                {"t": tenant_id, "i": uuid.uuid4(), "p": document_id, "l": label,
                 "f": f"{label}.md", "h": secrets.token_hex(32)},
            )  # fmt: skip
    engine.dispose()
    return str(document_id)


async def _preview_query(db: Database, tenant_id: uuid.UUID, document_id: uuid.UUID) -> list[float]:
    """The preview's one query (and its arithmetic), 300 times in a row, in milliseconds."""
    times = []
    async with db.tenant_session(tenant_id) as session:
        for _ in range(300):
            clock = time.perf_counter()
            await preview_service.preview(session, project_id=document_id, download_base="")
            times.append((time.perf_counter() - clock) * 1000)
    return times


async def main(args: argparse.Namespace) -> None:
    server = os.environ.get("JEEX_BENCH_DATABASE_URL") or os.environ.get("JEEX_TEST_DATABASE_URL")
    if not server:
        sys.exit("set JEEX_BENCH_DATABASE_URL to a PostgreSQL server")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = []
    with fresh_database(server) as urls, tempfile.TemporaryDirectory() as tmp:
        db = Database(urls.app)
        key, _ = await auth_service.create_api_key(db, tenant_slug="bench", email="b@x.test")
        with servers(urls, 2, Path(tmp)) as bases:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=bases[0], headers=headers, timeout=30) as c:
                body = {"name": "Bench", "idea_description": "A shared grocery list app"}
                projects = [(await c.post("/api/v1/projects", json=body)).json() for _ in range(25)]
                project_id = projects[0]["id"]
                (await c.post(f"/api/v1/projects/{project_id}/step1")).raise_for_status()
                tenant_id = uuid.UUID((await c.get("/api/v1/auth/me")).json()["tenant_id"])
                document_id = await _petition(c, db, urls, tenant_id)
                preview_path = f"/api/v1/documents/{document_id}/preview"
                lean = LeanClient(bases[0], headers)

                async def via_httpx(path: str) -> int:
                    return await _httpx_status(c, path)

                paths = {
                    "crud": "/api/v1/projects",
                    "progress": f"/api/v1/projects/{project_id}/progress",
                    "preview": preview_path,
                    # The same snapshot of the petition: five sections with their text.
                    "progress_written": f"/api/v1/projects/{document_id}/progress",
                    "health": "/health",
                }
                for path in paths.values():
                    await open_loop(lean.get, path, args.rate, 1.0)  # warm-up
                    await open_loop(via_httpx, path, args.rate, 1.0)
                measured = {
                    name: await open_loop(lean.get, path, args.rate, args.seconds)
                    for name, path in paths.items()
                }
                measured["health_httpx"] = await open_loop(
                    via_httpx, "/health", args.rate, args.seconds
                )
                measured["preview_httpx"] = await open_loop(
                    via_httpx, preview_path, args.rate, args.seconds
                )
                lean.close()
                metrics = (await c.get("/metrics")).text
            query = await _preview_query(db, tenant_id, uuid.UUID(document_id))
            rate = f"{args.rate:g}/s"
            rows += [
                _row(f"GET /health @ {rate} (httpx)", measured["health_httpx"], "—"),
                _row(f"GET /health @ {rate}", measured["health"], "—"),
                _row(f"GET /projects @ {rate}", measured["crud"], "p95 <= 50 ms"),
                _row(f"GET /progress @ {rate}", measured["progress"], "p95 <= 10 ms"),
                _row(
                    f"GET /progress (5 written sections) @ {rate}",
                    measured["progress_written"],
                    "p95 <= 10 ms",
                ),
                _row(
                    f"GET /documents/{{id}}/preview @ {rate} (httpx)",
                    measured["preview_httpx"],
                    "—",
                ),
                _row(
                    f"GET /documents/{{id}}/preview @ {rate}", measured["preview"], "p95 <= 10 ms"
                ),
            ]
            rows.append(_row("preview query alone (in process, sequential)", query, "—"))
            for route in (
                "/api/v1/projects",
                "/api/v1/projects/{project_id}/progress",
                "/api/v1/documents/{doc_id}/preview",
            ):
                count, within5, within10 = server_shares(metrics, route)
                print(
                    f"server-side {route}: {count} requests, {within5:.1%} within 5 ms, "
                    f"{within10:.1%} within 10 ms (p95 <= 10 ms when >= 95 %)"
                )
            for index, count in enumerate(args.subscribers, start=1):
                fresh = projects[index]["id"]  # no events yet: every arrival is a new one
                delays = await fan_out(db, bases, key, tenant_id, fresh, count, args.events)
                rows.append(
                    _row(f"SSE fan-out, {count} subscribers, 2 processes", delays,
                         "p50 <= 50 ms, p99 <= 250 ms")
                )  # fmt: skip
        await db.dispose()
    print(f"\n{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    print("\n| measurement | samples | p50 ms | p95 ms | p99 ms | goal |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=20, help="events per fan-out run")
    parser.add_argument(
        "--subscribers", type=int, nargs="*", default=[100, 1000], help="none: no fan-out"
    )
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.seconds, arguments.events, arguments.subscribers = 2.0, 5, [20]
    asyncio.run(main(arguments))
