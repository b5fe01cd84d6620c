"""Built-in document templates: they load, say what the pipeline expects, and reject typos."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
from pydantic import ValidationError

from jeex.templates import (
    DocumentTemplate,
    SectionSpec,
    TemplateNotFound,
    list_templates,
    load_template,
    template_fingerprint,
)

PLAN_TEMPLATES = {
    "about": "business_analyst",
    "specs": "engineering_standards",
    "architecture": "architect",
    "plan_overview": "implementation_planner",
    "plan_epic": "implementation_planner",
}
OTHER_TEMPLATES = ("letter", "memo", "petition")
ALL_KEYS = sorted([*PLAN_TEMPLATES, *OTHER_TEMPLATES])


def _valid_data() -> dict[str, Any]:
    return {
        "key": "note",
        "document_type": "note",
        "title": "Note on {project}",
        "description": "A short note.",
        "version": "1.0",
        "agent": None,
        "sections": [
            {"key": "body", "title": "Body", "instructions": "Write the note.", "target_words": 80}
        ],
    }


def test_list_templates_returns_every_builtin_sorted() -> None:
    assert [t.key for t in list_templates()] == ALL_KEYS


@pytest.mark.parametrize("key", ALL_KEYS)
def test_template_loads_and_validates(key: str) -> None:
    template = load_template(key)

    assert template.key == key
    assert template.document_type == key
    assert template.sections
    for spec in template.sections:
        assert template.section(spec.key) is spec
        assert spec.instructions.strip()
    assert template.render_title(project="Acme", epic_title="Login")


@pytest.mark.parametrize(("key", "agent"), sorted(PLAN_TEMPLATES.items()))
def test_plan_templates_have_their_agent(key: str, agent: str) -> None:
    assert load_template(key).agent == agent


@pytest.mark.parametrize(
    ("key", "titles"),
    [
        (
            "petition",
            [
                "I. Introduction",
                "II. Beneficiary background",
                "III. Criterion 2.1 – Awards",
                "IV. Criterion 2.2 – Memberships",
                "V. Criterion 2.6 – Scholarly articles",
            ],
        ),
        ("letter", ["Header", "Body", "Closing"]),
        ("memo", ["Memorandum"]),
    ],
)
def test_document_kinds_have_the_specifications_sections(key: str, titles: list[str]) -> None:
    template = load_template(key)

    assert template.agent is None
    assert [s.title for s in template.sections] == titles
    assert template.kind is not None
    assert template.kind.step is None
    assert any(field.required for field in template.kind.inputs)


@pytest.mark.parametrize(
    ("key", "sections"),
    [
        ("about", ["problem", "audience", "value", "scope", "risks", "metrics"]),
        ("architecture", ["overview", "components", "data_model", "technology_stack",
                          "deployment", "diagrams"]),
        ("plan_overview", ["summary", "approach", "milestones", "risks"]),
        ("plan_epic", ["goal", "scope", "tasks", "acceptance_criteria",
                       "dependencies_and_risks"]),
    ],
)  # fmt: skip
def test_plan_template_sections_in_order(key: str, sections: list[str]) -> None:
    assert [s.key for s in load_template(key).sections] == sections


def test_specs_covers_the_required_standards() -> None:
    keys = {s.key for s in load_template("specs").sections}

    assert {"coding_standards", "testing", "code_review", "security"} <= keys


def test_titles_render_with_placeholders() -> None:
    assert load_template("about").render_title(project="Acme") == "About Acme"
    assert load_template("specs").render_title(project="Acme") == "Engineering standards for Acme"
    assert load_template("architecture").render_title(project="Acme") == "Architecture of Acme"
    overview = load_template("plan_overview")
    assert overview.render_title(project="Acme") == "Implementation plan for Acme"
    epic = load_template("plan_epic")
    assert epic.render_title(project="Acme", epic_title="User login") == "User login"


def test_architecture_diagram_is_a_mermaid_section() -> None:
    diagrams = load_template("architecture").section("diagrams")

    assert diagrams.kind == "mermaid"
    assert "mermaid" in diagrams.instructions


def test_epic_tasks_and_criteria_are_lists() -> None:
    epic = load_template("plan_epic")

    assert epic.section("tasks").kind == "list"
    assert epic.section("acceptance_criteria").kind == "list"


def test_unknown_section_key_names_the_sections() -> None:
    with pytest.raises(KeyError, match="problem"):
        load_template("about").section("nope")


def test_unknown_template_names_available_keys() -> None:
    with pytest.raises(TemplateNotFound) as excinfo:
        load_template("novel")

    assert isinstance(excinfo.value, LookupError)
    message = str(excinfo.value)
    assert "novel" in message
    for key in ALL_KEYS:
        assert key in message


def test_load_template_is_cached() -> None:
    assert load_template("about") is load_template("about")


def test_valid_dict_validates() -> None:
    template = DocumentTemplate.model_validate(_valid_data())

    assert template.section("body").kind == "prose"


def test_unknown_template_field_is_rejected() -> None:
    data = _valid_data()
    data["sectoins"] = data["sections"]

    with pytest.raises(ValidationError, match="sectoins"):
        DocumentTemplate.model_validate(data)


def test_unknown_section_field_is_rejected() -> None:
    data = _valid_data()
    data["sections"][0]["instruction"] = "typo"

    with pytest.raises(ValidationError, match="instruction"):
        DocumentTemplate.model_validate(data)


def test_duplicate_section_keys_are_rejected() -> None:
    data = _valid_data()
    data["sections"].append(dict(data["sections"][0]))

    with pytest.raises(ValidationError, match="duplicate section keys: body"):
        DocumentTemplate.model_validate(data)


def test_empty_sections_are_rejected() -> None:
    data = _valid_data()
    data["sections"] = []

    with pytest.raises(ValidationError):
        DocumentTemplate.model_validate(data)


def test_unknown_title_placeholder_is_rejected() -> None:
    data = _valid_data()
    data["title"] = "Note on {projcet}"

    with pytest.raises(ValidationError, match="projcet"):
        DocumentTemplate.model_validate(data)


def test_unknown_agent_is_rejected() -> None:
    data = _valid_data()
    data["agent"] = "poet"

    with pytest.raises(ValidationError):
        DocumentTemplate.model_validate(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [("key", "Bad-Key"), ("target_words", 10), ("target_words", 2000), ("kind", "poem")],
)
def test_invalid_section_values_are_rejected(field: str, value: object) -> None:
    data = _valid_data()["sections"][0]
    data[field] = value

    with pytest.raises(ValidationError):
        SectionSpec.model_validate(data)


def test_fingerprint_is_stable_and_short() -> None:
    first = template_fingerprint(load_template("about"))
    again = template_fingerprint(DocumentTemplate.model_validate(_about_data()))

    assert first == again
    assert len(first) == 16
    assert int(first, 16) >= 0


def test_fingerprint_changes_with_content() -> None:
    original = template_fingerprint(load_template("about"))
    data = _about_data()
    data["sections"][0]["instructions"] += " Be brief."

    assert template_fingerprint(DocumentTemplate.model_validate(data)) != original


def test_fingerprints_differ_between_templates() -> None:
    fingerprints = {template_fingerprint(t) for t in list_templates()}

    assert len(fingerprints) == len(ALL_KEYS)


def test_templates_ship_inside_the_package() -> None:
    package = files("jeex.templates")
    shipped = sorted(
        entry.name.removesuffix(".yaml")
        for entry in package.iterdir()
        if entry.is_file() and entry.name.endswith(".yaml")
    )

    assert shipped == ALL_KEYS


def _about_data() -> dict[str, Any]:
    return load_template("about").model_dump(mode="json")
