"""Every document kind and plan step, declared once: by the templates that have a ``kind``.

A kind is a template with a ``kind:`` block (``jeex.templates.KindSpec``): its key, what
users call it, where it lands, which plan step it is (if any), which documents it reads
and which other templates it writes. Everything that used to list the steps by hand —
the runner's agents, the CLI's progress bars, ``--steps``, the browser's step list
(``GET /api/v1/kinds``) — reads this registry. Adding a kind is one template file (in
the package or ``JEEX_TEMPLATES_DIR``), plus an agent module only when its writing
differs from the generic one.

A tenant adds kinds of its own as YAML (``jeex.tenant_templates``): ``for_tenant``
lists the built-in kinds and the tenant's live ones together, ``resolve`` finds the kind
a new document is to be written as (with the tenant template version it pins), and
``pinned`` reads back exactly the version a run pinned, even after it was retired or
edited. Tenant kinds need a session (they are tenant rows); the built-in ones do not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from jeex.config import get_settings
from jeex.errors import AppError, InvalidInput, NotFound
from jeex.templates import (
    DocumentTemplate,
    KindSpec,
    TemplateError,
    list_templates,
    load_template,
    template_fingerprint,
)
from jeex.tenant_templates import service as tenant_templates
from jeex.tenant_templates.models import TenantTemplate

log = structlog.get_logger("jeex.kinds")


@dataclass(frozen=True)
class Kind:
    """One document kind: its template, and what the ``kind`` block says of it."""

    template: DocumentTemplate
    spec: KindSpec
    #: The tenant template version it is (``tenant_templates.id``); None for a built-in.
    template_id: uuid.UUID | None = None
    #: That version's number (1, 2, …); None for a built-in.
    revision: int | None = None

    @property
    def source(self) -> Literal["builtin", "tenant"]:
        """Shipped with JEEX (or ``JEEX_TEMPLATES_DIR``), or uploaded by the tenant."""
        return "builtin" if self.template_id is None else "tenant"

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def step(self) -> int | None:
        return self.spec.step

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def title(self) -> str:
        """How the UI and the CLI name it: "Business Analyst → about.md"."""
        return f"{self.spec.label} → {self.spec.output}"

    @property
    def agent(self) -> str | None:
        """The agent module that writes it; None for the generic writer."""
        return self.template.agent

    @property
    def version(self) -> str:
        """Recorded on each run: the template's key, version and content fingerprint.

        A tenant kind's version is the number the server gave it (``memo_x@3+…``).
        """
        t = self.template
        version = t.version if self.revision is None else self.revision
        return f"{t.key}@{version}+{template_fingerprint(t)}"

    @property
    def parts(self) -> tuple[DocumentTemplate, ...]:
        """Its own template, then those it writes once per unit (a tenant kind writes none:
        its template is not a file ``load_template`` could find)."""
        if self.template_id is not None:
            return (self.template,)
        return (self.template, *(load_template(key) for key in self.spec.also_writes))

    @property
    def document_types(self) -> tuple[str, ...]:
        return tuple(part.document_type for part in self.parts)

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(self.spec.depends_on)

    def expected_sections(self, units: int | None = None) -> int:
        """Sections and structured calls a run of it makes; units default to the estimate."""
        count = self.spec.structured_calls + len(self.template.sections)
        if self.template_id is not None:
            return count
        per_unit = sum(len(load_template(key).sections) for key in self.spec.also_writes)
        return count + (self.spec.estimated_units if units is None else units) * per_unit


def all_kinds() -> list[Kind]:
    """Plan steps in order, then the other kinds by key."""
    return list(_kinds(get_settings().templates_dir))


@cache
def _kinds(templates_dir: Path | None) -> tuple[Kind, ...]:
    # Once per templates folder, like the templates themselves: asked for on every run,
    # progress snapshot and progress event.
    found = [Kind(t, t.kind) for t in list_templates() if t.kind is not None]
    steps = [k.step for k in found if k.step is not None]
    if len(steps) != len(set(steps)):
        raise TemplateError(f"two kinds claim one plan step: {sorted(steps)}")
    return tuple(sorted(found, key=lambda k: (k.step is None, k.step or 0, k.key)))


def plan_steps() -> dict[int, Kind]:
    """The plan's steps by number, in order."""
    return {k.step: k for k in all_kinds() if k.step is not None}


def by_step(step: int) -> Kind:
    steps = plan_steps()
    if step not in steps:
        raise InvalidInput(f"no step {step}; steps are {', '.join(map(str, steps))}")
    return steps[step]


def get(key: str) -> Kind:
    for kind in all_kinds():
        if kind.key == key:
            return kind
    known = ", ".join(k.key for k in all_kinds())
    raise InvalidInput(f"unknown document kind {key!r}; kinds: {known}")


async def for_tenant(session: AsyncSession) -> list[Kind]:
    """The built-in kinds (as ``all_kinds``), then the tenant's live kinds by key, each in
    its latest version."""
    builtin = all_kinds()
    taken = {kind.key for kind in builtin}
    tenant = [
        kind
        for row in await tenant_templates.list_latest(session, live_only=True)
        if row.key not in taken and (kind := _readable(row)) is not None
    ]
    return [*builtin, *tenant]


async def resolve(session: AsyncSession, key: str) -> tuple[Kind, uuid.UUID | None]:
    """The kind a new document of ``key`` is written as, and the template version it pins:
    a built-in kind with None, or the tenant kind's latest live version with its row id.
    Unknown or retired: ``InvalidInput`` naming the kinds there are."""
    for kind in all_kinds():
        if kind.key == key:
            return kind, None
    try:
        row = await tenant_templates.get_latest_or_raise(session, key=key)
    except NotFound:
        row = None
    if row is None or row.retired_at is not None:
        known = ", ".join(k.key for k in await for_tenant(session))
        state = "retired" if row is not None else "unknown"
        raise InvalidInput(f"{state} document kind {key!r}; kinds: {known}")
    kind = tenant_kind(row)
    return kind, kind.template_id


async def pinned(session: AsyncSession, template_id: uuid.UUID) -> Kind:
    """Exactly the tenant template version a run pinned, retired or edited since or not."""
    row = await tenant_templates.get(session, template_id=template_id)
    if row is None:
        raise NotFound(f"no tenant template version {template_id}")
    return tenant_kind(row)


def tenant_kind(row: TenantTemplate) -> Kind:
    """The kind one stored tenant template version describes."""
    template = tenant_templates.template_of(row)
    assert template.kind is not None, "a tenant template always has a kind block"
    return Kind(template, template.kind, template_id=row.id, revision=row.version)


def _readable(row: TenantTemplate) -> Kind | None:
    # A version stored under older rules that no longer parses is left out of the list
    # (and logged) rather than making every listing fail; pinned runs still raise.
    try:
        return tenant_kind(row)
    except AppError:
        log.warning("kinds.tenant_template_unreadable", key=row.key, version=row.version)
        return None
