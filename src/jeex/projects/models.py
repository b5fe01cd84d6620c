"""Projects: one product idea and the documentation written for it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TimestampMixin, Vocabulary
from jeex.vocabulary import ProjectStatus, check_values

#: The kind of a project that is the four-step plan (every other kind is one document).
PLAN = "plan"


class Project(TenantIdMixin, TimestampMixin, Base):
    """A tenant's project; soft-deleted so its audit trail survives."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("current_step BETWEEN 0 AND 4", name="current_step"),
        CheckConstraint(f"status IN ({check_values(ProjectStatus)})", name="status"),
        Index(
            "uq_projects_tenant_id_slug_live",
            "tenant_id",
            "slug",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_projects_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_projects_tenant_id_kind_created_at", "tenant_id", "kind", "created_at"),
        Index("ix_projects_metadata", "metadata", postgresql_using="gin"),
    )

    #: ``plan`` (the four-step plan) or the document kind it is (``petition``, a tenant's).
    kind: Mapped[str] = mapped_column(String(60), default=PLAN, server_default=PLAN)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80))
    idea: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[ProjectStatus] = mapped_column(
        Vocabulary(ProjectStatus), default=ProjectStatus.DRAFT
    )
    current_step: Mapped[int] = mapped_column(SmallInteger, default=0)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: A document's own reference (a case or file number), as its user gave it.
    case_ref: Mapped[str | None] = mapped_column(String(120))
    #: A document's input fields, as its kind declares them.
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    #: Exhibits ever added: the next automatic label is ``E<exhibit_seq + 1>``, never reused.
    exhibit_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
