"""Exports: generated packages (ZIP, PDF, …) with an expiry and a download count."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TimestampMixin, Vocabulary
from jeex.vocabulary import ExportStatus, check_values


class Export(TenantIdMixin, TimestampMixin, Base):
    """One export of a project's documents in one format."""

    __tablename__ = "exports"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        CheckConstraint("format IN ('zip', 'pdf', 'docx', 'xlsx', 'pptx')", name="format"),
        CheckConstraint(f"status IN ({check_values(ExportStatus)})", name="status"),
        Index(
            "ix_exports_expires_at_ready",
            "expires_at",
            postgresql_where=text("status = 'ready'"),
        ),
        Index("ix_exports_tenant_id_project_id", "tenant_id", "project_id"),
    )

    project_id: Mapped[uuid.UUID]
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[ExportStatus] = mapped_column(
        Vocabulary(ExportStatus), default=ExportStatus.PENDING
    )
    path: Mapped[str | None] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    download_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
