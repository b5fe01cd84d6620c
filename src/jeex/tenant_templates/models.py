"""A tenant's own document kinds: one row per version of each, as uploaded."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantIdMixin, TimestampMixin


class TenantTemplate(TenantIdMixin, TimestampMixin, Base):
    """One version of a tenant kind: the YAML exactly as uploaded, and its fingerprint.

    A version never changes once written (an edit is a new row) and is never deleted: a
    run pins the version it wrote (``runs.template_id``). Retiring stamps ``retired_at``
    on every version of the key; a kind is live while its latest version is not retired.
    """

    __tablename__ = "tenant_templates"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version"),
        UniqueConstraint("tenant_id", "key", "version"),
    )

    key: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    #: ``jeex.templates.template_fingerprint`` of the parsed template.
    fingerprint: Mapped[str] = mapped_column(String(16))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
