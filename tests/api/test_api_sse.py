"""Server-Sent Events against real ``jeex serve`` processes on loopback.

Events are appended by the test through the real event service (a committed
transaction each, exactly what a worker does), so what is tested is the stream:
replay after ``Last-Event-ID``, the live follow through LISTEN, fan-out, two API
processes on one database, heartbeats, and the errors a stream can answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import sqlalchemy as sa

from jeex.auth import service as auth_service
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.events import service as events_service
from jeex.events.hub import EventHub
from jeex.events.stream import StreamOverflow, project_events
from support.api import PASSWORD, PROJECT, SECRET
from support.fakellm import ScriptedLLM
from support.servers import Server, collect, frames, server_env, start_server

# One worker for the module: its two API processes are started once, not once per worker.
pytestmark = pytest.mark.xdist_group("sse-servers")


@pytest.fixture(scope="module")
def env(
    database_urls: DatabaseUrls, fake_llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return server_env(
        {
            "JEEX_DATABASE_URL": database_urls.owner.render_as_string(hide_password=False),
            "JEEX_LLM_BASE_URL": fake_llm.base_url,
            "JEEX_DATA_DIR": str(tmp_path_factory.mktemp("serve") / "data"),
            "JEEX_AUTH_SECRET_KEY": SECRET,
            "JEEX_API_SSE_HEARTBEAT_SECONDS": "1",
        }
    )


@pytest.fixture(scope="module")
def servers(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Two API processes on one database, shared by this module's tests (each test has its
    own tenant and project)."""
    logs = tmp_path_factory.mktemp("serve-logs")
    started = [start_server(env, logs) for _ in range(2)]
    yield started
    for server in started:
        server.proc.terminate()
    for server in started:
        try:
            server.proc.wait(timeout=20)
        except Exception:
            server.proc.kill()


class Tenant:
    def __init__(self, tenant_id: uuid.UUID, headers: dict[str, str], project_id: str) -> None:
        self.tenant_id, self.headers, self.project_id = tenant_id, headers, project_id


@pytest.fixture
async def tenant(db: Database, servers: list[Server]) -> Tenant:
    slug = f"sse-{uuid.uuid4().hex[:10]}"
    email = f"{slug}@example.test"
    user = await auth_service.create_user(db, email=email, password=PASSWORD, tenant_slug=slug)
    async with httpx.AsyncClient(base_url=servers[0].url) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        project = await client.post("/api/v1/projects", json=PROJECT, headers=headers)
    return Tenant(user.tenant_id, headers, project.json()["id"])


async def append(db: Database, tenant: Tenant, count: int, *, start: int = 0) -> None:
    for i in range(count):
        async with db.tenant_session(tenant.tenant_id) as session:
            await events_service.append(
                session,
                project_id=uuid.UUID(tenant.project_id),
                type="section.delta",
                data={"i": start + i},
            )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=30)) as client:
        yield client


