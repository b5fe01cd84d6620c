"""The durable event log: what happened to a project, in order, replayable by ``seq``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKeyConstraint, Index, func
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantMixin, Vocabulary
from jeex.vocabulary import EventType


class Event(TenantMixin, Base):
    """One event; ``seq`` is per project and written with the change it reports."""

    __tablename__ = "events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        Index("ix_events_tenant_id_run_id", "tenant_id", "run_id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[uuid.UUID | None]
    type: Mapped[EventType] = mapped_column(Vocabulary(EventType, 40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
