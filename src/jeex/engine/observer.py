"""What a live display (the CLI's progress bars, later the SSE stream) is told while a run works.

The durable record is the ``events`` table; an observer is the in-process fast
path that also sees every token, which the event log batches.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

#: Told only to observers, never stored: a run now knows how many sections it writes.
PROGRESS_TOTAL = "progress.total"


class RunObserver(Protocol):
    def event(self, run_id: uuid.UUID, type: str, data: dict[str, Any]) -> None: ...

    def delta(self, run_id: uuid.UUID, key: str, text: str) -> None: ...


class NullObserver:
    """Observes nothing: for workers with nobody watching."""

    def event(self, run_id: uuid.UUID, type: str, data: dict[str, Any]) -> None:
        return None

    def delta(self, run_id: uuid.UUID, key: str, text: str) -> None:
        return None
