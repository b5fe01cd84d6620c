"""Events encoded as SSE frames once per process, whatever the number of streams.

A thousand streams of one project receive the same event; encoding its JSON and frame a
thousand times was the largest per-event cost of fan-out. Frames are immutable (an event
never changes), keyed by tenant, project and sequence, and the cache is bounded.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict

from sse_starlette import ServerSentEvent

from jeex.events.models import Event

CACHE_SIZE = 4096
_cache: OrderedDict[tuple[uuid.UUID, uuid.UUID, int, bool], bytes] = OrderedDict()


def _encode(event: Event, named: bool) -> bytes:
    payload = {
        "seq": event.seq,
        "type": event.type,
        "run_id": str(event.run_id) if event.run_id else None,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }
    frame = ServerSentEvent(
        data=json.dumps(payload, default=str, ensure_ascii=False),
        # Unnamed, every frame reaches ``EventSource.onmessage``; the type is in the JSON.
        event=event.type if named else None,
        id=str(event.seq),
    )
    return frame.encode()


def frame(event: Event, *, named: bool = True) -> bytes:
    """The event as ``id: <seq>`` / ``event: <type>`` / ``data: {…}`` bytes; unnamed
    (no ``event:`` line) for clients that listen with ``onmessage`` only."""
    key = (event.tenant_id, event.project_id, event.seq, named)
    encoded = _cache.get(key)
    if encoded is None:
        encoded = _cache[key] = _encode(event, named)
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return encoded
