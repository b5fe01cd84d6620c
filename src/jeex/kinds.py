"""Every document kind and plan step, declared once: by the templates that have a ``kind``.

A kind is a template with a ``kind:`` block (``jeex.templates.KindSpec``): its key, what
users call it, where it lands, which plan step it is (if any), which documents it reads
and which other templates it writes. Everything that used to list the steps by hand —
the runner's agents, the CLI's progress bars, ``--steps``, the browser's step list
(``GET /api/v1/kinds``) — reads this registry. Adding a kind is one template file (in
the package or ``JEEX_TEMPLATES_DIR``), plus an agent module only when its writing
differs from the generic one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jeex.config import get_settings
from jeex.errors import InvalidInput
from jeex.templates import (
    DocumentTemplate,
    KindSpec,
    TemplateError,
    list_templates,
    load_template,
    template_fingerprint,
)


@dataclass(frozen=True)
class Kind:
    """One document kind: its template, and what the ``kind`` block says of it."""

    template: DocumentTemplate
    spec: KindSpec

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
        """Recorded on each run: the template's key, version and content fingerprint."""
        t = self.template
        return f"{t.key}@{t.version}+{template_fingerprint(t)}"

    @property
    def parts(self) -> tuple[DocumentTemplate, ...]:
        """Its own template, then those it writes once per unit."""
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
