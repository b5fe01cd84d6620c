"""Pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer event streams).

``RequestContext``: ``X-Request-ID`` in and out, ``X-Process-Time``, the ``RateLimit-*``
headers of the tightest limit the request counted against, one JSON log line
per request with the ids the handlers bound (tenant, project, run correlation).
``BodyLimit``: a body over the limit is refused with 413 after at most ``limit`` bytes
were read (a declared ``Content-Length`` over it is refused before reading anything),
so an oversize upload never sits in memory (SECURITY.md P16). Upload routes (exhibits)
are not buffered: their body streams to the handler under a larger limit, counted as it
arrives.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jeex import metrics
from jeex.errors import AppError

log = structlog.get_logger("jeex.api")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["X-Process-Time"] = f"{time.perf_counter() - started:.4f}"
                # The tightest rate limit this request counted against (api/ratelimits.py).
                window = scope.get("state", {}).get("ratelimit")
                if window is not None and "ratelimit-limit" not in headers:
                    for name, value in window.headers().items():
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            # The route *template* the router matched (bounded), never the raw path.
            route = _route_template(scope)
            metrics.HTTP_SECONDS.labels(scope["method"], route, str(status[0])).observe(
                time.perf_counter() - started
            )
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status[0],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        upload_paths: re.Pattern[str] | None = None,
        upload_max_bytes: int = 0,
        upload_refusal: Callable[[Scope], Awaitable[AppError | None]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths
        self.upload_max_bytes = upload_max_bytes
        #: Asked before an upload's body is read (``jeex.api.upload_gate.refusal``).
        self.upload_refusal = upload_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if self.upload_paths is not None and self.upload_paths.match(scope["path"]):
            if declared.isdigit() and int(declared) > self.upload_max_bytes:
                await self._refuse(send, self.upload_max_bytes)
                return
            refused = await self.upload_refusal(scope) if self.upload_refusal else None
            if refused is not None:
                await self._refuse_before_body(send, refused)
                return
            await self.app(scope, self._counted(receive), send)
            return
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _counted(self, receive: Receive) -> Receive:
        """Pass the body through, refusing it once it outgrows the upload limit."""
        seen = 0
        limit = self.upload_max_bytes

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI passes an HTTPException raised while reading the form through
                    # to the error handlers (anything else would become a 400).
                    raise HTTPException(413, f"The upload is larger than {limit} bytes.")
            return message

        return counted

    async def _refuse_before_body(self, send: Send, error: AppError) -> None:
        """The uniform error body, and the connection closed: the body is never read."""
        payload = json.dumps({"error": error.name, "detail": error.message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
        ]
        if error.status_code == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _refuse(self, send: Send, limit: int | None = None) -> None:
        detail = f"The request body is larger than {limit or self.max_bytes} bytes."
        payload = json.dumps({"error": "PayloadTooLarge", "detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _route_template(scope: Scope) -> str:
    """The matched route as a template (``/api/v1/projects/{project_id}``), from the path
    and the parameters the router took out of it; "unmatched" when no route matched."""
    path: str = scope["path"]
    if path.startswith("/static/"):
        return "/static"  # one series for every file, and for every name that is none
    if "endpoint" not in scope:
        return "unmatched"
    segments = path.split("/")
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        for index, segment in enumerate(segments):
            if segment == text:
                segments[index] = f"{{{name}}}"
                break
    return "/".join(segments)
