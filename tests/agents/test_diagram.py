"""The fallback component diagram (no LLM involved)."""

from __future__ import annotations

from jeex.agents.base import complete_diagrams
from jeex.agents.diagram import components, flowchart
from jeex.agents.quality import WrittenSection, check_mermaid
from jeex.templates import load_template

COMPONENTS = """- **Mobile app**: shows the list; calls the API gateway.
- **API gateway**: routes requests to the Sync service.
- **Sync service**: keeps lists in step.
- Plain sentence without a name
- **TBD**: nothing
"""


def test_components_are_read_from_list_items() -> None:
    assert [name for name, _ in components(COMPONENTS)] == [
        "Mobile app", "API gateway", "Sync service"
    ]  # fmt: skip


def test_edges_only_where_a_description_names_a_component() -> None:
    chart = flowchart(components(COMPONENTS))
    assert chart is not None
    assert chart.startswith("```mermaid\nflowchart LR")
    assert 'C1["Mobile app"]' in chart
    assert "C1 --> C2" in chart
    assert "C2 --> C3" in chart
    assert "C3 -->" not in chart


def test_names_cannot_break_the_diagram() -> None:
    chart = flowchart([('Web "UI" [beta]', ""), ("API <v2>", "")])
    assert chart is not None
    assert 'C1["Web UI beta"]' in chart
    assert 'C2["API v2"]' in chart


def test_fewer_than_two_components_draw_nothing() -> None:
    assert flowchart([("Only one", "")]) is None


def test_architecture_without_a_diagram_gets_one_and_the_check_still_fails() -> None:
    template = load_template("architecture")
    specs = {s.key: s for s in template.sections}
    sections = [
        WrittenSection(spec=specs["components"], content=COMPONENTS),
        WrittenSection(spec=specs["diagrams"], content="| not | mermaid |"),
    ]
    assert not check_mermaid(sections).passed
    completed = complete_diagrams(sections)
    assert "```mermaid" in completed[1].content
    assert "model wrote no diagram" in completed[1].content
    model_written = [
        sections[0],
        WrittenSection(spec=specs["diagrams"], content="```mermaid\nflowchart LR\n  A-->B\n```"),
    ]
    assert complete_diagrams(model_written)[1].content == model_written[1].content
