"""A run that spends its tenant's budget mid-way pauses before its next section, says why
in its events, and is resumed by the workers' sweep once the budget allows again; a run a
person paused is left alone."""

from __future__ import annotations

from jeex.config import Settings
from jeex.engine import plans as pipeline
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.events import service as events_service
from jeex.projects.schemas import ProjectCreate
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.tasks import budgets
from jeex.tenants import quotas
from jeex.tenants.service import Principal


async def _queued_run(deps: RunnerDeps, principal: Principal) -> Run:
    data = ProjectCreate(idea="A shared grocery list app for families", language="en")
    _, runs = await pipeline.create_plan(deps.db, principal, data, steps=(1,), model="m")
    return runs[0]


async def _set(deps: RunnerDeps, principal: Principal, **values: int | None) -> None:
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await quotas.set_override(session, values=values)


async def _run(deps: RunnerDeps, principal: Principal, run: Run) -> Run:
    async with deps.db.tenant_session(principal.tenant_id) as session:
        return await runs_service.get_or_raise(session, run_id=run.id)


async def test_a_spent_budget_pauses_the_run_and_the_sweep_resumes_it(
    deps: RunnerDeps, principal: Principal, settings: Settings, empty_queue: None
) -> None:
    # A budget the first section spends: the run stops before its second.
    await _set(deps, principal, tokens_per_day=1)
    run = await _queued_run(deps, principal)
    paused = await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id)
    assert (paused.status, paused.paused_by) == ("paused", "budget")
    async with deps.db.tenant_session(principal.tenant_id) as session:
        sections = await runs_service.list_sections(session, run_id=run.id)
        events = await events_service.list_after(session, project_id=run.project_id)
    assert [s.status for s in sections] == ["completed"]  # one written, none half-written
    pause = next(e for e in events if e.type == "run.paused")
    assert pause.data["paused_by"] == "budget"
    assert "budget of LLM tokens per day is used up" in pause.data["reason"]

    # Still spent: the sweep leaves it paused.
    assert await budgets.resume_within_budget(deps.db, settings) == []
    assert (await _run(deps, principal, run)).status == "paused"

    # The operator raises the limit: the next sweep queues it again, and it completes.
    await _set(deps, principal, tokens_per_day=None)
    assert await budgets.resume_within_budget(deps.db, settings) == [run.id]
    resumed = await _run(deps, principal, run)
    assert (resumed.status, resumed.paused_by) == ("pending", None)
    done = await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id)
    assert done.status == "completed"


async def test_a_run_a_person_paused_is_not_resumed_by_the_sweep(
    deps: RunnerDeps, principal: Principal, settings: Settings, empty_queue: None
) -> None:
    run = await _queued_run(deps, principal)
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await lifecycle.pause(session, run_id=run.id)
    assert run.id not in await budgets.resume_within_budget(deps.db, settings)
    assert (await _run(deps, principal, run)).status == "paused"
