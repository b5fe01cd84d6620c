"""The security audit log's rows: one per sign-in, invitation, role change, key or refusal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base, TenantMixin, Vocabulary
from jeex.vocabulary import AuditAction


class AuditEvent(TenantMixin, Base):
    """What happened, who did it (and from where), to what; ``id`` orders them.

    The application role may add rows and read its tenant's, never change or delete one
    (``grant_app_role`` revokes UPDATE and DELETE), so the log cannot be tidied afterwards.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action: Mapped[AuditAction] = mapped_column(Vocabulary(AuditAction, 40))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Kept as text too: the log still says who after the account is gone.
    actor_email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    target: Mapped[str] = mapped_column(String(400), default="", server_default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
