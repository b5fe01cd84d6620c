"""Server-Sent Events of a project: ``/events`` (everything) and ``/progress/stream``.

Events: every type of ``jeex.events.models.EVENT_TYPES``; ``/progress/stream`` leaves
out ``section.delta`` (the streamed text) for pages that only show states. Each frame
is ``id: <seq>``, ``event: <type>``, ``data: {"seq", "type", "run_id", "data",
"created_at"}``. A client that reconnects with ``Last-Event-ID`` (header, or the
``last_event_id`` query parameter) gets every event after it, then the live ones.
Idle streams carry a comment frame every ``JEEX_API_SSE_HEARTBEAT_SECONDS``.

``?format=message`` sends every frame unnamed (no ``event:`` line, the type inside the
JSON), so a page listening with ``EventSource.onmessage`` alone receives them all.

Browsers' ``EventSource`` cannot send headers, so these two routes also take the
bearer as ``?access_token=``. Authentication and the project check run in one short
transaction before the stream starts; no session stays open while streaming. They run
again every ``JEEX_API_SSE_AUTH_RECHECK_SECONDS`` while it is open, and a stream whose
caller may no longer read it ends with an ``auth.revoked`` frame.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse

from jeex.api import stream_access
from jeex.api.deps import ProjectId, StateDep, TenantHeader, oauth2
from jeex.api.errors import responses
from jeex.api.stream_access import StreamCaller
from jeex.auth import credentials as auth_credentials
from jeex.errors import NotFound
from jeex.events.frames import frame
from jeex.events.hub import STOP, Subscription
from jeex.events.stream import StreamOverflow, project_events
from jeex.projects import service as projects_service

router = APIRouter(prefix="/projects/{project_id}", tags=["events"])

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"example": "id: 7\nevent: run.started\ndata: {…}\n\n"}},
        "description": "An endless event stream (text/event-stream).",
    },
    **responses(401, 403, 404, 422),
}


async def stream_caller(
    state: StateDep,
    project_id: ProjectId,
    bearer: Annotated[str | None, Depends(oauth2)],
    tenant: TenantHeader = None,  # type: ignore[assignment]
    access_token: Annotated[
        str | None, Query(max_length=4_096, description="The bearer, for EventSource.")
    ] = None,
) -> StreamCaller:
    """Authenticate and check the project in a short transaction, then let it go; the
    stream checks the same again while it is open (``jeex.api.stream_access``)."""
    credentials = auth_credentials.parse(
        state.settings, state.signing_key, bearer or access_token, tenant
    )
    async with state.db.tenant_session(credentials.tenant_id) as session:
        principal = await credentials.principal(session)
        if await projects_service.get(session, project_id=project_id) is None:
            raise NotFound(f"no project {project_id}")
    assert bearer or access_token  # parse refused a missing one
    return StreamCaller(principal, bearer or access_token or "", tenant)


StreamCallerDep = Annotated[StreamCaller, Depends(stream_caller)]
#: Event sequences are PostgreSQL ``bigint``s: a larger id is refused (422) before the
#: stream opens, instead of failing the stream's first read.
MAX_SEQ = 2**63 - 1
LastEventHeader = Annotated[
    int | None,
    Header(alias="Last-Event-ID", ge=0, le=MAX_SEQ, description="Replay events after this seq."),
]
LastEventQuery = Annotated[
    int | None,
    Query(ge=0, le=MAX_SEQ, description="Same as the Last-Event-ID header (header wins)."),
]


async def replay_after(
    last_event_header: LastEventHeader = None, last_event_id: LastEventQuery = None
) -> int:
    """Where a (re)connecting stream starts: the header, else the query parameter, else 0."""
    return last_event_header if last_event_header is not None else (last_event_id or 0)


ReplayAfter = Annotated[int, Depends(replay_after)]
FrameFormat = Annotated[
    Literal["named", "message"],
    Query(
        alias="format",
        description="named: each frame carries `event: <type>`; message: frames are unnamed "
        "(for EventSource.onmessage), the type is in the JSON.",
    ),
]


def _response(
    state: StateDep,
    caller: StreamCaller,
    project_id: uuid.UUID,
    after: int,
    *,
    include_deltas: bool,
    named: bool = True,
) -> EventSourceResponse:
    async def frames() -> AsyncIterator[bytes]:
        subscriptions: list[Subscription] = []
        events = project_events(
            state.db,
            state.hub,
            tenant_id=caller.principal.tenant_id,
            project_id=project_id,
            after=after,
            include_deltas=include_deltas,
            poll_seconds=state.settings.api_sse_poll_seconds,
            subscribed=subscriptions.append,
        )

        async def watch() -> str:
            reason = await stream_access.watch(state, caller, project_id)
            for subscription in subscriptions:
                subscription.offer(STOP)  # wakes an idle stream at once
            return reason

        ended = asyncio.ensure_future(watch())
        try:
            async for event in events:
                if ended.done():
                    break  # a busy stream stops before it sends one more event
                yield frame(event, named=named)
        except StreamOverflow:
            pass  # the client reconnects with Last-Event-ID and loses nothing
        finally:
            if not ended.done():
                ended.cancel()
            await events.aclose()
        if ended.done() and not ended.cancelled():
            yield stream_access.revoked_frame(ended.result(), named=named)

    return EventSourceResponse(
        frames(),
        ping=state.settings.api_sse_heartbeat_seconds,
        send_timeout=30.0,  # a client that stops reading is dropped, not waited for
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/events", summary="Follow every event (SSE)", response_model=None, responses=SSE_RESPONSES
)
async def stream_events(
    state: StateDep,
    caller: StreamCallerDep,
    project_id: ProjectId,
    after: ReplayAfter,
    frame_format: FrameFormat = "named",
) -> EventSourceResponse:
    """Replay the project's events after ``Last-Event-ID``, then follow new ones live."""
    return _response(
        state, caller, project_id, after, include_deltas=True, named=frame_format == "named"
    )


@router.get(
    "/progress/stream",
    summary="Follow progress (SSE, no text deltas)",
    response_model=None,
    responses=SSE_RESPONSES,
)
async def stream_progress(
    state: StateDep,
    caller: StreamCallerDep,
    project_id: ProjectId,
    after: ReplayAfter,
    frame_format: FrameFormat = "named",
) -> EventSourceResponse:
    """Like ``/events`` without ``section.delta``: run and section states only."""
    return _response(
        state, caller, project_id, after, include_deltas=False, named=frame_format == "named"
    )
