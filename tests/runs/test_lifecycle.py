"""The run state machine: every (status, action) pair, as the database sees it afterwards."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jeex import kinds
from jeex.errors import InvalidTransition
from jeex.events.models import Event
from jeex.projects.models import Project
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.lifecycle import Action
from jeex.tenants.service import Principal
from jeex.vocabulary import TERMINAL_RUN_STATUSES, EventType, ProjectStatus, RunStatus
from support.factories import create_project

PAIRS = list(itertools.product(RunStatus, Action))


async def _events(session: AsyncSession, project: Project) -> list[Event]:
    statement = select(Event).where(Event.project_id == project.id).order_by(Event.seq)
    return list((await session.scalars(statement)).all())


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
async def test_every_status_and_action(
    session: AsyncSession, principal: Principal, status: RunStatus, action: Action
) -> None:
    project = await create_project(session, tenant=principal)
    run = await runs_service.create(
        session,
        project=project,
        kind=kinds.by_step(1),
        input={},
        created_by=None,
        model="m",
        prompt_version="p",
    )
    # The test puts the run where the pair starts, as a worker or a user would have.
    run.status = status
    await session.flush()
    before = len(await _events(session, project))
    expected = lifecycle.TRANSITIONS.get((status, action))

    if expected is None:
        with pytest.raises(InvalidTransition, match=f"a {status} run cannot {action}"):
            await lifecycle.move(session, run, action)
        assert run.status == status
        assert project.status == ProjectStatus.DRAFT
        assert len(await _events(session, project)) == before
        return

    event = await lifecycle.move(session, run, action)
    await session.refresh(run)
    await session.refresh(project)
    assert run.status == expected
    assert project.status == lifecycle.PROJECT_STATUS.get(action, ProjectStatus.DRAFT)
    stopped = expected in (RunStatus.PAUSED, *TERMINAL_RUN_STATUSES)
    assert (run.finished_at is not None) == stopped
    events = await _events(session, project)
    assert len(events) == before + 1
    assert event is not None
    assert events[-1].type == lifecycle.EVENTS[action] == event.type
    assert events[-1].data["step"] == 1


def test_the_table_names_only_real_moves() -> None:
    # Completed is final: nothing moves a completed run (a new run is a new version).
    assert not [pair for pair in lifecycle.TRANSITIONS if pair[0] == RunStatus.COMPLETED]
    # Only a running run completes.
    completing = [s for s, a in lifecycle.TRANSITIONS if a == Action.COMPLETE]
    assert completing == [RunStatus.RUNNING]
    assert set(lifecycle.EVENTS) == set(Action)
    assert lifecycle.EVENTS[Action.QUEUE] == EventType.RUN_QUEUED


async def test_a_quiet_move_writes_no_event(session: AsyncSession, principal: Principal) -> None:
    project = await create_project(session, tenant=principal)
    run = await runs_service.create(
        session,
        project=project,
        kind=kinds.by_step(2),
        input={},
        created_by=None,
        model="m",
        prompt_version="p",
    )
    before = len(await _events(session, project))
    assert await lifecycle.move(session, run, Action.QUEUE, quiet=True) is None
    assert len(await _events(session, project)) == before
