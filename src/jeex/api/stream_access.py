"""Whether the caller of an open event stream may still read it.

A stream is authenticated when it opens, but it may stay open for hours: a key revoked,
a token that expires, a user who signs out (their token version moves on) or loses the
membership, a project deleted, must each end it. Every ``JEEX_API_SSE_AUTH_RECHECK_SECONDS``
the stream asks ``access_ended``; the answer is shared for that long by every stream of
the same credential and project in this process, so a thousand browser tabs on one project
cost one query per interval, not a thousand. The stream then ends with an ``auth.revoked``
frame that says why (the browser's ``EventSource`` would otherwise reconnect and get a 401
without a reason).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass

import structlog
from sse_starlette import ServerSentEvent

from jeex.api.state import ApiState
from jeex.auth import credentials as auth_credentials
from jeex.auth.service import AuthPrincipal
from jeex.errors import Forbidden, Unauthorized
from jeex.projects import service as projects_service

log = structlog.get_logger(__name__)

REVOKED = "auth.revoked"
#: Checks kept at most (a process with more open credentials checks them one by one).
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class StreamCaller:
    """Who opened the stream, and the bearer and tenant choice to check again later."""

    principal: AuthPrincipal
    bearer: str
    tenant: uuid.UUID | None


_checks: dict[tuple[str, uuid.UUID | None, uuid.UUID], tuple[float, asyncio.Task[str | None]]] = {}


async def _check(state: ApiState, caller: StreamCaller, project_id: uuid.UUID) -> str | None:
    try:
        credentials = auth_credentials.parse(
            state.settings, state.signing_key, caller.bearer, caller.tenant
        )  # an expired token fails here
        async with state.db.tenant_session(credentials.tenant_id) as session:
            await credentials.principal(session)
            if await projects_service.get(session, project_id=project_id) is None:
                return "the project was deleted"
    except (Unauthorized, Forbidden) as exc:
        return exc.message
    except Exception as exc:  # the database is away: nobody can revoke anything either
        log.info("stream access not checked", error=type(exc).__name__)
    return None


async def access_ended(state: ApiState, caller: StreamCaller, project_id: uuid.UUID) -> str | None:
    """Why the caller may no longer read the project's stream, or None while it may."""
    key = (caller.bearer, caller.tenant, project_id)
    now = time.monotonic()
    cached = _checks.get(key)
    if cached is None or now - cached[0] >= state.settings.api_sse_auth_recheck_seconds:
        if len(_checks) >= _CACHE_SIZE:
            _checks.pop(next(iter(_checks)))
        cached = (now, asyncio.ensure_future(_check(state, caller, project_id)))
        _checks[key] = cached
    return await asyncio.shield(cached[1])


async def watch(state: ApiState, caller: StreamCaller, project_id: uuid.UUID) -> str:
    """Returns (why) once the caller's access has ended; runs beside the stream."""
    every = state.settings.api_sse_auth_recheck_seconds
    while True:
        await asyncio.sleep(every)
        reason = await access_ended(state, caller, project_id)
        if reason is not None:
            return reason


def revoked_frame(reason: str, *, named: bool) -> bytes:
    """The stream's last frame: the type and the reason, like an event's JSON."""
    payload = {"type": REVOKED, "data": {"detail": reason}}
    return ServerSentEvent(data=json.dumps(payload), event=REVOKED if named else None).encode()
