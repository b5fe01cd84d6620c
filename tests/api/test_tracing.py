"""Traces: a real ``jeex serve`` exports OTLP/HTTP to a receiver on loopback; the request
that starts a step and the job that runs it share one trace, with SQL and LLM spans."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from support.api import PROJECT, SECRET, make_caller
from support.fakellm import ScriptedLLM
from support.servers import server_env, start_server


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    attributes: dict[str, str]


class Receiver:
    """An OTLP/HTTP trace receiver: decodes every export request into ``spans``."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                receiver.add(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    found.append(
                        Span(
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            attrs.get("service.name", ""),
                            {a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)


def _value(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    return str(getattr(value, kind)) if kind else ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


async def test_a_step_started_over_http_is_one_trace_down_to_its_llm_calls(
    receiver: Receiver,
    db: Database,
    database_urls: DatabaseUrls,
    llm_server: ScriptedLLM,
    tmp_path: Path,
    empty_queue: None,
) -> None:
    env = server_env(
        {
            "JEEX_DATABASE_URL": database_urls.owner.render_as_string(hide_password=False),
            "JEEX_LLM_BASE_URL": llm_server.base_url,
            "JEEX_EMBEDDINGS_BASE_URL": llm_server.base_url,
            "JEEX_DATA_DIR": str(tmp_path / "data"),
            "JEEX_AUTH_SECRET_KEY": SECRET,
        },
        JEEX_OTLP_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="200",
    )
    server = start_server(env, tmp_path, "--workers", "1")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            caller = await make_caller(db, client, "trace")
            created = await client.post("/api/v1/projects", json=PROJECT, headers=caller.headers)
            project_id = created.json()["id"]
            started = await client.post(
                f"/api/v1/projects/{project_id}/step1", json={}, headers=caller.headers
            )
            assert started.status_code == 202, started.text
            run_id = started.json()["id"]
            deadline = time.monotonic() + 120
            while True:
                run = (await client.get(f"/api/v1/runs/{run_id}", headers=caller.headers)).json()
                if run["status"] == "completed" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert run["status"] == "completed", run
            # The export of the last spans is batched: wait for the job's own span.
            while time.monotonic() < deadline:
                if any(s.name == "runs:execute" for s in receiver.snapshot()):
                    break
                await asyncio.sleep(0.2)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)

    spans = receiver.snapshot()
    request = next(s for s in spans if s.name == "POST /api/v1/projects/{project_id}/step1")
    job = next(s for s in spans if s.name == "runs:execute")
    assert job.trace_id == request.trace_id  # the job continues the request's trace
    assert job.attributes["jeex.run_id"] == run_id
    in_trace = [s for s in spans if s.trace_id == request.trace_id]
    names = {s.name for s in in_trace}
    assert {"llm stream", "llm json"} <= names
    assert any(s.parent_id == job.span_id for s in in_trace)  # the job's own children
    sql = [s for s in in_trace if "db.system" in s.attributes or "db.statement" in s.attributes]
    assert sql, "no SQL span in the request's trace"
    assert {s.service for s in in_trace} == {"jeex-api"}
    # Health checks and metrics scrapes are not traced.
    assert not [s for s in spans if s.name.endswith(("/ready", "/health", "/metrics"))]
    # The log lines of the traced request carry its trace id.
    log_text = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert request.trace_id in log_text
    assert str(uuid.UUID(project_id)) in log_text
