"""Authenticate and authorise an upload from its headers, before its body is read.

FastAPI reads a multipart body in full before it solves a route's dependencies, so
without this an unauthenticated (or garbage-token) 20 MiB upload is received, parsed and
spooled to disk before its 401. ``BodyLimit`` calls ``refusal`` for the upload paths
first: a missing, forged, expired or revoked credential is a 401, a viewer a 403, and the
body is never read (uvicorn sends no ``100 Continue`` for a body nobody reads). The route
checks the same again with its own dependencies; this only moves the refusal earlier.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import Headers
from starlette.types import Scope

from jeex.api.state import ApiState
from jeex.auth import credentials as auth_credentials
from jeex.errors import AppError, Forbidden, InvalidInput
from jeex.tenants import roles


def _tenant(headers: Headers) -> uuid.UUID | None:
    value = headers.get("x-tenant-id")
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput("X-Tenant-ID: not a valid UUID") from None


async def refusal(scope: Scope) -> AppError | None:
    """Why this upload is refused before its body, or None to let it through."""
    state: ApiState = scope["app"].state.api
    headers = Headers(scope=scope)
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    try:
        credentials = auth_credentials.parse(
            state.settings,
            state.signing_key,
            bearer.strip() if scheme.lower() == "bearer" else None,
            _tenant(headers),
        )
        async with state.db.tenant_session(credentials.tenant_id) as session:
            principal = await credentials.principal(session)
        if principal.role not in roles.WRITERS:
            raise Forbidden("viewers can read but not change anything")
    except AppError as exc:
        return exc
    return None
