"""Claims let workers share one run's epics: one holder at a time, released by a dead holder."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import create_async_engine

from jeex.db.session import Database
from jeex.engine import claims
from jeex.engine.runner import RunnerDeps, help_run
from jeex.tenants.service import Principal
from support.factories import create_plan


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
