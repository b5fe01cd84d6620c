"""``/kinds`` and ``/vocabulary``: what the browser (and any client) reads instead of
retyping the plan's steps, the document kinds, the statuses and the event types."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jeex import kinds
from jeex.api.deps import PrincipalDep, SessionDep
from jeex.api.errors import responses
from jeex.templates import InputField, SectionKind
from jeex.vocabulary import (
    AuditAction,
    DesiredState,
    EventType,
    ExhibitStatus,
    ExportStatus,
    ProjectStatus,
    Role,
    RunStatus,
    SectionStatus,
)

router = APIRouter(tags=["kinds"])


class KindSectionOut(BaseModel):
    key: str
    title: str
    kind: SectionKind
    target_words: int


class KindPartOut(BaseModel):
    template: str
    document_type: str
    title: str = Field(description="With {project} (and {epic_title}) placeholders.")
    sections: list[KindSectionOut]


class KindOut(BaseModel):
    key: str
    label: str = Field(description="Who writes it, as users see it: 'Business Analyst'.")
    title: str = Field(description="'Business Analyst → about.md'.")
    output: str = Field(description="Where it lands in the package: a file or a folder.")
    step: int | None = Field(description="Its step in the plan; null for a kind on its own.")
    agent: str | None = Field(description="Its agent module; null for the generic writer.")
    description: str
    version: str
    source: Literal["builtin", "tenant"] = Field(
        description="Shipped with JEEX, or the tenant's own (GET /templates)."
    )
    revision: int | None = Field(
        description="The tenant template's version number; null for a built-in kind."
    )
    document_types: list[str]
    depends_on: list[str] = Field(description="Document types it reads as earlier context.")
    parts: list[KindPartOut] = Field(description="Its template, then those it writes per unit.")
    inputs: list[InputField] = Field(
        description="What a user fills in to start a document of it (POST /documents)."
    )


class VocabularyOut(BaseModel):
    run_statuses: list[RunStatus]
    desired_states: list[DesiredState]
    section_statuses: list[SectionStatus]
    project_statuses: list[ProjectStatus]
    export_statuses: list[ExportStatus]
    exhibit_statuses: list[ExhibitStatus]
    event_types: list[EventType]
    roles: list[Role] = Field(description="Member roles, from most to least power.")
    audit_actions: list[AuditAction]


def _kind(kind: kinds.Kind) -> KindOut:
    return KindOut(
        key=kind.key,
        label=kind.label,
        title=kind.title,
        output=kind.spec.output,
        step=kind.step,
        agent=kind.agent,
        description=kind.template.description,
        version=kind.version,
        source=kind.source,
        revision=kind.revision,
        document_types=list(kind.document_types),
        depends_on=list(kind.depends_on),
        inputs=list(kind.spec.inputs),
        parts=[
            KindPartOut(
                template=part.key,
                document_type=part.document_type,
                title=part.title,
                sections=[
                    KindSectionOut(
                        key=s.key, title=s.title, kind=s.kind, target_words=s.target_words
                    )
                    for s in part.sections
                ],
            )
            for part in kind.parts
        ],
    )


@router.get("/kinds", summary="List document kinds and plan steps", responses=responses(401, 403))
async def list_kinds(session: SessionDep) -> list[KindOut]:
    """Every document kind: the plan's steps in order, then the built-in kinds written on
    their own, then the tenant's own live kinds (``source: tenant``) by key."""
    return [_kind(kind) for kind in await kinds.for_tenant(session)]


@router.get("/vocabulary", summary="List statuses and event types", responses=responses(401, 403))
async def vocabulary(principal: PrincipalDep) -> VocabularyOut:
    """Every status and event type the API and the event stream use."""
    return VocabularyOut(
        run_statuses=list(RunStatus),
        desired_states=list(DesiredState),
        section_statuses=list(SectionStatus),
        project_statuses=list(ProjectStatus),
        export_statuses=list(ExportStatus),
        exhibit_statuses=list(ExhibitStatus),
        event_types=list(EventType),
        roles=list(Role),
        audit_actions=list(AuditAction),
    )
