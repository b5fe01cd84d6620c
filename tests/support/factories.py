"""Factories: one per domain, ``create_<thing>(session_or_db, *, tenant, **overrides)``.

They write through the real services and a tenant session, so row-level security and
every rule a user meets apply to the data a test starts from. ``tenant`` is the
principal (tenant and user) the data belongs to; ``overrides`` replace the defaults.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import Settings
from jeex.db.session import Database
from jeex.engine import plans as pipeline
from jeex.exhibits import service as exhibits_service
from jeex.exhibits.models import Exhibit
from jeex.projects import service as projects_service
from jeex.projects.models import Project
from jeex.projects.schemas import ProjectCreate
from jeex.runs.models import Run
from jeex.tenants.service import Principal

IDEA = "A shared grocery list app for families"


def project_data(**overrides: Any) -> ProjectCreate:
    """The grocery-list idea every test starts from, with ``overrides`` applied."""
    fields: dict[str, Any] = {"idea": IDEA, "audience": "busy parents", "language": "en"}
    return ProjectCreate(**{**fields, **overrides})


async def create_project(session: AsyncSession, *, tenant: Principal, **overrides: Any) -> Project:
    """A project of ``tenant`` in the caller's transaction (flushed, not committed)."""
    return await projects_service.create(session, owner=tenant, data=project_data(**overrides))


async def create_plan(
    db: Database,
    *,
    tenant: Principal,
    steps: Sequence[int] = (1,),
    model: str = "m",
    **overrides: Any,
) -> tuple[Project, list[Run]]:
    """A committed project with ``steps`` queued as runs, as ``jeex plan --detach`` leaves it."""
    return await pipeline.create_plan(
        db, tenant, project_data(**overrides), steps=tuple(steps), model=model
    )


async def create_exhibit(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant: Principal,
    project_id: uuid.UUID,
    filename: str = "notes.md",
    data: bytes = b"# Notes\n\nParents plan meals on Sunday evening.\n",
) -> Exhibit:
    """An uploaded exhibit of ``tenant``'s project, queued for processing (not processed)."""
    return await exhibits_service.create(
        session,
        settings=settings,
        project_id=project_id,
        filename=filename,
        pieces=[data],
        created_by=tenant.user_id,
    )
