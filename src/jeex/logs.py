"""Structured logs (structlog) on stderr: stdout belongs to a command's output and ``--json``."""

from __future__ import annotations

import logging
import sys
import traceback

import structlog
from opentelemetry import trace

from jeex.config import Settings
from jeex.secret_sources import redact


class _CurrentStderr:
    """``sys.stderr`` as it is when a line is written, not when logging was configured:
    a command run inside another program (a test runner, a notebook) that swaps the
    stream must not keep writing to the one it had replaced."""

    def write(self, text: str) -> int:
        # Also the queue library's records and their tracebacks: no secret gets through.
        return sys.stderr.write(redact(text))

    def flush(self) -> None:
        sys.stderr.flush()


class _OneLine(logging.Formatter):
    """The queue library's records as one line each: a failed run is reported by us,
    with its reason; its traceback is for DEBUG."""

    def format(self, record: logging.LogRecord) -> str:
        return f"[{record.levelname.lower():<8}] {record.name}: {record.getMessage()}"


def _configure_stdlib(level: int) -> None:
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s")
        if level <= logging.DEBUG
        else _OneLine()
    )
    queue_logger = logging.getLogger("procrastinate")
    queue_logger.handlers[:] = [handler]
    queue_logger.setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
    queue_logger.propagate = False


def _traced(
    logger: object, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The traceback as text (JSON lines carry it too) and the trace id inside a trace.
    Secrets are masked where every line passes, in ``_CurrentStderr``."""
    exc_info = event.pop("exc_info", None)
    if exc_info:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if error is not None:
            event["exception"] = "".join(traceback.format_exception(error))
    span = trace.get_current_span().get_span_context()
    if span.is_valid:  # inside a traced request or job: the line meets its trace
        event.setdefault("trace_id", f"{span.trace_id:032x}")
    return event


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping()[settings.log_level]
    _configure_stdlib(level)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _traced,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
