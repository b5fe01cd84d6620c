"""What the auth domain stores besides the identities: sign-ins under way at a provider."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from jeex.db.base import Base


class OidcLogin(Base):
    """One OpenID Connect sign-in between its redirect to the provider and its callback.

    Global (no tenant is known yet), read and deleted in one statement by the callback,
    so each ``state`` works once; rows older than the sign-in window are worthless.
    """

    __tablename__ = "oidc_logins"

    state: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(Text)
    code_verifier: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
