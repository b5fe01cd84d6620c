"""Riding out a database restart: retry a short transaction on a lost connection.

A restart (or fail-over) drops every open connection; the pool's pre-ping replaces
them once the server answers again. Writes that are idempotent (a section's
checkpoint, its start) are retried for a bounded time instead of failing the run;
anything else fails as usual and the job-level retry takes over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

T = TypeVar("T")
log = structlog.get_logger(__name__)
#: How long a transaction is retried in place; ``JEEX_DATABASE_RIDE_OUT_SECONDS`` sets it
#: for the process (``configure``). A longer outage is the run's to wait out as a whole.
RIDE_OUT_SECONDS = 30.0


def configure(seconds: float) -> None:
    """Set the process's ride-out time (once, from the settings, at start-up)."""
    global RIDE_OUT_SECONDS
    RIDE_OUT_SECONDS = seconds


def is_connection_lost(exc: BaseException) -> bool:
    """True for the errors a restarting (or unreachable) server causes, not for a failed
    statement: a dropped or refused connection, or no pooled connection in time."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    )


async def ride_out_restart(work: Callable[[], Awaitable[T]], *, seconds: float | None = None) -> T:
    """Run ``work`` (one whole transaction) again while the connection keeps being lost."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_connection_lost),
        stop=stop_after_delay(RIDE_OUT_SECONDS if seconds is None else seconds),
        wait=wait_exponential(multiplier=0.2, max=3.0),
        before_sleep=lambda state: log.warning(
            "database connection lost; retrying", attempt=state.attempt_number
        ),
        reraise=True,
    ):
        with attempt:
            return await work()
    raise AssertionError("unreachable: tenacity reraises the last error")
