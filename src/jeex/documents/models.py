"""Versioned documents: every run of a step adds a version, none is overwritten."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TimestampMixin

DOCUMENT_TYPES = ("about", "specs", "architecture", "plan_overview", "plan_epic")


class DocumentVersion(TenantIdMixin, TimestampMixin, Base):
    """One version of one document (``epic_number`` is 0 for non-epic documents)."""

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "project_id", "document_type", "epic_number", "version"),
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"], ["runs.tenant_id", "runs.id"], ondelete="SET NULL (run_id)"
        ),
        # A run writes each of its documents once, so a re-executed job cannot duplicate one.
        Index(
            "uq_document_versions_run_document",
            "tenant_id",
            "run_id",
            "document_type",
            "epic_number",
            unique=True,
            postgresql_where=text("run_id IS NOT NULL"),
        ),
        Index("ix_document_versions_project_type", "tenant_id", "project_id", "document_type"),
        Index(
            "ix_document_versions_project_version_desc",
            "tenant_id",
            "project_id",
            text("version DESC"),
        ),
        Index("ix_document_versions_metadata", "metadata", postgresql_using="gin"),
    )

    project_id: Mapped[uuid.UUID]
    run_id: Mapped[uuid.UUID | None]
    document_type: Mapped[str] = mapped_column(String(40))
    epic_number: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    title: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    readability_score: Mapped[float | None] = mapped_column(Float)
    grammar_score: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[uuid.UUID | None]
