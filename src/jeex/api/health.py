"""``/health`` (the process is not wedged) and ``/ready`` (it can do its work now).

Ready means: the database answers as the application role; the job queue's tables are
reachable and queued work has a live worker (some worker's heartbeat within
``JEEX_QUEUE_STALL_SECONDS``); this process is listening for events; its own queue
worker, when it runs one, has had its heartbeat taken within that window; and the LLM
endpoint answers (when this process has one: ``--workers 0`` in the embedded shape
starts none). A dependency that is down makes the process not ready (503), never dead.

Healthy means the process can still recover by itself: it fails only when its queue
worker stopped for good, so that a supervisor (Kubernetes' liveness probe) restarts it.
docs/operations.md, "Probes", says what each means to Kubernetes.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from jeex.api.deps import StateDep
from jeex.api.state import ApiState

router = APIRouter(tags=["health"])
Check = Literal["ok", "failed", "not used"]


class HealthOut(BaseModel):
    status: Literal["ok", "wedged"] = "ok"
    detail: str | None = None


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    database: Check
    queue: Check
    events: Check
    worker: Check
    llm: Check


async def _database(state: ApiState) -> Check:
    async with state.db.engine.connect() as conn:
        await conn.execute(text("select 1"))
    return "ok"


#: Work is due and no worker anywhere has beaten within the stall window: nobody takes it.
_UNSERVED = text(
    "select exists (select 1 from procrastinate_jobs where status = 'todo' "
    "and coalesce(scheduled_at, now()) <= now()) "
    "and not exists (select 1 from procrastinate_workers "
    "where last_heartbeat > now() - make_interval(secs => :stall))"
)


async def _queue(state: ApiState) -> Check:
    async with state.db.engine.connect() as conn:
        stall = state.settings.queue_stall_seconds
        unserved = (await conn.execute(_UNSERVED, {"stall": stall})).scalar_one()
    return "failed" if unserved else "ok"


def _worker(state: ApiState) -> Check:
    if state.worker is None:
        return "not used"
    age = state.worker.heartbeat_age()
    fresh = age is not None and age <= state.settings.queue_stall_seconds
    return "ok" if fresh and not state.worker.crashed() else "failed"


async def _llm(state: ApiState) -> Check:
    if state.llm_base_url is None:
        return "not used"
    headers = {"Authorization": f"Bearer {state.settings.llm_api_key.get_secret_value()}"}
    async with httpx.AsyncClient(timeout=3.0) as client:
        response = await client.get(f"{state.llm_base_url.rstrip('/')}/models", headers=headers)
    return "ok" if response.status_code < 500 else "failed"


async def _guarded(check: asyncio.Task[Check]) -> Check:
    try:
        return await asyncio.wait_for(check, 5.0)
    except Exception:
        return "failed"


@router.get(
    "/health",
    summary="Liveness",
    responses={503: {"model": HealthOut, "description": "The process is wedged."}},
)
async def health(state: StateDep) -> JSONResponse:
    """The process answers and can recover by itself; says nothing about dependencies."""
    if state.worker is not None and state.worker.crashed():
        body = HealthOut(status="wedged", detail="the queue worker stopped; restart the process")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthOut().model_dump(exclude_none=True))


@router.get(
    "/ready",
    summary="Readiness",
    responses={503: {"model": ReadyOut, "description": "A dependency is not reachable."}},
)
async def ready(state: StateDep) -> JSONResponse:
    """Database, job queue, event listener, this process's worker and the LLM endpoint."""
    database, queue, llm = [
        await _guarded(asyncio.ensure_future(check(state))) for check in (_database, _queue, _llm)
    ]
    events: Check = "ok" if state.hub.connected.is_set() else "failed"
    checks = {
        "database": database,
        "queue": queue,
        "events": events,
        "worker": _worker(state),
        "llm": llm,
    }
    ok = all(value != "failed" for value in checks.values())
    body = ReadyOut(status="ready" if ok else "not ready", **checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
