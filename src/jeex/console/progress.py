"""The live terminal display of a ``jeex plan`` run (rich), fed by the run observer.

One bar per step; the description names the step and the section being written;
columns show tokens per second (over the last few seconds), elapsed time and ETA.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from jeex import kinds
from jeex.engine.observer import PROGRESS_TOTAL
from jeex.runs.models import Run
from jeex.vocabulary import EventType


class TokensPerSecondColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("tps")
        return Text(f"{rate:5.1f} tok/s" if rate else "      tok/s", style="cyan")


class PlanProgress:
    """A `RunObserver` that draws progress bars; ``with`` starts and stops the display."""

    def __init__(self, runs: Sequence[Run], *, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}", table_column=None),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TokensPerSecondColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[uuid.UUID, TaskID] = {}
        self.labels: dict[uuid.UUID, str] = {}
        self.tokens: deque[tuple[float, int]] = deque()
        for run in runs:
            kind = kinds.get(run.kind)
            self.labels[run.id] = (
                f"Step {run.step} · {kind.title}" if run.step is not None else kind.title
            )
            self.tasks[run.id] = self.progress.add_task(
                self.labels[run.id],
                total=kind.expected_sections(),
                start=False,
                tps=0.0,
            )

    def __enter__(self) -> PlanProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _label(self, run_id: uuid.UUID, section: str = "") -> str:
        return self.labels[run_id] + (f" · {section}" if section else "")

    def event(self, run_id: uuid.UUID, type: str, data: dict[str, Any]) -> None:
        task = self.tasks.get(run_id)
        if task is None:
            return
        if type in {EventType.RUN_STARTED, EventType.RUN_RESUMED}:
            self.progress.start_task(task)
        elif type == EventType.SECTION_STARTED:
            self.progress.update(task, description=self._label(run_id, str(data.get("title"))))
        elif type == EventType.SECTION_COMPLETED:
            self.progress.advance(task)
        elif type == PROGRESS_TOTAL:
            self.progress.update(task, total=int(data["sections"]))
        elif type == EventType.RUN_COMPLETED:
            done = self.progress.tasks[task].completed
            self.progress.update(task, total=done, description=self._label(run_id, "done"))
        elif type in {EventType.RUN_FAILED, EventType.RUN_CANCELLED, EventType.RUN_PAUSED}:
            self.progress.update(task, description=self._label(run_id, type.split(".")[1]))

    def delta(self, run_id: uuid.UUID, key: str, text: str) -> None:
        now = time.monotonic()
        self.tokens.append((now, 1))
        while self.tokens and now - self.tokens[0][0] > 5.0:
            self.tokens.popleft()
        span = max(now - self.tokens[0][0], 0.5)
        task = self.tasks.get(run_id)
        if task is not None:
            self.progress.update(task, tps=sum(n for _, n in self.tokens) / span)
