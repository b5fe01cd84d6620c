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
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "AgentName",
    "DocumentTemplate",
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


class DocumentTemplate(BaseModel):
    """A document kind: its metadata and its sections, in the order they are generated."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(pattern=_KEY_PATTERN, max_length=64)
    document_type: str = Field(pattern=_KEY_PATTERN, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=1_000)
    version: str = Field(pattern=r"^\d+\.\d+$")
    agent: AgentName | None = None
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


@cache
def _builtin_templates() -> Mapping[str, DocumentTemplate]:
    # Loaded all at once so a broken file fails the first lookup, not some later run.
    package = files(__name__)
    templates: dict[str, DocumentTemplate] = {}
    for entry in package.iterdir():
        if entry.is_file() and entry.name.endswith(_TEMPLATE_SUFFIX):
            template = _parse(entry.name, entry.read_text(encoding="utf-8"))
            templates[template.key] = template
    return dict(sorted(templates.items()))


def load_template(key: str) -> DocumentTemplate:
    """Return the built-in template ``key``; instances are cached and shared, so don't mutate."""
    templates = _builtin_templates()
    try:
        return templates[key]
    except KeyError:
        raise TemplateNotFound(key, list(templates)) from None


def list_templates() -> list[DocumentTemplate]:
    """All built-in templates, sorted by key so listings and tests are deterministic."""
    return list(_builtin_templates().values())


def template_fingerprint(template: DocumentTemplate) -> str:
    """Short hash of the template's content, recorded on a run to pin the text it used.

    Hashes canonical JSON (sorted keys, no whitespace), so it depends on the content
    only, not on YAML formatting, comments or key order in the file.
    """
    canonical = json.dumps(
        template.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
