"""Document templates: which sections a document has and what to ask the model for each.

Templates are data, not code, so a new document kind (or a better instruction) is a
YAML edit that needs no change to the generation engine. The built-in templates live
next to this module and are read through ``importlib.resources`` so they resolve the
same way from a source checkout, an installed wheel or a zip import.

The models forbid unknown keys: a misspelt field in a YAML file must fail when the
template is loaded, not silently produce a document without that instruction.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jeex.config import get_settings

__all__ = [
    "AgentName",
    "DocumentTemplate",
    "KindSpec",
    "SectionKind",
    "SectionSpec",
    "TemplateError",
    "TemplateNotFound",
    "list_templates",
    "load_template",
    "template_fingerprint",
]

SectionKind = Literal["prose", "mermaid", "table", "list"]
AgentName = Literal[
    "business_analyst", "engineering_standards", "architect", "implementation_planner"
]

#: Placeholders the code fills into a template title; anything else would be a
#: ``KeyError`` at render time, so it is rejected when the template is loaded.
TITLE_PLACEHOLDERS = frozenset({"project", "epic_title"})

_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
_TEMPLATE_SUFFIX = ".yaml"


class TemplateNotFound(LookupError):
    """Raised for an unknown template key; names the valid keys so a typo is easy to fix."""

    def __init__(self, key: str, available: list[str]) -> None:
        self.key = key
        self.available = available
        super().__init__(
            f"unknown document template {key!r}; available: {', '.join(available) or 'none'}"
        )


class TemplateError(ValueError):
    """Raised when a bundled template file cannot be parsed or validated.

    Wraps the underlying error with the file name, because a pydantic error alone
    does not say which of the YAML files is broken.
    """


class SectionSpec(BaseModel):
    """One section of a document: one LLM call, rendered as ``## {title}`` plus its text."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(pattern=_KEY_PATTERN, max_length=64)
    title: str = Field(min_length=1, max_length=120)
    instructions: str = Field(min_length=1, max_length=2_000)
    target_words: int = Field(ge=20, le=1500)
    kind: SectionKind = "prose"


class InputField(BaseModel):
    """One field a user fills in when starting a document of a kind (``POST /documents``).

    The values reach every section's prompt as facts ("Beneficiary: Dr. Ana Ruiz"), and
    the browser draws its form from these declarations.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(pattern=_KEY_PATTERN, max_length=64)
    label: str = Field(min_length=1, max_length=80)
    required: bool = False
    #: A paragraph rather than one line (the browser shows a text area).
    multiline: bool = False
    max_chars: int = Field(default=500, ge=1, le=20_000)
    help: str = Field(default="", max_length=300)


class KindSpec(BaseModel):
    """What makes a template a document kind users can ask for (``jeex.kinds``).

    A template without this block is a part of another kind (``plan_epic`` is written
    by the ``plan_overview`` kind, once per epic).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    #: Who writes it, as users see it: "Business Analyst", "Letter".
    label: str = Field(min_length=1, max_length=80)
    #: Where it lands in the package: a file (``about.md``) or a folder (``plans/``).
    output: str = Field(pattern=r"^[a-z0-9_.-]+/?$", max_length=80)
    #: Its place in the plan (``jeex plan --steps``); None for a kind written on its own.
    step: int | None = Field(default=None, ge=1, le=4)
    #: Document types given to it as earlier context, in this order.
    depends_on: list[str] = Field(default_factory=list)
    #: Further templates this kind writes (one document per unit, e.g. per epic).
    also_writes: list[str] = Field(default_factory=list)
    #: Structured (JSON) calls it makes besides its sections; progress counts them.
    structured_calls: int = Field(default=1, ge=0, le=10)
    #: Units (documents of ``also_writes``) expected before they are planned.
    estimated_units: int = Field(default=0, ge=0, le=100)
    #: What a user fills in to start one (documents only; a plan step reads the project).
    inputs: list[InputField] = Field(default_factory=list, max_length=30)

    @field_validator("inputs")
    @classmethod
    def _distinct_inputs(cls, value: list[InputField]) -> list[InputField]:
        keys = [field.key for field in value]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"input keys must be distinct; repeated: {', '.join(repeated)}")
        return value


