"""Domain errors: each carries the HTTP status it maps to and a readable message.

Services raise these; the CLI prints them as one line and the HTTP layer renders
them as ``{"error": name, "detail": message}``. The docstring is the default message.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Something went wrong."""

    status_code = 500
    exit_code = 1

    def __init__(
        self, message: str | None = None, *, headers: dict[str, str] | None = None
    ) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        #: HTTP headers the response carries (``Retry-After`` on a 429).
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def extra(self) -> dict[str, Any]:
        """Further fields of the JSON error body, beside ``error`` and ``detail``."""
        return {}


class InvalidInput(AppError):
    """The input is not valid."""

    status_code = 422
    exit_code = 2


class InvalidTemplate(InvalidInput):
    """The template is not valid."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        #: Each ``{"line": int | None, "field": str, "message": str}``, in line order.
        self.problems = problems
        listed = "; ".join(_problem_text(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"The template is not valid: {listed}{more}")

    @property
    def extra(self) -> dict[str, Any]:
        return {"problems": self.problems}


def _problem_text(problem: dict[str, Any]) -> str:
    where = f"line {problem['line']}" if problem.get("line") else ""
    field = problem.get("field") or ""
    place = ", ".join(part for part in (where, field) if part)
    return f"{place}: {problem['message']}" if place else str(problem["message"])


class NotFound(AppError):
    """The requested object does not exist."""

    status_code = 404
    exit_code = 2


class Unauthorized(AppError):
    """Missing, expired or invalid credentials."""

    status_code = 401
    exit_code = 2


class Forbidden(AppError):
    """The caller may not do this."""

    status_code = 403
    exit_code = 2


class Conflict(AppError):
    """The request conflicts with the current state."""

    status_code = 409
    exit_code = 2


class PayloadTooLarge(AppError):
    """The request body or uploaded file is larger than its limit."""

    status_code = 413
    exit_code = 2


class UnsupportedMediaType(AppError):
    """The file's content is not a supported type."""

    status_code = 415
    exit_code = 2


class EmptyUpload(InvalidInput):
    """The file is empty."""


class DuplicateExhibit(Conflict):
    """This file is already an exhibit of the project."""


class ExtractionFailed(AppError):
    """The text of the file could not be extracted."""

    status_code = 422
    exit_code = 1

    def __init__(self, message: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message)
        #: The extraction child timed out or was killed by a signal: a second try may
        #: succeed. A refusal of the file itself (damaged, zip bomb, out of memory) is not.
        self.transient = transient


class ExtractionTimedOut(ExtractionFailed):
    """Text extraction took longer than its time limit."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(f"text extraction took longer than {timeout_seconds:g} s", transient=True)
        self.timeout_seconds = timeout_seconds


class ServiceUnavailable(AppError):
    """A part this request needs is not available in this process."""

    status_code = 503
    exit_code = 1


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached with the configured URL."""


class SchemaMismatch(ServiceUnavailable):
    """The database's schema is not the one this code was written for: migrate first."""

    exit_code = 1


class VectorStoreBusy(AppError):
    """The local vector store is held by another process."""

    status_code = 503
    exit_code = 1


class EmbeddingsUnavailable(AppError):
    """The embeddings endpoint could not be reached or kept failing after retries."""

    status_code = 503
    exit_code = 1


class InvalidTransition(Conflict):
    """The run cannot make that state change."""


class Gone(AppError):
    """The requested object existed but is no longer available."""

    status_code = 410
    exit_code = 2


class UnknownExportFormat(InvalidInput):
    """That export format is not supported."""


class NothingToExport(Conflict):
    """The project has no documents to export yet."""


class ExportNotReady(Conflict):
    """The export is not ready yet."""


class ExportExpired(Gone):
    """The export has expired; request a new one."""


class LLMUnavailable(AppError):
    """The language model could not be reached or kept failing after retries."""

    status_code = 503
    exit_code = 1


class GenerationFailed(AppError):
    """The model's output could not be turned into a valid document."""

    status_code = 502
    exit_code = 1


class RunCancelled(AppError):
    """The run was cancelled."""

    status_code = 409
    exit_code = 130


class RunPaused(AppError):
    """The run was paused."""

    status_code = 409
    exit_code = 0


class DatabaseUnsafe(AppError):
    """The application database role could bypass row-level security."""

    status_code = 500
    exit_code = 1


class TryAgain(Exception):  # noqa: N818 - a signal, not a failure
    """A job failed for a reason that a second try may not meet (a child process killed,
    a timeout, a connection lost): its queue task retries it with back-off. The job's
    row (export, exhibit) stays unfinished, with the reason, until the last attempt."""


class WorkerStopping(Exception):  # noqa: N818 - a signal, not a failure
    """The worker is shutting down: the run stops at a section boundary and is re-queued.

    Not an AppError on purpose: the run has not failed and must not be marked so.
    """


class YieldTurn(WorkerStopping):
    """Another tenant's run waits for a slot this tenant holds more of: the run is
    re-queued at its section boundary (``jeex.queue.fairness``)."""


class RateLimited(AppError):
    """Too many requests."""

    status_code = 429
    exit_code = 1


class QuotaExceeded(AppError):
    """The tenant's quota does not allow this."""

    status_code = 429
    exit_code = 1
