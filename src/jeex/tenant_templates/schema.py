"""A tenant template as YAML text: what it may say, and every problem with its line.

A tenant template is a ``jeex.templates.DocumentTemplate`` with a ``kind`` block, held
to a few more rules: it is written by the generic writer (no ``agent``), on its own (no
plan ``step``, nothing it ``also_writes``), and its key and document type are not a
built-in's. ``TenantTemplateModel`` states those rules, so its JSON schema
(``json_schema``, published at ``GET /api/v1/templates/schema`` and as
``docs/template.schema.json``) is the contract an editor can check a file against.

``parse`` reads the YAML with PyYAML's node marks, so each problem names the line of the
value (or of the unknown key) it is about: ``{line, field, message}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import yaml
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.config import JsonDict

from jeex.errors import InvalidTemplate, PayloadTooLarge
from jeex.templates import DocumentTemplate, KindSpec, list_templates

#: Upper bound of one template's YAML, in bytes (UTF-8).
MAX_SOURCE_BYTES = 64 * 1024
KEY_PATTERN = r"^[a-z][a-z0-9_]{1,59}$"
#: Keys that would clash with a route (``/templates/schema``) or a project's ``plan`` kind.
RESERVED_KEYS = frozenset({"schema", "plan"})
#: Problems listed at most (a badly broken file would otherwise list hundreds).
MAX_PROBLEMS = 50
#: ``kind`` fields that only a built-in kind (with its own agent module) may use.
BUILTIN_ONLY = ("step", "also_writes", "structured_calls", "estimated_units")


def _drop_builtin_only(schema: JsonDict) -> None:
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name in BUILTIN_ONLY:
            properties.pop(name, None)


class TenantKindSpec(KindSpec):
    """The ``kind`` block of a tenant template: a document written on its own."""

    model_config = ConfigDict(json_schema_extra=_drop_builtin_only)

    @field_validator(*BUILTIN_ONLY, mode="before")
    @classmethod
    def _builtin_only(cls, value: Any, info: ValidationInfo) -> Any:
        # Any value given is refused, even a default one: the field means nothing here.
        raise ValueError(f"{info.field_name!r} is for built-in kinds only; leave it out")


class TenantTemplateModel(DocumentTemplate):
    """A tenant's document kind: its sections, and the ``kind`` block that makes it one."""

    key: str = Field(
        pattern=KEY_PATTERN,
        max_length=60,
        description="Lowercase letters, digits and _, starting with a letter; 2 to 60 long.",
    )
    version: str = Field(
        default="1.0",
        pattern=r"^\d+\.\d+$",
        description="The author's own label; the server numbers each upload itself.",
    )
    agent: None = Field(default=None, description="Always null: the generic writer writes it.")
    kind: TenantKindSpec

    @field_validator("agent", mode="before")
    @classmethod
    def _generic_writer(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("tenant kinds are written by the generic writer: agent must be null")
        return value


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template: where (1-based line, dotted field) and what."""

    line: int | None
    field: str
    message: str


def json_schema() -> dict[str, Any]:
    """The JSON schema of a tenant template (draft 2020-12)."""
    schema = TenantTemplateModel.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://jeex.dev/schemas/template.schema.json",
        **schema,
        "title": "JEEX tenant template",
    }


def check_size(source: str) -> None:
    size = len(source.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        raise PayloadTooLarge(
            f"the template is {size} bytes; a template may be at most {MAX_SOURCE_BYTES} bytes"
        )


def parse(source: str, *, new: bool = True) -> DocumentTemplate:
    """Validate YAML text as a tenant template; ``InvalidTemplate`` lists every problem.

    ``new``: an upload, whose key and document type must not be a built-in's. A stored
    version was checked when it was uploaded; a built-in added since must not make it
    unreadable for the runs that pinned it.
    """
    check_size(source)
    node, data = _load(source)
    try:
        template = TenantTemplateModel.model_validate(data)
    except ValidationError as exc:
        raise _invalid(_problems(node, exc.errors())) from None
    clashes = list(_builtin_clashes(node, template)) if new else []
    if clashes:
        raise _invalid(clashes)
    return template


def key_line(source: str) -> int | None:
    """The line of the top-level ``key`` of text that ``parse`` accepted."""
    return _find_line(_load(source)[0], ("key",))


@lru_cache(maxsize=512)
def parse_stored(source: str) -> DocumentTemplate:
    """``parse`` for a stored version: the same text always gives the same template."""
    return parse(source, new=False)


def _invalid(problems: Iterable[Problem]) -> InvalidTemplate:
    ordered = sorted(problems, key=lambda p: (p.line or 0, p.field))
    return InvalidTemplate([asdict(p) for p in ordered[:MAX_PROBLEMS]])


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: ``*name`` shares a value, and a few nested
    aliases in a small file would expand to millions of values when validated."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a template", mark
            )
        return super().compose_node(parent, index)


def _load(source: str) -> tuple[yaml.Node, Any]:
    """The document's node tree (with marks) and its Python value."""
    try:
        node, data = _compose(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else None
        raise _invalid([Problem(line, "", f"invalid YAML: {message}")]) from None
    except yaml.reader.ReaderError as exc:
        # Raised before any mark exists (a control character): its line from its position.
        line = source[: exc.position].count("\n") + 1
        raise _invalid(
            [Problem(line, "", f"invalid YAML: {exc.reason} #x{exc.character:04x}")]
        ) from None
    except yaml.YAMLError as exc:
        raise _invalid([Problem(None, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise _invalid([Problem(None, "", "the YAML is nested too deeply")]) from None
    if not isinstance(data, dict):
        raise _invalid([Problem(_line(node), "", "expected a mapping (key: value) at the top")])
    return node, data


def _compose(source: str) -> tuple[yaml.Node, Any]:
    loader = _Loader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _invalid([Problem(1, "", "the template is empty")])
        _no_duplicate_keys(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _no_duplicate_keys(node: yaml.Node, path: Sequence[str | int] = ()) -> None:
    # PyYAML keeps the last of two equal keys silently; an author means one of them.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                field = _field((*path, name))
                raise _invalid([Problem(_line(key), field, "this key is given twice")])
            seen.add(name)
            _no_duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _no_duplicate_keys(item, (*path, index))


def _problems(node: yaml.Node, errors: Sequence[Any]) -> list[Problem]:
    problems: list[Problem] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "this required field is missing"
        elif error.get("type") == "extra_forbidden":
            message = "unknown field (a typo?)"
        line = _find_line(node, loc, key_line=error.get("type") == "extra_forbidden")
        problems.append(Problem(line, _field(loc), message))
    return problems


def _find_line(node: yaml.Node, loc: Sequence[Any], *, key_line: bool = False) -> int:
    """The line of the value at ``loc``; of its key for an unknown field; for a missing
    one, of the key whose block lacks it (``kind:``), or of the block itself."""
    holder = _line(node)
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if pair is None:
                return holder
            holder = _line(pair[0])
            node = pair[0] if last and key_line else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return holder
            node = node.value[part]
            holder = _line(node)
        else:
            return _line(node)
    return _line(node)


def _builtin_clashes(node: yaml.Node, template: DocumentTemplate) -> Iterable[Problem]:
    builtins = list_templates()
    if template.key in {t.key for t in builtins} | RESERVED_KEYS:
        message = f"{template.key!r} is a built-in kind's key (or reserved); choose another"
        yield Problem(_find_line(node, ("key",)), "key", message)
    if template.document_type in {t.document_type for t in builtins}:
        message = f"{template.document_type!r} is a built-in document type; choose another"
        yield Problem(_find_line(node, ("document_type",)), "document_type", message)


def _field(loc: Sequence[Any]) -> str:
    """``("sections", 1, "title")`` → ``sections[1].title``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


if __name__ == "__main__":
    # Writes docs/template.schema.json: python -m jeex.tenant_templates.schema > that file.
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