class DocumentTemplate(BaseModel):
    """A document kind: its metadata and its sections, in the order they are generated."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(pattern=_KEY_PATTERN, max_length=64)
    document_type: str = Field(pattern=_KEY_PATTERN, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=1_000)
    version: str = Field(pattern=r"^\d+\.\d+$")
    agent: AgentName | None = None
    kind: KindSpec | None = None
    sections: list[SectionSpec] = Field(min_length=1)

    @field_validator("title")
    @classmethod
    def _known_placeholders_only(cls, value: str) -> str:
        # Checked here so that filling the title can never fail in the middle of a run.
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"malformed placeholder in title: {exc}") from exc
        unknown = fields - TITLE_PLACEHOLDERS
        if unknown:
            allowed = ", ".join(f"{{{name}}}" for name in sorted(TITLE_PLACEHOLDERS))
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)} in title; allowed: {allowed}"
            )
        return value

    @field_validator("sections")
    @classmethod
    def _unique_section_keys(cls, value: list[SectionSpec]) -> list[SectionSpec]:
        # Section keys identify stored run sections; a duplicate would make two
        # sections overwrite each other on resume.
        counts = Counter(spec.key for spec in value)
        duplicates = sorted(key for key, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate section keys: {', '.join(duplicates)}")
        return value

    def section(self, key: str) -> SectionSpec:
        """Look a section up by key; a ``KeyError`` names the valid keys for the caller."""
        for spec in self.sections:
            if spec.key == key:
                return spec
        keys = ", ".join(spec.key for spec in self.sections)
        raise KeyError(f"template {self.key!r} has no section {key!r}; sections: {keys}")

    def render_title(self, *, project: str, epic_title: str = "") -> str:
        """Fill the title placeholders; values are data, never parsed as a format string."""
        return self.title.format(project=project, epic_title=epic_title)


def _parse(name: str, text: str) -> DocumentTemplate:
    expected_key = name.removesuffix(_TEMPLATE_SUFFIX)
    try:
        data: Any = yaml.safe_load(text)
        if not isinstance(data, Mapping):
            raise TemplateError(f"{name}: expected a mapping at the top level")
        template = DocumentTemplate.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateError(f"{name}: {exc}") from exc
    if template.key != expected_key:
        # The file name is how templates are found, so it must agree with the content.
        raise TemplateError(f"{name}: key {template.key!r} does not match the file name")
    return template


def _read(entries: Iterable[Traversable]) -> dict[str, DocumentTemplate]:
    templates: dict[str, DocumentTemplate] = {}
    for entry in entries:
        if entry.is_file() and entry.name.endswith(_TEMPLATE_SUFFIX):
            template = _parse(entry.name, entry.read_text(encoding="utf-8"))
            templates[template.key] = template
    return templates


@cache
def _templates(extra_dir: Path | None) -> Mapping[str, DocumentTemplate]:
    # Loaded all at once so a broken file fails the first lookup, not some later run.
    templates = _read(files(__name__).iterdir())
    if extra_dir is not None:
        added = _read(sorted(extra_dir.iterdir()) if extra_dir.is_dir() else [])
        clashes = sorted(set(added) & set(templates))
        if clashes:
            # A built-in kind silently replaced would change every plan: refuse it.
            raise TemplateError(f"{extra_dir}: {', '.join(clashes)} would replace a built-in")
        templates |= added
    return dict(sorted(templates.items()))


def _all() -> Mapping[str, DocumentTemplate]:
    return _templates(get_settings().templates_dir)


def load_template(key: str) -> DocumentTemplate:
    """Return the template ``key``; instances are cached and shared, so don't mutate."""
    templates = _all()
    try:
        return templates[key]
    except KeyError:
        raise TemplateNotFound(key, list(templates)) from None


def list_templates() -> list[DocumentTemplate]:
    """Every template (built in, then ``JEEX_TEMPLATES_DIR``), sorted by key."""
    return list(_all().values())


def template_fingerprint(template: DocumentTemplate) -> str:
    """Short hash of the template's content, recorded on a run to pin the text it used.

    Hashes canonical JSON (sorted keys, no whitespace), so it depends on the content
    only, not on YAML formatting, comments or key order in the file.
    """
    # The kind block says where a document goes, not what the model is asked: left out.
    canonical = json.dumps(
        template.model_dump(mode="json", exclude={"kind"}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
