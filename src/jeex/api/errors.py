"""One error shape for every failure: ``{"error": "<Name>", "detail": "<sentence>"}``.

Domain errors carry their status; FastAPI's validation errors (malformed JSON, wrong
types, unknown fields, bad ids or pagination) become 422 ``InvalidInput``; Starlette's
own (unknown route, wrong method) keep their status. Anything unexpected is a 500 with
a generic sentence: database messages (which can name another tenant's keys) never
reach a client (SECURITY.md P6).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from qdrant_client.http.exceptions import ResponseHandlingException
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from jeex.audit import service as audit
from jeex.errors import AppError, QuotaExceeded
from jeex.secret_sources import redact
from jeex.vocabulary import AuditAction

log = structlog.get_logger("jeex.api")

STATUS_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidInput",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
DESCRIPTIONS = {
    401: "Missing, expired, forged or revoked credentials.",
    403: "X-Tenant-ID names a tenant the caller is not in, or a viewer tried to change something.",
    404: "No such object in the caller's tenant (another tenant's objects are 404 too).",
    409: "The object's state does not allow this.",
    410: "The object existed but is gone (an expired export, a used or expired invitation).",
    413: "The body is larger than JEEX_API_MAX_BODY_BYTES (uploads: JEEX_EXHIBITS_MAX_BYTES).",
    415: "The uploaded file's content is not a supported type (or not what its name says).",
    422: "Malformed JSON, wrong types, unknown fields or invalid parameters.",
    429: "A rate limit (RateLimited) or a tenant quota (QuotaExceeded) refused the request; "
    "Retry-After says when to try again.",
    503: "A dependency (database, queue, LLM) is not reachable.",
}


class ErrorOut(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": "NotFound", "detail": "The requested object does not exist."}]
        }
    )

    error: str
    detail: str


class ProblemOut(BaseModel):
    """One problem of an uploaded template: where it is and what is wrong."""

    line: int | None = Field(description="1-based line in the YAML; null when unknown.")
    field: str = Field(description="Dotted path of the field, e.g. sections[1].target_words.")
    message: str


class TemplateErrorOut(ErrorOut):
    """An invalid template: every problem found, in line order."""

    problems: list[ProblemOut] = Field(default_factory=list)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {s: {"model": ErrorOut, "description": DESCRIPTIONS.get(s, "")} for s in statuses}


def error_response(
    status: int,
    name: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    # A library may quote a secret in its message (an LLM's "incorrect API key: …").
    body = {**(extra or {}), "error": name, "detail": redact(detail)}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The request is not valid."
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "The body is not valid JSON."
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if isinstance(exc, QuotaExceeded):
        await _audit_refusal(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    if exc.status_code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return error_response(
        exc.status_code, exc.name, exc.message, {**headers, **exc.headers}, exc.extra
    )


async def _audit_refusal(request: Request, exc: QuotaExceeded) -> None:
    """A quota refusal goes to the tenant's security log; the request's own transaction
    rolled back with the refusal, so it is written apart."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    state = request.app.state.api
    actor = audit.Actor(principal.user_id, principal.email, state.limiter.client_address(request))
    await audit.record_apart(
        state.db,
        tenant_id=principal.tenant_id,
        action=AuditAction.QUOTA_REFUSED,
        actor=actor,
        target=f"{request.method} {request.url.path}",
        detail={"reason": exc.message},
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "InvalidInput", _validation_detail(exc))


async def _model_error(_request: Request, exc: Exception) -> JSONResponse:
    """A model built inside a service from request data: still the caller's input."""
    assert isinstance(exc, ValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return error_response(422, "InvalidInput", f"{where}: {message}" if where else message)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL refused a value the schema let through (a NUL character, a number out
    of range): the caller's input, so a 422; the database's message is not passed on."""
    log.info("database refused a value", error=type(getattr(exc, "orig", exc)).__name__)
    return error_response(
        422, "InvalidInput", "A value is not valid text or is out of range (NUL characters?)."
    )


#: What FastAPI's generic "There was an error parsing the body" (a 400) was caused by, said
#: as the caller's input problem it is.
_BODY_PROBLEMS: tuple[tuple[type[BaseException], str], ...] = (
    (UnicodeDecodeError, "The body is not valid UTF-8."),
    (RecursionError, "The body is nested too deeply."),
)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    for cause, detail in _BODY_PROBLEMS:
        if exc.status_code == 400 and isinstance(exc.__cause__, cause):
            return error_response(422, "InvalidInput", detail)
    name = STATUS_NAMES.get(exc.status_code, "HTTPError")
    detail = exc.detail if isinstance(exc.detail, str) else name
    return error_response(exc.status_code, name, detail, dict(exc.headers or {}) or None)


#: How long a client should wait before retrying a request whose dependency was down.
RETRY_AFTER_SECONDS = 5
#: What a request meets when the database cannot be reached: a refused or dropped
#: connection, a pool that cannot hand one out in time, a server shutting down.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout, psycopg.OperationalError)


def _unreachable(what: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler for ``what`` being unreachable (or restarting): the caller's request was
    fine and may succeed in a moment, so a 503 with ``Retry-After``, never a 500. Nothing
    was written: the request's transaction did not commit."""

    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        if _lost_a_race(exc):
            return error_response(
                409,
                "Conflict",
                "Another change to the same data was made at the same moment; try again.",
                {"Retry-After": "1"},
            )
        log.warning(f"{what} unreachable", error=type(exc).__name__)
        return error_response(
            503,
            "ServiceUnavailable",
            f"The {what} is not reachable at the moment; try again shortly.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return handler


def _lost_a_race(exc: Exception) -> bool:
    """A deadlock or serialisation failure (SQLSTATE class 40): psycopg counts it as an
    OperationalError, but the database is up and the request only lost a race."""
    cause = getattr(exc, "orig", None) or exc
    sqlstate = getattr(cause, "sqlstate", None) or ""
    return isinstance(cause, psycopg.Error) and sqlstate.startswith("40")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", error=type(exc).__name__, exc_info=exc)
    return error_response(500, "InternalError", "Something went wrong on our side.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _model_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for down in DATABASE_DOWN:
        app.add_exception_handler(down, _unreachable("database"))
    # The Qdrant server did not answer (search and exhibit routes need it at once).
    app.add_exception_handler(ResponseHandlingException, _unreachable("vector store"))
    app.add_exception_handler(Exception, _unexpected)
