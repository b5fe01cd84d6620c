"""``/templates``: the tenant's own document kinds, uploaded as YAML.

Any member reads them; owners and admins upload (version 1), edit (each edit is a new
version; versions never change) and retire them (hidden from new documents, every
version kept, runs that pinned one keep it). A template is sent as the YAML text itself
(``application/yaml``, ``text/yaml`` or ``text/plain``) or as JSON ``{"source": "…"}``;
an invalid one is a 422 whose ``problems`` name the line and the field of each mistake.
Its JSON schema is ``GET /templates/schema`` (and ``docs/template.schema.json``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from jeex.api.deps import ADMIN, ActorDep, SessionDep
from jeex.api.errors import TemplateErrorOut, responses
from jeex.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from jeex.tenant_templates import schema
from jeex.tenant_templates import service as templates_service
from jeex.tenant_templates.models import TenantTemplate

router = APIRouter(prefix="/templates", tags=["templates"])
TemplateKey = Annotated[
    str, Path(pattern=schema.KEY_PATTERN, max_length=60, description="The template's key.")
]
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000, description="A version number.")]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
#: Largest body read at all: the YAML limit, with room for JSON escaping.
MAX_BODY_BYTES = 4 * schema.MAX_SOURCE_BYTES


class TemplateIn(BaseModel):
    """The JSON form of an upload; the YAML text may also be the body itself."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The template as YAML text.")


class TemplateOut(BaseModel):
    """One version of a tenant template."""

    key: str
    version: int = Field(description="1 for the upload, +1 for each edit.")
    kind_version: str = Field(description="What a run records: key@version+fingerprint.")
    fingerprint: str = Field(description="Hash of the template's content (not its layout).")
    label: str
    title: str
    description: str
    retired: bool = Field(description="Retired: hidden from new documents; still readable.")
    retired_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


class TemplateSourceOut(TemplateOut):
    source: str = Field(description="The YAML exactly as uploaded.")


_SOURCE_CONTENT = {
    "application/yaml": {"schema": {"type": "string", "maxLength": schema.MAX_SOURCE_BYTES}},
    "text/plain": {"schema": {"type": "string", "maxLength": schema.MAX_SOURCE_BYTES}},
    "application/json": {"schema": TemplateIn.model_json_schema()},
}
_UPLOAD = {"requestBody": {"required": True, "content": _SOURCE_CONTENT}}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": TemplateErrorOut, "description": "Invalid YAML or template."}
}


async def read_source(request: Request) -> str:
    """The YAML text of the body, whichever of the accepted forms it came in."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (*YAML_TYPES, "application/json"):
        raise UnsupportedMediaType("send the YAML as application/yaml or text/plain, or JSON")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"a template may be at most {schema.MAX_SOURCE_BYTES} bytes")
    if media == "application/json":
        return TemplateIn.model_validate_json(body).source
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the template is not UTF-8 text") from None


SourceDep = Annotated[str, Depends(read_source)]


def _out(row: TenantTemplate) -> dict[str, Any]:
    template = templates_service.template_of(row)
    assert template.kind is not None
    return {
        "key": row.key,
        "version": row.version,
        "kind_version": f"{row.key}@{row.version}+{row.fingerprint}",
        "fingerprint": row.fingerprint,
        "label": template.kind.label,
        "title": template.title,
        "description": template.description,
        "retired": row.retired_at is not None,
        "retired_at": row.retired_at,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def _summary(row: TenantTemplate) -> TemplateOut:
    return TemplateOut(**_out(row))


def _full(row: TenantTemplate) -> TemplateSourceOut:
    return TemplateSourceOut(**_out(row), source=row.source)


@router.get("/schema", summary="The JSON schema of a template", responses=responses(401, 403))
async def template_schema(session: SessionDep) -> dict[str, Any]:
    """The JSON schema (draft 2020-12) a tenant template's YAML must satisfy."""
    return schema.json_schema()


@router.get("", summary="List the tenant's templates", responses=responses(401, 403))
async def list_templates(session: SessionDep) -> list[TemplateOut]:
    """Each of the tenant's templates in its latest version, by key; retired ones too,
    flagged. ``GET /kinds`` lists the built-in and the live tenant kinds together."""
    return [_summary(row) for row in await templates_service.list_latest(session)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a template",
    dependencies=ADMIN,
    openapi_extra=_UPLOAD,
    responses={**responses(401, 403, 409, 413, 415), **_INVALID},
)
async def create_template(
    session: SessionDep, actor: ActorDep, source: SourceDep
) -> TemplateSourceOut:
    """Version 1 of a new kind (owners and admins). Its key must be new to the tenant and
    not a built-in kind's; an invalid template is a 422 listing every problem by line."""
    return _full(await templates_service.create(session, source=source, actor=actor))


@router.get("/{key}", summary="Read a template", responses=responses(401, 403, 404, 422))
async def get_template(session: SessionDep, key: TemplateKey) -> TemplateSourceOut:
    """The latest version of ``key``, with its YAML."""
    return _full(await templates_service.get_latest_or_raise(session, key=key))


@router.put(
    "/{key}",
    summary="Edit a template (a new version)",
    dependencies=ADMIN,
    openapi_extra=_UPLOAD,
    responses={**responses(401, 403, 404, 409, 413, 415), **_INVALID},
)
async def revise_template(
    session: SessionDep, actor: ActorDep, key: TemplateKey, source: SourceDep
) -> TemplateSourceOut:
    """Store the YAML as the next version of ``key`` (owners and admins); earlier versions
    stay as they were. A retired template is a 409."""
    return _full(await templates_service.revise(session, key=key, source=source, actor=actor))


@router.post(
    "/{key}/retire",
    summary="Retire a template",
    dependencies=ADMIN,
    responses=responses(401, 403, 404, 422),
)
async def retire_template(session: SessionDep, actor: ActorDep, key: TemplateKey) -> TemplateOut:
    """Hide ``key`` from new documents (owners and admins); its versions stay readable and
    runs that pinned one keep writing it. Retiring twice changes nothing."""
    return _summary(await templates_service.retire(session, key=key, actor=actor))


@router.get(
    "/{key}/versions", summary="List a template's versions", responses=responses(401, 403, 404, 422)
)
async def list_versions(session: SessionDep, key: TemplateKey) -> list[TemplateOut]:
    """Every version of ``key``, newest first."""
    return [_summary(row) for row in await templates_service.list_versions(session, key=key)]


@router.get(
    "/{key}/versions/{version}",
    summary="Read one version of a template",
    responses=responses(401, 403, 404, 422),
)
async def get_version(
    session: SessionDep, key: TemplateKey, version: VersionNumber
) -> TemplateSourceOut:
    """Version ``version`` of ``key`` exactly as it was uploaded."""
    row = await templates_service.get_version_or_raise(session, key=key, version=version)
    return _full(row)