async def test_replay_after_a_disconnect_loses_and_duplicates_nothing(
    db: Database, servers: list[Server], tenant: Tenant, http: httpx.AsyncClient
) -> None:
    url = f"{servers[0].url}/api/v1/projects/{tenant.project_id}/events"
    await append(db, tenant, 5)
    seen: list[int] = []
    async with http.stream("GET", url, headers=tenant.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen += [f.id for f in await collect(response, 3)]  # type: ignore[misc]
    await append(db, tenant, 5, start=5)  # while nobody is connected

    producer = asyncio.create_task(append(db, tenant, 10, start=10))
    resume = {**tenant.headers, "Last-Event-ID": str(seen[-1])}
    async with http.stream("GET", url, headers=resume) as response:
        got = await collect(response, 17)
        seen += [f.id for f in got]  # type: ignore[misc]
    await producer
    assert seen == list(range(1, 21))
    assert [f.data["data"]["i"] for f in got] == list(range(3, 20))
    assert {f.event for f in got} == {"section.delta"}


async def test_two_api_processes_see_the_same_events(
    db: Database, servers: list[Server], tenant: Tenant, http: httpx.AsyncClient
) -> None:
    path = f"/api/v1/projects/{tenant.project_id}/events"
    async with (
        http.stream("GET", servers[0].url + path, headers=tenant.headers) as first,
        http.stream("GET", servers[1].url + path, headers=tenant.headers) as second,
    ):
        readers = [asyncio.create_task(collect(r, 12)) for r in (first, second)]
        await asyncio.sleep(0.5)  # both subscribed: what follows arrives live
        await append(db, tenant, 12)
        results = await asyncio.gather(*readers)
    for got in results:
        assert [f.id for f in got] == list(range(1, 13))


async def test_one_listen_connection_per_process_whatever_the_streams(
    db: Database, servers: list[Server], tenant: Tenant, owner_engine: sa.Engine
) -> None:
    path = f"/api/v1/projects/{tenant.project_id}/progress/stream"
    async with httpx.AsyncClient(timeout=30) as client:
        streams = [
            client.stream("GET", servers[0].url + path, headers=tenant.headers) for _ in range(8)
        ]
        responses = [await s.__aenter__() for s in streams]
        try:
            assert all(r.status_code == 200 for r in responses)
            with owner_engine.connect() as conn:
                listeners = conn.execute(
                    sa.text(
                        "select count(*) from pg_stat_activity "
                        "where datname = current_database() and query like 'LISTEN jeex_events%'"
                    )
                ).scalar_one()
            assert listeners == len(servers)  # one per API process, not one per stream
        finally:
            for s in streams:
                await s.__aexit__(None, None, None)


async def test_progress_stream_leaves_out_deltas_and_heartbeats_when_idle(
    db: Database, servers: list[Server], tenant: Tenant, http: httpx.AsyncClient
) -> None:
    await append(db, tenant, 2)
    async with db.tenant_session(tenant.tenant_id) as session:
        await events_service.append(
            session, project_id=uuid.UUID(tenant.project_id), type="run.started", data={}
        )
    url = f"{servers[0].url}/api/v1/projects/{tenant.project_id}/progress/stream"
    async with http.stream("GET", url, headers=tenant.headers) as response:
        stream = frames(response)
        first = await asyncio.wait_for(anext(stream), 10)
        while first.id is None:  # a heartbeat may come first
            first = await asyncio.wait_for(anext(stream), 10)
        assert (first.id, first.event) == (3, "run.started")
        idle = await asyncio.wait_for(anext(stream), 5)
        assert idle.id is None
        assert idle.comments


async def test_stream_errors_are_uniform_and_eventsource_can_authenticate(
    servers: list[Server], tenant: Tenant, http: httpx.AsyncClient
) -> None:
    url = f"{servers[0].url}/api/v1/projects/{tenant.project_id}/events"
    bad = await http.get(url, headers={**tenant.headers, "Last-Event-ID": "abc"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "InvalidInput"
    assert (await http.get(url + "?last_event_id=-1", headers=tenant.headers)).status_code == 422
    assert (await http.get(url)).status_code == 401
    other = f"{servers[0].url}/api/v1/projects/{uuid.uuid4()}/events"
    assert (await http.get(other, headers=tenant.headers)).json()["error"] == "NotFound"
    token = tenant.headers["Authorization"].removeprefix("Bearer ")
    async with http.stream("GET", f"{url}?access_token={token}&last_event_id=0") as response:
        assert response.status_code == 200


async def test_a_slow_subscriber_overflows_alone(
    db: Database, database_urls: DatabaseUrls, tenant: Tenant
) -> None:
    """The hub never waits for a subscriber: a full buffer ends that stream only."""
    hub = EventHub(db, database_urls.app, buffer=3)
    await hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), 10)
        project_id = uuid.UUID(tenant.project_id)
        fast = project_events(db, hub, tenant_id=tenant.tenant_id, project_id=project_id)
        received: list[int] = []

        async def follow() -> None:
            async for event in fast:
                received.append(event.seq)
                if len(received) == 10:
                    return

        follower = asyncio.create_task(follow())
        with hub.subscribe(tenant.tenant_id, project_id) as slow:
            await asyncio.sleep(0.3)
            await append(db, tenant, 10)
            await asyncio.wait_for(follower, 10)
            assert slow.overflowed
        assert received == list(range(1, 11))

        stalled = project_events(db, hub, tenant_id=tenant.tenant_id, project_id=project_id)
        assert (await anext(stalled)).seq == 1
        await append(db, tenant, 5, start=10)
        await asyncio.sleep(0.5)

        async def drain() -> None:
            for _ in range(20):
                await anext(stalled)

        with pytest.raises(StreamOverflow):
            await drain()
    finally:
        await hub.stop()
