"""Lenient JSON reading of weak-model answers (no LLM involved)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jeex.agents.repair_json import loads_lenient

FACTS = {"key_facts": ["Families share one list", "Lists sync"], "suggested_questions": []}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(FACTS),
        "```json\n" + json.dumps(FACTS) + "\n```",
        "Here is the JSON:\n" + json.dumps(FACTS) + "\nHope this helps.",
    ],
)
def test_wrapped_json_is_read(text: str) -> None:
    assert loads_lenient(text) == FACTS


def test_raw_newline_inside_a_string_is_accepted() -> None:
    assert loads_lenient('{"key_facts": ["one\ntwo"]}') == {"key_facts": ["one\ntwo"]}


def test_truncated_answer_keeps_the_complete_items() -> None:
    cut = '{"key_facts": ["Families share one list", "Lists sync", "Offl'
    assert loads_lenient(cut) == {"key_facts": ["Families share one list", "Lists sync"]}


def test_truncated_nested_objects_are_closed() -> None:
    cut = '{"epics": [{"number": 1, "title": "Setup"}, {"number": 2, "title": "Li'
    assert loads_lenient(cut) == {"epics": [{"number": 1, "title": "Setup"}, {"number": 2}]}


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2", '"just a string'])
def test_no_object_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="JSON"):
        loads_lenient(text)


@given(st.dictionaries(st.text(max_size=8), st.lists(st.text(max_size=20), max_size=4), max_size=4))
def test_valid_json_round_trips(value: dict[str, list[str]]) -> None:
    from jeex.db.text import without_nul

    assert loads_lenient(json.dumps(value)) == without_nul(value)


def test_markdown_copied_into_key_facts_is_dropped() -> None:
    from jeex.agents.repair import repair_key_facts

    facts = ["# Implementation plan for Groceries", "| Component | Role |",
             "Families share one grocery list", "> quoted line from the text"]  # fmt: skip
    assert repair_key_facts(facts).value == ["Families share one grocery list"]


def test_nul_characters_are_dropped_from_parsed_answers() -> None:
    from jeex.agents.repair_json import loads_lenient

    assert loads_lenient('{"a\\u0000": ["x\\u0000y", {"t": "\\u0000"}]}') == {
        "a": ["xy", {"t": ""}]
    }
