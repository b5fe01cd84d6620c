"""The blueprints a worker registers are the jobs the code defers, on the same queues."""

from __future__ import annotations

from procrastinate import App

from jeex.queue.app import JOBS, LEGACY_NAMES
from jeex.tasks import registry


def _registered() -> App:
    app = registry.register()
    registry.register()  # a second worker start in one process changes nothing
    return app


def test_every_deferred_job_has_a_task_on_its_queue() -> None:
    app = _registered()
    assert {name: app.tasks[name].queue for name in JOBS} == JOBS
    # And no blueprint holds a task the code never defers.
    ours = {
        task.name for task in app.tasks.values() if task.name.split(":")[0] in registry.BLUEPRINTS
    }
    assert ours == set(JOBS)


def test_jobs_queued_under_the_old_names_still_find_their_task() -> None:
    app = _registered()
    for name, legacy in LEGACY_NAMES.items():
        assert app.tasks[legacy] is app.tasks[name]
