"""Independent units of one run (epics), shared with other workers through claims."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import Settings
from jeex.engine import claims
from jeex.engine.scope import RunScope
from jeex.errors import WorkerStopping
from jeex.runs import service as runs_service

CLAIM_POLL_SECONDS = 0.5


@dataclass
class RunUnits:
    """``jeex.agents.context.Units`` for one run."""

    scope: RunScope
    settings: Settings
    stopping: Callable[[], bool] = field(default=lambda: False)
    #: Queues helper jobs that share this run's independent units (set by a queue worker).
    helpers: Callable[[AsyncSession, int], Awaitable[int]] | None = None

    def claim(self, unit: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Hold one independent unit of this run (an epic) while writing it."""
        return claims.try_claim(self.scope.db.engine, self.scope.run_id, unit)

    async def wait_for_claim(self) -> None:
        """Between tries for a unit another process holds: pause, cancel and drain apply."""
        async with self.scope.session() as session:
            await runs_service.check_desired_state(session, run_id=self.scope.run_id)
        if self.stopping():
            raise WorkerStopping("worker stopping while waiting for another worker's unit")
        await asyncio.sleep(CLAIM_POLL_SECONDS)

    async def request_helpers(self, units: int) -> None:
        """Ask other workers to share ``units`` independent units (no-op outside a queue)."""
        wanted = min(units, self.settings.queue_fanout_jobs)
        if self.helpers is None or wanted <= 0:
            return
        async with self.scope.session() as session:
            await self.helpers(session, wanted)
