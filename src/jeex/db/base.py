"""Declarative base and the mixins every table is built from.

Tenant-owned tables use the composite primary key ``(tenant_id, id)`` so that
every unique key and every foreign key includes ``tenant_id`` (SECURITY.md P6):
a key that ignores the tenant would be an existence oracle across tenants.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Dialect, ForeignKey, MetaData, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mapped class; JSON columns are JSONB."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, uuid.UUID: UUID(as_uuid=True)}


class TimestampMixin:
    """``created_at`` / ``updated_at``; the latter is kept by a database trigger."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TenantMixin:
    """Row belongs to one tenant; row-level security filters on this column."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )


class TenantIdMixin(TenantMixin):
    """Tenant-owned row with its own uuid; the primary key is ``(tenant_id, id)``."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


E = TypeVar("E", bound=StrEnum)


class Vocabulary(TypeDecorator[E], Generic[E]):
    """A ``jeex.vocabulary`` enum stored as its plain value (VARCHAR).

    Rows load as enum members, so code and schemas share one type; the column stays a
    string (a CHECK constraint lists the values), so adding a value needs no type change.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)
