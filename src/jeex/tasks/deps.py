"""What a task is given from its worker process: one typed object, not string keys."""

from __future__ import annotations

from dataclasses import dataclass

from procrastinate import JobContext, RetryStrategy

from jeex.config import Settings
from jeex.db.session import Database
from jeex.engine.observer import RunObserver
from jeex.engine.runner import RunnerDeps
from jeex.errors import ServiceUnavailable, TryAgain
from jeex.retrieval.service import Retrieval

CONTEXT_KEY = "jeex"

#: Attempts of an export or exhibit job whose failures are transient (``TryAgain``): the
#: first, then two more after 2 s and 4 s. Any other failure is final at once.
JOB_ATTEMPTS = 3
TRY_AGAIN = RetryStrategy(
    max_attempts=JOB_ATTEMPTS - 1, exponential_wait=2, retry_exceptions={TryAgain}
)


def last_attempt(context: JobContext) -> bool:
    """This attempt is the job's last: a failure now is final, whatever it was."""
    return context.job.attempts + 1 >= JOB_ATTEMPTS


@dataclass(frozen=True)
class TaskDeps:
    """The worker's process-wide resources; a worker without a model runs no run task."""

    db: Database
    settings: Settings
    runner: RunnerDeps | None = None
    retrieval: Retrieval | None = None
    observer: RunObserver | None = None

    def runner_or_raise(self) -> RunnerDeps:
        if self.runner is None:
            raise ServiceUnavailable("this worker has no LLM client; it cannot execute runs")
        return self.runner

    def retrieval_or_raise(self) -> Retrieval:
        if self.retrieval is None:
            raise ServiceUnavailable("this worker has no vector store; it cannot index exhibits")
        return self.retrieval


def deps_of(context: JobContext) -> TaskDeps:
    """The dependencies the worker put in the job's context."""
    deps = context.additional_context[CONTEXT_KEY]
    if not isinstance(deps, TaskDeps):
        raise TypeError(f"the worker's context holds {type(deps).__name__}, not TaskDeps")
    return deps
