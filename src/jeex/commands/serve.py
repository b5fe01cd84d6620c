"""``jeex serve``: the HTTP API (and, by default, one in-process queue worker) on uvicorn."""

from __future__ import annotations

import signal

import uvicorn

from jeex.auth.secret import signing_key
from jeex.cli_support import fail, stderr
from jeex.config import Settings
from jeex.db.bootstrap import resolve_urls, verify_schema
from jeex.errors import AppError
from jeex.logs import configure_logging
from jeex.main import create_app


def serve(settings: Settings, *, host: str, port: int, workers: int, log_level: str) -> None:
    # Request logs are the point of a server's logs: JSON lines on stderr, INFO by default.
    configure_logging(settings.model_copy(update={"log_json": True, "log_level": log_level}))
    # What would stop the app's start-up, checked before uvicorn: one line, not a traceback.
    try:
        signing_key(settings)
        if not settings.embedded_database:
            verify_schema(resolve_urls(settings).app)
    except AppError as exc:
        fail(exc.message, exc.exit_code)
    app = create_app(settings, workers=workers)
    shape = f"{workers} in-process worker(s)" if workers else "API only"
    stderr.print(f"jeex serve on http://{host}:{port}/api/v1 ({shape})", highlight=False)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level=log_level.lower(),
        lifespan="on",
        # The C event loop and HTTP parser: measured side by side, about 1 ms less per
        # request on every route (docs/benchmarks.md, "The document preview").
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=int(settings.queue_shutdown_seconds) + 5,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action the process would die there and skip the exit handlers that stop the
    # embedded PostgreSQL. As exceptions, both signals end the process the normal way.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.Server(config).run()
    except AppError as exc:
        fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _exit_on_signal(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # SIGTERM is the normal way to stop a service, like `jeex worker`
