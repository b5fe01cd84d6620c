"""OpenTelemetry traces: requests, SQL, LLM calls and queue jobs, one trace per request.

Off unless ``JEEX_OTLP_ENDPOINT`` is set (then spans go to ``<endpoint>/v1/traces`` over
OTLP/HTTP). The request that queues a run writes its trace context into the job's
arguments (``traceparent``), and the job's span continues that trace, so a run started
from the API shows up under the request that started it, on whichever worker ran it.
Log lines carry the trace id (``jeex.logs``) so a trace and its logs meet.

The global tracer provider is set once per process (OpenTelemetry allows no second);
``enabled()`` says whether one that records was installed, by ``configure`` or by a test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from jeex import __version__
from jeex.config import Settings

TRACER_NAME = "jeex"
CARRIER_KEY = "traceparent"


def configure(settings: Settings, service: str) -> None:
    """Install an OTLP exporter when ``JEEX_OTLP_ENDPOINT`` is set (once per process)."""
    if settings.otlp_endpoint is None or enabled():
        return
    # Not a cycle: the exporter (and its protobuf stack) loads only when traces are on.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": service, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)


def enabled() -> bool:
    """True when spans are recorded (a real tracer provider is installed)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME, __version__)


def instrument_engine(engine: AsyncEngine) -> None:
    """Spans for every statement of this engine (no-op while tracing is off)."""
    if not enabled():
        return
    # Not a cycle: the instrumentation loads only when traces are on. Per engine, with
    # the instrumentation's own EngineTracer: its instrumentor instruments one engine per
    # process, and a process here opens several (API, worker, event listener).
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter(TRACER_NAME).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer(), engine.sync_engine, usage)  # type: ignore[no-untyped-call]


def carrier() -> dict[str, str]:
    """The current trace context as job arguments (empty without an active span)."""
    found: dict[str, str] = {}
    propagate.inject(found)
    return {CARRIER_KEY: found[CARRIER_KEY]} if CARRIER_KEY in found else {}


@contextmanager
def job_span(name: str, traceparent: str | None, **attributes: Any) -> Iterator[Span]:
    """A queue job's span, continuing the trace of whoever queued it."""
    parent = propagate.extract({CARRIER_KEY: traceparent} if traceparent else {})
    token = context.attach(parent)
    try:
        with span(name, trace.SpanKind.CONSUMER, **attributes) as current:
            yield current
    finally:
        context.detach(token)


@contextmanager
def span(name: str, kind: trace.SpanKind, **attributes: Any) -> Iterator[Span]:
    """A span whose failure names the exception's type only: its message (and a chained
    cause's) may quote a secret, such as an endpoint's "incorrect API key: …"."""
    with tracer().start_as_current_span(
        name,
        kind=kind,
        attributes=_clean(attributes),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as error:
            current.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}
