"""Store and read a tenant's templates: upload, new versions, retire; never delete.

Every write is a new row or a retirement stamp, logged in the tenant's security audit
log in the same transaction. Two uploads of one key at once are serialised by a
transaction-scoped advisory lock on (tenant, key), so they get versions n and n+1
instead of one of them failing on the unique key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.audit import service as audit
from jeex.db.context import session_tenant
from jeex.errors import Conflict, InvalidTemplate, NotFound
from jeex.templates import DocumentTemplate, template_fingerprint
from jeex.tenant_templates import schema
from jeex.tenant_templates.models import TenantTemplate
from jeex.vocabulary import AuditAction


async def create(session: AsyncSession, *, source: str, actor: audit.Actor) -> TenantTemplate:
    """Version 1 of a new kind; a key the tenant already has (even retired) is a 409."""
    template = schema.parse(source)
    await _lock(session, template.key)
    if await _latest(session, template.key) is not None:
        raise Conflict(
            f"the tenant already has a template {template.key!r}; "
            f"PUT /templates/{template.key} adds a version"
        )
    return await _add(session, template, source, 1, actor, AuditAction.TEMPLATE_CREATED)


async def revise(
    session: AsyncSession, *, key: str, source: str, actor: audit.Actor
) -> TenantTemplate:
    """The next version of ``key``; the YAML's own key must be ``key``."""
    template = schema.parse(source)
    if template.key != key:
        line = schema.key_line(source)
        raise InvalidTemplate(
            [{"line": line, "field": "key", "message": f"must be {key!r}, the template edited"}]
        )
    await _lock(session, key)
    latest = await get_latest_or_raise(session, key=key)
    if latest.retired_at is not None:
        raise Conflict(f"template {key!r} is retired; its versions can be read, not extended")
    return await _add(
        session, template, source, latest.version + 1, actor, AuditAction.TEMPLATE_REVISED
    )


async def retire(session: AsyncSession, *, key: str, actor: audit.Actor) -> TenantTemplate:
    """Hide ``key`` from new documents; every version stays readable and pinned runs work.

    Retiring a retired template changes nothing (and logs nothing).
    """
    await _lock(session, key)
    latest = await get_latest_or_raise(session, key=key)
    if latest.retired_at is not None:
        return latest
    now = datetime.now(UTC)
    await session.execute(
        update(TenantTemplate)
        .where(TenantTemplate.key == key, TenantTemplate.retired_at.is_(None))
        .values(retired_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(latest)
    audit.record(
        session,
        action=AuditAction.TEMPLATE_RETIRED,
        actor=actor,
        target=f"template {key}",
        detail={"version": latest.version},
    )
    return latest


async def list_latest(session: AsyncSession, *, live_only: bool = False) -> list[TenantTemplate]:
    """The latest version of each of the tenant's kinds, by key (retired ones too, unless
    ``live_only``)."""
    statement = (
        select(TenantTemplate)
        .ext(distinct_on(TenantTemplate.key))
        .order_by(TenantTemplate.key, TenantTemplate.version.desc())
    )
    rows = list((await session.scalars(statement)).all())
    return [row for row in rows if row.retired_at is None] if live_only else rows


async def list_versions(session: AsyncSession, *, key: str) -> list[TenantTemplate]:
    """Every version of ``key``, newest first; 404 for a key the tenant does not have."""
    statement = (
        select(TenantTemplate)
        .where(TenantTemplate.key == key)
        .order_by(TenantTemplate.version.desc())
    )
    rows = list((await session.scalars(statement)).all())
    if not rows:
        raise NotFound(f"no template {key!r}")
    return rows


async def get_latest_or_raise(session: AsyncSession, *, key: str) -> TenantTemplate:
    row = await _latest(session, key)
    if row is None:
        raise NotFound(f"no template {key!r}")
    return row


async def get_version_or_raise(session: AsyncSession, *, key: str, version: int) -> TenantTemplate:
    row = await session.scalar(
        select(TenantTemplate).where(TenantTemplate.key == key, TenantTemplate.version == version)
    )
    if row is None:
        raise NotFound(f"no version {version} of template {key!r}")
    return row


async def get(session: AsyncSession, *, template_id: uuid.UUID) -> TenantTemplate | None:
    """One version by id (in the session's tenant only), retired or not."""
    return await session.scalar(select(TenantTemplate).where(TenantTemplate.id == template_id))


def template_of(row: TenantTemplate) -> DocumentTemplate:
    """The parsed template of a stored version (cached by its text)."""
    return schema.parse_stored(row.source)


async def _latest(session: AsyncSession, key: str) -> TenantTemplate | None:
    statement = (
        select(TenantTemplate)
        .where(TenantTemplate.key == key)
        .order_by(TenantTemplate.version.desc())
        .limit(1)
    )
    return await session.scalar(statement)


async def _lock(session: AsyncSession, key: str) -> None:
    name = f"tenant_template:{session_tenant(session)}:{key}"
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
    )


async def _add(
    session: AsyncSession,
    template: DocumentTemplate,
    source: str,
    version: int,
    actor: audit.Actor,
    action: AuditAction,
) -> TenantTemplate:
    fingerprint = template_fingerprint(template)
    row = TenantTemplate(
        tenant_id=session_tenant(session),
        key=template.key,
        version=version,
        source=source,
        fingerprint=fingerprint,
        created_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    audit.record(
        session,
        action=action,
        actor=actor,
        target=f"template {template.key}",
        detail={"version": version, "fingerprint": fingerprint},
    )
    return row
