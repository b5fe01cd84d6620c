"""Which run a piece of engine work belongs to, and how it writes to that run's log."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.session import Database
from jeex.engine.observer import NullObserver, RunObserver
from jeex.events import service as events_service
from jeex.retrieval.store import Scope
from jeex.vocabulary import EventType


@dataclass(frozen=True)
class RunScope:
    """The run's ids, its tenant's sessions and its observer: what every part shares."""

    db: Database
    tenant_id: uuid.UUID
    run_id: uuid.UUID
    project_id: uuid.UUID
    observer: RunObserver = field(default_factory=NullObserver)
    #: Who is writing, recorded on ``section.started`` so operators see which worker did.
    worker: str = ""

    @property
    def vectors(self) -> Scope:
        return Scope(self.tenant_id, self.project_id)

    def session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.db.tenant_session(self.tenant_id)

    async def emit(self, session: AsyncSession, type: EventType, data: dict[str, Any]) -> None:
        """Append a run event in the session's transaction and tell the observer."""
        await events_service.append(
            session, project_id=self.project_id, run_id=self.run_id, type=type, data=data
        )
        self.observer.event(self.run_id, type, data)

    async def delta(self, session: AsyncSession, key: str, text: str) -> None:
        """Append streamed text of a section (the observer saw it token by token)."""
        await events_service.append(
            session,
            project_id=self.project_id,
            run_id=self.run_id,
            type=EventType.SECTION_DELTA,
            data={"key": key, "text": text},
        )
