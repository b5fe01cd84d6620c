"""Engines and tenant-scoped sessions.

Every transaction of a tenant session starts with
``select set_config('app.tenant_id', :tid, true)``: transaction-local and bound
as a parameter, so a pooled connection never carries one tenant's context into
the next transaction (SECURITY.md P3, P4). The hook fires on *every* begin,
including the implicit one after a ``commit()``, which is what lets the step
runner commit section by section without losing its tenant.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from jeex import tracing

TENANT_KEY = "tenant_id"
SET_TENANT_SQL = text("select set_config('app.tenant_id', :tid, true)")
#: Read by ``jeex_my_memberships()`` only (migration 0006): whose memberships it returns.
SET_USER_SQL = text("select set_config('app.user_id', :uid, true)")


async def as_user(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    """Name the user ``jeex_my_memberships()`` answers for, until ``as_user(None)`` or the
    end of the transaction; the caller has already checked the user's credentials."""
    await session.execute(SET_USER_SQL, {"uid": "" if user_id is None else str(user_id)})


@event.listens_for(Session, "after_begin")
def _set_tenant_context(session: Session, _tx: SessionTransaction, conn: Connection) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None:
        conn.execute(SET_TENANT_SQL, {"tid": str(tenant_id)})


class Database:
    """The application's engine (as the app role) and its session factory."""

    def __init__(self, url: URL, *, pool_size: int = 5, **engine_kw: Any) -> None:
        self.url = url
        engine_kw.setdefault("max_overflow", pool_size)
        engine_kw.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, **engine_kw)
        tracing.instrument_engine(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def _transaction(self, tenant_id: uuid.UUID | None) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            if tenant_id is not None:
                session.info[TENANT_KEY] = tenant_id
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    def tenant_session(
        self, tenant_id: uuid.UUID
    ) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """A session bound to one tenant; commits on success, rolls back on error."""
        return self._transaction(tenant_id)

    def global_session(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """A session with no tenant: sees only the global tables (tenants, users)."""
        return self._transaction(None)

    async def dispose(self) -> None:
        await self.engine.dispose()
