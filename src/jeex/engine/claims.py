"""Claims on units of a run, so several workers can share one run's independent work.

A claim is a PostgreSQL session-level advisory lock held on a connection of its own
for as long as the unit is being written. The database releases it when the
connection goes away, so a worker that dies (SIGKILL, lost network, database
restart) frees its units without any sweep, and another worker takes them over. A
unit's sections are checkpointed as usual, so whoever takes it over continues it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

_TRY = text("select pg_try_advisory_lock(hashtextextended(:key, 0))")
_RELEASE = text("select pg_advisory_unlock(hashtextextended(:key, 0))")


def claim_key(run_id: uuid.UUID, unit: str) -> str:
    return f"jeex-claim:{run_id}:{unit}"


@contextlib.asynccontextmanager
async def try_claim(engine: AsyncEngine, run_id: uuid.UUID, unit: str) -> AsyncIterator[bool]:
    """Yields True while this process holds the unit, False when another process does."""
    key = claim_key(run_id, unit)
    connection = await engine.connect()
    held = False
    try:
        held = bool((await connection.execute(_TRY, {"key": key})).scalar_one())
        await connection.commit()
        yield held
    finally:
        try:
            if held:
                await connection.execute(_RELEASE, {"key": key})
                await connection.commit()
            await connection.close()
        except Exception:
            # A pooled connection must never keep a lock: drop it rather than return it.
            log.warning("claim release failed; connection discarded", unit=unit)
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()
