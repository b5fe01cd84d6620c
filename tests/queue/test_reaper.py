"""The stalled-job sweep: a dead worker's job is retried; a poison job ends failed; one sweeper."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import sqlalchemy as sa
import structlog

from jeex.config import Settings
from jeex.engine.runner import RunnerDeps
from jeex.events import service as events_service
from jeex.runs import service as runs_service
from jeex.tasks import reaper
from jeex.tenants.service import Principal, ensure_principal
from support.factories import create_plan


def _job_of(owner: sa.Engine, run_id: str) -> sa.Row[tuple[int, str, int]]:
    with owner.connect() as conn:
        return conn.execute(
            sa.text("select id, status, attempts from procrastinate_jobs where lock = :r"),
            {"r": run_id},
        ).one()


def _kill_worker_holding(owner: sa.Engine, run_id: str, *, attempts: int) -> None:
    """What a SIGKILLed worker leaves: its job ``doing``, its heartbeat long stopped."""
    with owner.begin() as conn:
        worker = conn.execute(
            sa.text(
                "insert into procrastinate_workers (last_heartbeat) "
                "values (now() - interval '1 hour') returning id"
            )
        ).scalar_one()
        conn.execute(
            sa.text(
                "update procrastinate_jobs set status = 'doing', worker_id = :w, "
                "attempts = :a where lock = :r"
            ),
            {"w": worker, "a": attempts, "r": run_id},
        )


async def _run_id(deps: RunnerDeps, principal: Principal) -> str:
    _, runs = await create_plan(deps.db, tenant=principal, steps=(1,))
    return str(runs[0].id)


async def test_a_dead_workers_job_is_retried(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine, empty_queue: None
) -> None:
    run_id = await _run_id(deps, principal)
    _kill_worker_holding(owner_engine, run_id, attempts=0)
    reaped = await reaper.sweep(deps.db, deps.settings)
    assert [(r.outcome, r.run_id) for r in reaped] == [("retried", run_id)]
    job = _job_of(owner_engine, run_id)
    assert (job.status, job.attempts) == ("todo", 1)
    assert await reaper.sweep(deps.db, deps.settings) == []


async def test_a_job_that_keeps_killing_its_worker_fails_with_its_run(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine, empty_queue: None
) -> None:
    run_id = await _run_id(deps, principal)
    settings = deps.settings.model_copy(update={"queue_max_attempts": 3})
    _kill_worker_holding(owner_engine, run_id, attempts=2)
    reaped = await reaper.sweep(deps.db, settings)
    assert [r.outcome for r in reaped] == ["poisoned"]
    assert _job_of(owner_engine, run_id).status == "failed"
    with owner_engine.connect() as conn:
        run = conn.execute(sa.text("select status, error from runs where id = :r"),
                           {"r": run_id}).one()  # fmt: skip
    assert run.status == "failed"
    assert "died 3 times" in run.error


async def test_a_fresh_worker_is_left_alone(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine, empty_queue: None
) -> None:
    run_id = await _run_id(deps, principal)
    _kill_worker_holding(owner_engine, run_id, attempts=0)
    with owner_engine.begin() as conn:
        conn.execute(sa.text("update procrastinate_workers set last_heartbeat = now()"))
    assert await reaper.sweep(deps.db, deps.settings) == []
    assert _job_of(owner_engine, run_id).status == "doing"


def test_stall_threshold_must_outlast_the_graceful_shutdown() -> None:
    import pytest
    from pydantic import ValidationError

    Settings(queue_stall_seconds=30, queue_shutdown_seconds=15)
    with pytest.raises(ValidationError, match="queue_stall_seconds must exceed"):
        Settings(queue_stall_seconds=30, queue_shutdown_seconds=25)


async def test_old_finished_jobs_are_pruned(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine, empty_queue: None
) -> None:
    old, recent = await _run_id(deps, principal), await _run_id(deps, principal)
    with owner_engine.begin() as conn:
        conn.execute(sa.text("update procrastinate_jobs set status = 'succeeded' "
                             "where lock = any(:r)"), {"r": [old, recent]})  # fmt: skip
        conn.execute(
            sa.text(
                "update procrastinate_events set at = now() - interval '200 hours' "
                "where job_id = (select id from procrastinate_jobs where lock = :r)"
            ),
            {"r": old},
        )
    await reaper.prune(deps.db, deps.settings)
    with owner_engine.connect() as conn:
        left = conn.execute(sa.text("select lock from procrastinate_jobs where lock = any(:r)"),
                            {"r": [old, recent]}).scalars().all()  # fmt: skip
    assert left == [recent]


async def test_old_streamed_deltas_are_pruned_in_every_tenant(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine
) -> None:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    other = await ensure_principal(deps.db, tenant_slug=slug, tenant_name=slug, email=f"{slug}@x")
    projects = []
    for owner in (principal, other):
        run_id = await _run_id(deps, owner)
        async with deps.db.tenant_session(owner.tenant_id) as session:
            run = await runs_service.get_or_raise(session, run_id=uuid.UUID(run_id))
            for kind in ("section.delta", "section.delta", "section.started"):
                await events_service.append(
                    session, project_id=run.project_id, run_id=run.id, type=kind, data={}
                )
            projects.append(str(run.project_id))
    with owner_engine.begin() as conn:  # age every event but each project's last delta
        conn.execute(
            sa.text(
                "update events set created_at = now() - interval '48 hours' "
                "where project_id = any(:p) and seq <> (select max(seq) from events e "
                "where e.project_id = events.project_id and e.type = 'section.delta')"
            ),
            {"p": projects},
        )
    deleted = await reaper.prune(deps.db, deps.settings)
    assert deleted >= 2
    with owner_engine.connect() as conn:
        left = conn.execute(
            sa.text("select project_id::text, type from events where project_id = any(:p) "
                    "and type like 'section.%' order by project_id, seq"),
            {"p": projects},
        ).all()  # fmt: skip
    for project in projects:
        kinds = [kind for pid, kind in left if pid == project]
        assert kinds == ["section.delta", "section.started"]  # the old delta gone, the rest kept


async def test_a_failing_sweep_is_logged_and_the_next_one_still_runs(
    deps: RunnerDeps, principal: Principal, owner_engine: sa.Engine, empty_queue: None
) -> None:
    """A real failure, not a stand-in: the app role loses SELECT on the job table for a
    while, so the sweep's own query is refused by PostgreSQL."""
    run_id = await _run_id(deps, principal)
    _kill_worker_holding(owner_engine, run_id, attempts=0)
    settings = deps.settings.model_copy(
        update={"queue_stall_seconds": 0.6, "queue_shutdown_seconds": 0.0}
    )
    grant = "{} select on procrastinate_jobs {} jeex_app"
    with owner_engine.begin() as conn:
        conn.execute(sa.text(grant.format("revoke", "from")))
    with structlog.testing.capture_logs() as logs:
        sweeping = asyncio.create_task(reaper.sweep_forever(deps.db, settings))
        try:
            await _until(lambda: any(e["event"] == "queue sweep failed" for e in logs))
            with owner_engine.begin() as conn:
                conn.execute(sa.text(grant.format("grant", "to")))
            await _until(lambda: _job_of(owner_engine, run_id).status == "todo")
        finally:
            sweeping.cancel()
            with owner_engine.begin() as conn:
                conn.execute(sa.text(grant.format("grant", "to")))
    failed = next(e for e in logs if e["event"] == "queue sweep failed")
    assert failed["log_level"] == "error"
    assert "InsufficientPrivilege" in failed["error"] or "permission denied" in failed["error"]
    assert _job_of(owner_engine, run_id).attempts == 1  # the sweep after the failure re-queued it


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
