"""``/health`` (the process answers) and ``/ready`` (it can do its work).

Ready means: the database answers as the application role, the job queue's tables
are reachable, this process is listening for events, and the LLM endpoint answers
(when this process has one: ``--workers 0`` in the embedded shape starts none).
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
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    database: Check
    queue: Check
    events: Check
    llm: Check


async def _database(state: ApiState) -> Check:
    async with state.db.engine.connect() as conn:
        await conn.execute(text("select 1"))
    return "ok"


async def _queue(state: ApiState) -> Check:
    async with state.db.engine.connect() as conn:
        await conn.execute(text("select 1 from procrastinate_jobs limit 1"))
    return "ok"


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


@router.get("/health", summary="Liveness")
async def health() -> HealthOut:
    """The process is up; says nothing about its dependencies."""
    return HealthOut()


@router.get(
    "/ready",
    summary="Readiness",
    responses={503: {"model": ReadyOut, "description": "A dependency is not reachable."}},
)
async def ready(state: StateDep) -> JSONResponse:
    """Database, job queue, event listener and LLM endpoint, each checked now."""
    database, queue, llm = [
        await _guarded(asyncio.ensure_future(check(state))) for check in (_database, _queue, _llm)
    ]
    events: Check = "ok" if state.hub.connected.is_set() else "failed"
    checks = {"database": database, "queue": queue, "events": events, "llm": llm}
    ok = all(value != "failed" for value in checks.values())
    body = ReadyOut(status="ready" if ok else "not ready", **checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
