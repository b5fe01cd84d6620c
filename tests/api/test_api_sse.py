"""Server-Sent Events (and what only a socket shows) against real ``jeex serve`` processes.

Events are appended by the test through the real event service (a committed
transaction each, exactly what a worker does), so what is tested is the stream:
replay after ``Last-Event-ID``, the live follow through LISTEN, fan-out, two API
processes on one database, heartbeats, and the errors a stream can answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import jwt
import pytest
import sqlalchemy as sa

from jeex.auth import service as auth_service
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.events import service as events_service
from jeex.events.hub import EventHub
from jeex.events.stream import StreamOverflow, project_events
from support.api import PASSWORD, PROJECT, SECRET, create_project, make_caller, make_member
from support.fakellm import ScriptedLLM
from support.servers import Frame, Server, collect, frames, server_env, start_server

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
    # Beyond a bigint: refused before the stream opens (it used to die on its first read).
    for huge in ("?last_event_id=100000000000000000000", "?last_event_id=1e20"):
        beyond = await http.get(url + huge, headers=tenant.headers)
        assert beyond.status_code == 422, beyond.text
        assert "last_event_id" in beyond.json()["detail"]
    beyond = await http.get(url, headers={**tenant.headers, "Last-Event-ID": str(2**63)})
    assert beyond.status_code == 422
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


async def _ended_by_revocation(response: httpx.Response) -> tuple[Frame, float]:
    """Read until the ``auth.revoked`` frame; also checks the stream ends right after it."""
    started = asyncio.get_running_loop().time()
    last: Frame | None = None
    async for frame in frames(response):
        if frame.event is not None:
            last = frame
    assert last is not None
    return last, asyncio.get_running_loop().time() - started


async def _stream_ends_within_5s(
    servers: list[Server], http: httpx.AsyncClient, project_id: str, bearer: str,
    revoke: Callable[[], Awaitable[None]],
) -> str:  # fmt: skip
    """Open a stream with ``bearer``, ``revoke``, and see the stream end within 5 s with an
    ``auth.revoked`` frame; returns the reason it gives. A new stream is then a 401/403."""
    url = f"{servers[0].url}/api/v1/projects/{project_id}/events"
    headers = {"Authorization": f"Bearer {bearer}"}
    async with http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        await revoke()
        last, seconds = await asyncio.wait_for(_ended_by_revocation(response), 15)
    assert last.event == "auth.revoked"
    assert last.data["type"] == "auth.revoked"
    assert seconds <= 5.0, seconds
    again = await http.get(url, headers=headers)
    assert again.status_code in (401, 403), again.text
    return str(last.data["data"]["detail"])


async def test_a_stream_ends_when_its_api_key_is_revoked(
    db: Database, servers: list[Server], http: httpx.AsyncClient
) -> None:
    api = httpx.AsyncClient(base_url=servers[0].url)
    owner = await make_caller(db, api, "sse-key")
    project = await create_project(api, owner)
    made = await api.post("/api/v1/api-keys", json={"name": "tab"}, headers=owner.headers)
    assert made.status_code == 201, made.text

    async def revoke() -> None:
        gone = await api.delete(f"/api/v1/api-keys/{made.json()['id']}", headers=owner.headers)
        assert gone.status_code == 204

    reason = await _stream_ends_within_5s(servers, http, project["id"], made.json()["key"], revoke)
    assert "API key" in reason
    await api.aclose()


async def test_a_stream_ends_when_its_user_signs_out_or_loses_the_membership(
    db: Database, servers: list[Server], http: httpx.AsyncClient
) -> None:
    api = httpx.AsyncClient(base_url=servers[0].url)
    owner = await make_caller(db, api, "sse-out")
    project = await create_project(api, owner)

    async def sign_out() -> None:
        assert (await api.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204

    reason = await _stream_ends_within_5s(servers, http, project["id"], owner.token, sign_out)
    assert "revoked" in reason

    owner = await make_caller(db, api, "sse-member")
    project = await create_project(api, owner)
    member = await make_member(db, api, owner, "viewer")

    async def remove() -> None:
        removed = await api.delete(f"/api/v1/members/{member.user_id}", headers=owner.headers)
        assert removed.status_code == 204, removed.text

    reason = await _stream_ends_within_5s(servers, http, project["id"], member.token, remove)
    assert "membership" in reason
    await api.aclose()


async def test_a_stream_ends_when_its_token_expires(
    db: Database, servers: list[Server], http: httpx.AsyncClient
) -> None:
    """A token that expires 2 s after the stream opens (signed as the server signs them)."""
    api = httpx.AsyncClient(base_url=servers[0].url)
    owner = await make_caller(db, api, "sse-exp")
    project = await create_project(api, owner)
    claims = jwt.decode(owner.token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) + 2
    short = jwt.encode(claims, SECRET, algorithm="HS256")

    async def wait_for_expiry() -> None:
        return None

    reason = await _stream_ends_within_5s(servers, http, project["id"], short, wait_for_expiry)
    assert "expired" in reason
    await api.aclose()


def _headers_only(port: int, path: str, authorization: str | None) -> bytes:
    """Send an upload's headers (a 19 MiB body declared, none sent) and read the answer."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: multipart/form-data; boundary=xyz",
        f"Content-Length: {19 * 1024 * 1024}",
    ]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        conn.settimeout(1.5)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            pass  # nothing more: the server is waiting for a body
    return answer


async def test_an_upload_is_refused_from_its_headers_before_its_body(
    db: Database, servers: list[Server]
) -> None:
    """No token, a garbage one, or a viewer's: the answer comes without a byte of the body
    sent; a writer's upload is let through (the server then waits for the body)."""
    server = servers[0]
    async with httpx.AsyncClient(base_url=server.url) as client:
        owner = await make_caller(db, client, "gate")
        project = await create_project(client, owner)
        viewer = await make_member(db, client, owner, "viewer")
    path = f"/api/v1/projects/{project['id']}/exhibits"
    for authorization, status, name in (
        (None, 401, "Unauthorized"),
        ("Bearer garbage", 401, "Unauthorized"),
        (f"Bearer {viewer.token}", 403, "Forbidden"),
    ):
        answer = _headers_only(server.port, path, authorization)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status}".encode()), answer[:200]
        assert json.loads(body)["error"] == name
    assert _headers_only(server.port, path, f"Bearer {owner.token}") == b""
