"""Reads the tenant a session is bound to, so services never take it from callers."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.db.session import TENANT_KEY


def session_tenant(session: AsyncSession) -> uuid.UUID:
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        raise RuntimeError("this operation needs a tenant session")
    return tenant if isinstance(tenant, uuid.UUID) else uuid.UUID(str(tenant))
