"""Claims let workers share one run's epics: one holder at a time, released by a dead holder."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from jeex.agents.repair_echo import paragraph_key
from jeex.db.session import Database
from jeex.engine import claims
from jeex.engine.observer import NullObserver
from jeex.engine.runner import RunnerDeps, execute_run, help_run
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.models import Run
from jeex.tenants.service import Principal
from jeex.vocabulary import DesiredState, RunStatus
from support.factories import create_plan
from support.fakellm import ScriptedLLM


async def test_a_unit_has_one_holder_until_released(db: Database) -> None:
    run_id = uuid.uuid4()
    other = create_async_engine(db.url)  # another process, as far as PostgreSQL can tell
    try:
        async with claims.try_claim(db.engine, run_id, "epic-01") as held:
            assert held
            async with claims.try_claim(other, run_id, "epic-01") as elsewhere:
                assert not elsewhere
            async with claims.try_claim(other, run_id, "epic-02") as different:
                assert different
        async with claims.try_claim(other, run_id, "epic-01") as after:
            assert after
    finally:
        await other.dispose()


async def test_a_holder_that_goes_away_frees_its_unit(db: Database) -> None:
    run_id = uuid.uuid4()
    dying = create_async_engine(db.url)
    connection = await dying.connect()
    key = claims.claim_key(run_id, "epic-03")
    taken = await connection.exec_driver_sql(
        "select pg_try_advisory_lock(hashtextextended(%(k)s, 0))", {"k": key}
    )
    assert taken.scalar_one()
    async with claims.try_claim(db.engine, run_id, "epic-03") as held:
        assert not held
    await connection.invalidate()  # the worker died: its connection is gone
    await dying.dispose()
    async with claims.try_claim(db.engine, run_id, "epic-03") as held:
        assert held


async def test_a_helper_does_nothing_for_a_run_that_is_not_running(
    deps: RunnerDeps, principal: Principal
) -> None:
    _, runs = await create_plan(deps.db, tenant=principal, steps=(4,))
    written = await help_run(deps, tenant_id=principal.tenant_id, run_id=runs[0].id)
    assert written == 0  # pending, not running: only its own job starts it


async def test_an_epic_does_not_repeat_what_a_helper_wrote_of_the_run(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    """Two jobs write one run's epics (issue 15's benchmark: the same task list in two epics
    written by two jobs): each epic starts from everything the run has written so far, so no
    list or paragraph appears twice in the step's sections."""
    tasks = ["Add a new user to the table of users", "Update the table with the new data"]
    llm_server.script_json("SectionItems", {"items": tasks})
    _, runs = await create_plan(deps.db, tenant=principal, steps=(1, 4), model=deps.llm.model)
    first = await execute_run(deps, tenant_id=principal.tenant_id, run_id=runs[0].id)
    assert first.status == RunStatus.COMPLETED
    step4 = runs[1].id
    # The run's own job plans the epics and writes the overview, then pauses before its
    # epics; a helper then writes epic 2 while the test holds every other epic.
    pause = _PauseAfter("overview/risks", deps, principal)
    paused = await execute_run(deps, tenant_id=principal.tenant_id, run_id=step4, observer=pause)
    assert paused.status == RunStatus.PAUSED
    await _set_status(deps, principal, step4, RunStatus.RUNNING, DesiredState.RUN)
    others = create_async_engine(deps.db.url)
    try:
        async with contextlib.AsyncExitStack() as held:
            for number in (1, *range(3, 13)):
                unit = f"epic-{number:02d}"
                assert await held.enter_async_context(claims.try_claim(others, step4, unit))
            written = await help_run(deps, tenant_id=principal.tenant_id, run_id=step4)
        assert written == 1
    finally:
        await others.dispose()
    await _set_status(deps, principal, step4, RunStatus.PAUSED, DesiredState.PAUSED)
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await lifecycle.resume(session, run_id=step4)
    finished = await execute_run(deps, tenant_id=principal.tenant_id, run_id=step4)
    assert finished.status == RunStatus.COMPLETED
    async with deps.db.tenant_session(principal.tenant_id) as session:
        sections = await runs_service.list_sections(session, run_id=step4)
    helper = next(s for s in sections if s.key == "epic-02/tasks")
    assert helper.content  # the helper wrote it (as a list, or as prose when the list was said)
    paragraphs = Counter(
        key for s in sections for block in s.content.split("\n\n") if (key := paragraph_key(block))
    )
    assert [p for p, n in paragraphs.items() if n > 1] == []


class _PauseAfter(NullObserver):
    """Asks the run to pause once ``key`` is written (it stops at the next boundary)."""

    def __init__(self, key: str, deps: RunnerDeps, principal: Principal) -> None:
        self.key, self.deps, self.principal = key, deps, principal
        self.pausing: asyncio.Task[None] | None = None

    def event(self, run_id: Any, type: str, data: dict[str, Any]) -> None:
        if type == "section.completed" and data.get("key") == self.key:
            self.pausing = asyncio.ensure_future(self._pause(run_id))

    async def _pause(self, run_id: uuid.UUID) -> None:
        async with self.deps.db.tenant_session(self.principal.tenant_id) as session:
            await runs_service.request_state(session, run_id=run_id, desired="paused")


async def _set_status(
    deps: RunnerDeps, principal: Principal, run_id: uuid.UUID, status: str, desired: str
) -> None:
    """The run as its own job would leave it at that moment (the helper reads it)."""
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await session.execute(
            update(Run).where(Run.id == run_id).values(status=status, desired_state=desired)
        )
