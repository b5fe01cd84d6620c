"""Exhibits: material a user uploads for the agents to use as retrieval context."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TimestampMixin, Vocabulary
from jeex.vocabulary import ExhibitStatus, check_values


class Exhibit(TenantIdMixin, TimestampMixin, Base):
    """One uploaded file, stored under a generated name; duplicates detected by sha256."""

    __tablename__ = "exhibits"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "project_id", "sha256"),
        Index(
            "uq_exhibits_tenant_id_project_id_label",
            "tenant_id",
            "project_id",
            text("lower(label)"),
            unique=True,
        ),
        CheckConstraint(f"status IN ({check_values(ExhibitStatus)})", name="status"),
    )

    project_id: Mapped[uuid.UUID]
    #: What documents cite it by: chosen by its user (``1.1.A``) or ``E<n>``; never renumbered.
    label: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    text_chars: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The passages (chunks) its text makes, and how many are embedded: progress while
    #: pending, fewer than ``passages`` when ready means partially indexed.
    passages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    passages_indexed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[ExhibitStatus] = mapped_column(
        Vocabulary(ExhibitStatus), default=ExhibitStatus.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
