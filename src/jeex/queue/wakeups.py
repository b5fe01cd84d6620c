"""A procrastinate worker that never sleeps through a new job's notification.

procrastinate 3.10's worker clears its "new job" event after every fetch. A job whose
NOTIFY arrives while a fetch is in flight (committed just after the fetch's snapshot)
is therefore forgotten, and waits for the next poll (``JEEX_QUEUE_POLL_SECONDS``): about
one job in fifty when jobs arrive one after another (``bench/queue_latency.py``). Here a
notification that arrives during a fetch-and-process pass sets the event again when the
pass ends, which costs at most one extra (empty) fetch per such notification.

It relies on three private members of the pinned procrastinate release
(``_handle_notification``, ``_fetch_and_process_jobs``, ``_new_job_event``);
``tests/queue/test_wakeups.py`` fails if a release changes them.
"""

from __future__ import annotations

from typing import Any

from procrastinate import App
from procrastinate import worker as procrastinate_worker


class PromptWorker(procrastinate_worker.Worker):
    """Counts job notifications so a pass can tell whether one arrived while it ran."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inserted_notifications = 0

    async def _handle_notification(self, *, channel: str, notification: Any) -> None:
        if notification.get("type") == "job_inserted":
            self.inserted_notifications += 1
        await super()._handle_notification(channel=channel, notification=notification)

    async def _fetch_and_process_jobs(self) -> None:
        seen = self.inserted_notifications
        await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
        if self.inserted_notifications != seen and not self._stop_event.is_set():
            self._new_job_event.set()


async def run_prompt_worker(app: App, **options: Any) -> None:
    """``App.run_worker_async`` with ``PromptWorker`` in place of procrastinate's worker."""
    app.perform_import_paths()  # type: ignore[no-untyped-call]
    worker = PromptWorker(app=app, **{**app.worker_defaults, **options})
    await worker.run()  # type: ignore[no-untyped-call]
