"""Registering every domain's blueprint on the App: what a worker does before it serves.

The namespaces make the task names of ``jeex.queue.app`` (``runs:execute`` …); the
legacy aliases let jobs queued by an earlier version, under the old names, still run.
"""

from __future__ import annotations

from procrastinate import App, Blueprint

from jeex.queue.app import LEGACY_NAMES
from jeex.queue.app import app as queue_app
from jeex.tasks import exhibits, exports, projects, runs

BLUEPRINTS: dict[str, Blueprint] = {
    "runs": runs.blueprint,
    "exports": exports.blueprint,
    "exhibits": exhibits.blueprint,
    "projects": projects.blueprint,
}


def register(app: App = queue_app) -> App:
    """Add every blueprint's tasks to ``app`` once (a second call is a no-op).

    procrastinate renames a blueprint's tasks when it adds them, so the blueprints
    belong to the one App of the process (``jeex.queue.app.app``).
    """
    for namespace, blueprint in BLUEPRINTS.items():
        if all(task.blueprint is app for task in blueprint.tasks.values()):
            continue
        app.add_tasks_from(blueprint, namespace=namespace)
    for name, legacy in LEGACY_NAMES.items():
        if legacy not in app.tasks:
            app.add_task_alias(app.tasks[name], legacy)
    return app
