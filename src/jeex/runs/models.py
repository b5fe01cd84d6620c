"""Runs (the audit of every agent execution) and their checkpointed sections."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TenantMixin, TimestampMixin, Vocabulary
from jeex.vocabulary import DesiredState, RunStatus, SectionStatus, check_values


class Run(TenantIdMixin, TimestampMixin, Base):
    """One execution of one step by one agent, with its inputs, outputs and costs."""

    __tablename__ = "runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "template_id"], ["tenant_templates.tenant_id", "tenant_templates.id"]
        ),
        CheckConstraint("step is null or step between 1 and 4", name="step"),
        CheckConstraint(f"status IN ({check_values(RunStatus)})", name="status"),
        CheckConstraint(f"desired_state IN ({check_values(DesiredState)})", name="desired_state"),
        Index("ix_runs_tenant_id_project_id_created_at", "tenant_id", "project_id", "created_at"),
        Index("ix_runs_tenant_id_correlation_id", "tenant_id", "correlation_id"),
        Index("ix_runs_tenant_id_status", "tenant_id", "status"),
        Index(
            "ix_runs_budget_paused",
            "tenant_id",
            postgresql_where=text("status = 'paused' and paused_by = 'budget'"),
        ),
        CheckConstraint("paused_by is null or paused_by in ('budget')", name="paused_by"),
    )

    project_id: Mapped[uuid.UUID]
    #: The kind it writes (``jeex.kinds``): a plan step's kind or a document's.
    kind: Mapped[str] = mapped_column(String(60))
    #: Its place in the plan; None for a document of another kind.
    step: Mapped[int | None] = mapped_column(SmallInteger)
    #: The tenant template version it writes (None for a built-in kind): pinned at creation.
    template_id: Mapped[uuid.UUID | None]
    #: Sections (and structured calls) its kind expects, from the kind when it was created.
    sections_expected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    agent_type: Mapped[str] = mapped_column(String(40))
    correlation_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[dict[str, Any] | None]
    status: Mapped[RunStatus] = mapped_column(Vocabulary(RunStatus), default=RunStatus.PENDING)
    desired_state: Mapped[DesiredState] = mapped_column(
        Vocabulary(DesiredState), default=DesiredState.RUN, server_default="run"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0), server_default="0")
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_version: Mapped[str] = mapped_column(String(40), default="")
    template_version: Mapped[str] = mapped_column(String(80), default="")
    #: Who paused it when no person did: ``budget`` (resumed once the tenant's budget allows).
    paused_by: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None]
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RunSection(TenantMixin, TimestampMixin, Base):
    """The unit of checkpointing: one section of one run, upserted by ``(run_id, key)``."""

    __tablename__ = "run_sections"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "run_id"], ["runs.tenant_id", "runs.id"], ondelete="CASCADE"
        ),
        CheckConstraint(f"status IN ({check_values(SectionStatus)})", name="status"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[SectionStatus] = mapped_column(
        Vocabulary(SectionStatus), default=SectionStatus.PENDING
    )
    content: Mapped[str] = mapped_column(Text, default="")
    tokens_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
