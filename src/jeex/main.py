"""The HTTP API: ``create_app()`` wires settings, lifespan, middleware, routers, errors.

The lifespan owns what the process runs: the database (embedded or not, migrated),
the LLM (embedded llama.cpp supervisor, only when this process executes runs), the
event hub (one LISTEN connection) and the in-process queue worker (``workers`` jobs
at once; 0 serves the API only). Shutdown drains the worker first, so a run stops at
a section boundary and is re-queued rather than lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware

from jeex import __version__, metrics, tracing
from jeex.api import (
    apikeys,
    audit,
    document_monitor,
    errors,
    health,
    invitations,
    kinds,
    members,
    oidc,
    templates,
    tenants,
    upload_gate,
    usage,
)
from jeex.api.auth import router as auth_router
from jeex.api.deps import limit_ip
from jeex.api.documents import router as documents_router
from jeex.api.events import router as events_router
from jeex.api.exhibits import router as exhibits_router
from jeex.api.exports import router as exports_router
from jeex.api.middleware import BodyLimit, RequestContext
from jeex.api.projects import router as projects_router
from jeex.api.runs import router as runs_router
from jeex.api.security_headers import SecurityHeaders
from jeex.api.state import ApiState
from jeex.auth.secret import signing_key
from jeex.config import Settings, get_settings
from jeex.events.hub import EventHub
from jeex.runtime import Runtime
from jeex.web import pages
from jeex.worker import QueueWorker

API_PREFIX = "/api/v1"
UPLOAD_PATHS = re.compile(rf"^{API_PREFIX}/(?:projects|documents)/[^/]+/exhibits/?$")


@contextlib.asynccontextmanager
async def _queue_worker(runtime: Runtime, workers: int) -> AsyncIterator[QueueWorker | None]:
    if workers == 0:
        yield None
        return
    assert runtime.urls is not None
    llm = runtime.llm_client()
    worker = QueueWorker(
        runtime.settings,
        app_url=runtime.urls.app,
        llm=llm,
        concurrency=workers,
        retrieval=runtime.retrieval(),
    )
    task = asyncio.create_task(worker.run(), name="jeex-queue-worker")
    try:
        yield worker
    finally:
        worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await llm.close()


def _lifespan(
    settings: Settings, workers: int
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        key = signing_key(settings)
        runtime = Runtime(settings, need_llm=workers > 0)
        await asyncio.to_thread(runtime.__enter__)
        try:
            assert runtime.urls is not None
            db = runtime.database()
            hub = EventHub(db, runtime.urls.app, buffer=settings.api_sse_buffer_events)
            await hub.start()
            llm_url = runtime.llm_base_url if workers > 0 or settings.llm_base_url else None
            app.state.api = ApiState(settings, db, hub, key, llm_url, runtime.retrieval())
            gauges = asyncio.create_task(metrics.refresh_forever(db), name="jeex-metrics")
            try:
                async with _queue_worker(runtime, workers) as worker:
                    app.state.api.worker = worker
                    yield
            finally:
                gauges.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gauges
                await hub.stop()
                await db.dispose()
        finally:
            await asyncio.to_thread(runtime.__exit__, None, None, None)

    return lifespan


def _metrics() -> Response:
    """Prometheus text format; meant for the scraper on the internal network (docs/deploy.md)."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def create_app(settings: Settings | None = None, *, workers: int = 0) -> FastAPI:
    """The ASGI app; ``workers`` > 0 also executes queued runs in this process."""
    settings = settings or get_settings()
    tracing.configure(settings, "jeex-api")
    app = FastAPI(
        title="JEEX Plan API",
        version=__version__,
        description="Turn a product idea into a reviewed documentation package.",
        lifespan=_lifespan(settings, workers),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    errors.install(app)
    api = APIRouter(
        prefix=API_PREFIX, dependencies=[Depends(limit_ip)], responses=errors.responses(429)
    )
    for router in (
        auth_router,
        oidc.router,
        projects_router,
        runs_router,
        events_router,
        documents_router,
        exports_router,
        exhibits_router,
        document_monitor.router,
        kinds.router,
        templates.router,
        usage.router,
        apikeys.router,
        tenants.router,
        members.router,
        invitations.router,
        audit.router,
    ):
        api.include_router(router)
    app.include_router(api)
    # Probes (load balancers, kubelets) are not clients: no rate limit on them.
    app.include_router(health.router, prefix=API_PREFIX)
    app.add_api_route("/health", health.health, include_in_schema=False)
    app.add_api_route("/ready", health.ready, include_in_schema=False)
    app.add_api_route("/metrics", _metrics, include_in_schema=False)
    pages.mount(app)
    if tracing.enabled():
        # Not a cycle: the instrumentation loads only when traces are on.
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="/health,/ready,/metrics,/static")
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        upload_paths=UPLOAD_PATHS,
        # Room for the multipart framing around the file; the file itself is held to
        # JEEX_EXHIBITS_MAX_BYTES exactly while it is written (exhibits.files).
        upload_max_bytes=settings.exhibits_max_bytes + 64 * 1024,
        upload_refusal=upload_gate.refusal,
    )
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Last-Event-ID",
                "X-Request-ID",
                "X-Tenant-ID",
            ],
            expose_headers=[
                "X-Request-ID",
                "X-Process-Time",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
    app.add_middleware(SecurityHeaders, exempt=frozenset({f"{API_PREFIX}/docs"}))
    app.add_middleware(RequestContext)
    return app
