"""Pause, resume, cancel and retry as service calls: allowed moves, refused moves, their jobs."""

from __future__ import annotations

import uuid

import pytest

from jeex.engine import plans as pipeline
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.errors import InvalidTransition, NotFound
from jeex.projects import service as projects_service
from jeex.projects.schemas import ProjectCreate
from jeex.queue import app as queue
from jeex.runs import lifecycle, progress
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.tenants.service import Principal


async def _queued_run(deps: RunnerDeps, principal: Principal) -> Run:
    data = ProjectCreate(idea="A shared grocery list app for families", language="en")
    _, runs = await pipeline.create_plan(deps.db, principal, data, steps=(1,), model="m")
    return runs[0]


async def _jobs(deps: RunnerDeps, principal: Principal, run: Run) -> list[tuple[int, str]]:
    async with deps.db.tenant_session(principal.tenant_id) as session:
        return await queue.live_jobs(session, run.id)


async def _do(deps: RunnerDeps, principal: Principal, action: object, run: Run) -> Run:
    async with deps.db.tenant_session(principal.tenant_id) as session:
        return await action(session, run_id=run.id)  # type: ignore[operator, no-any-return]


async def test_the_run_is_queued_with_its_project(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    assert [status for _, status in await _jobs(deps, principal, run)] == ["todo"]


async def test_pause_a_queued_run_then_resume_it(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    paused = await _do(deps, principal, lifecycle.pause, run)
    assert (paused.status, paused.desired_state) == ("paused", "paused")
    with pytest.raises(InvalidTransition, match="cannot pause a paused run"):
        await _do(deps, principal, lifecycle.pause, run)
    resumed = await _do(deps, principal, lifecycle.resume, run)
    assert (resumed.status, resumed.desired_state) == ("pending", "run")
    # Still exactly one waiting job: the queueing lock.
    assert [status for _, status in await _jobs(deps, principal, run)] == ["todo"]


async def test_cancel_a_queued_run_cancels_its_job_and_retry_queues_it_again(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    cancelled = await _do(deps, principal, lifecycle.cancel, run)
    assert cancelled.status == "cancelled"
    async with deps.db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.get_or_raise(session, project_id=run.project_id)
        assert project.status == "cancelled"
    assert await _jobs(deps, principal, run) == []
    with pytest.raises(InvalidTransition, match="cannot resume a cancelled run; retry it"):
        await _do(deps, principal, lifecycle.resume, run)
    retried = await _do(deps, principal, lifecycle.retry, run)
    assert (retried.status, retried.desired_state) == ("pending", "run")
    assert len(await _jobs(deps, principal, run)) == 1


async def test_a_completed_run_refuses_every_change(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id)
    for action, verb in (
        (lifecycle.pause, "pause"),
        (lifecycle.resume, "resume"),
        (lifecycle.cancel, "cancel"),
        (lifecycle.retry, "retry"),
    ):
        with pytest.raises(InvalidTransition, match=f"cannot {verb} a completed run"):
            await _do(deps, principal, action, run)


async def test_unknown_run_is_not_found(deps: RunnerDeps, principal: Principal) -> None:
    async with deps.db.tenant_session(principal.tenant_id) as session:
        with pytest.raises(NotFound):
            await lifecycle.pause(session, run_id=uuid.uuid4())


async def test_another_tenants_run_is_not_found(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    from jeex.tenants.service import ensure_principal

    other = await ensure_principal(
        deps.db, tenant_slug=f"o-{uuid.uuid4().hex[:8]}", tenant_name="o", email="o@x.test"
    )
    async with deps.db.tenant_session(other.tenant_id) as session:
        with pytest.raises(NotFound):
            await lifecycle.cancel(session, run_id=run.id)


async def test_progress_snapshot_before_during_and_after(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    async with deps.db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.get_or_raise(session, project_id=run.project_id)
        before = await progress.snapshot(session, project=project)
    assert before.percentage == 0
    assert before.eta_seconds is None
    assert [r.status for r in before.runs] == ["pending"]
    assert before.log == [before.log[0]]
    assert "run.queued" in before.log[0]
    await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id)
    async with deps.db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.get_or_raise(session, project_id=run.project_id)
        after = await progress.snapshot(session, project=project)
        with pytest.raises(NotFound):
            await projects_service.get_or_raise(session, project_id=uuid.uuid4())
    assert after.percentage == 100
    assert after.eta_seconds == 0
    assert after.tokens_out > 0
    assert after.runs[0].sections_done == after.runs[0].sections_expected == 7
    assert {s.status for s in after.runs[0].sections} == {"completed"}
    assert any("run.completed" in line for line in after.log)
    assert len(after.log) <= progress.LOG_LINES
    assert after.as_dict()["runs"][0]["step"] == 1


async def test_nul_characters_never_reach_the_database(
    deps: RunnerDeps, principal: Principal, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await runs_service.upsert_section(
            session, run_id=run.id, key="k", title="t\x00", status="completed",
            content='{"title": "\\u0000"}\x00', metadata_={"fixes": ["dropped '\x00'"]},
        )  # fmt: skip
        section = await runs_service.get_section(session, run_id=run.id, key="k")
    assert section is not None
    assert section.title == "t"
    assert section.metadata_ == {"fixes": ["dropped ''"]}
