"""List sections are lists (`jeex.agents.list_sections`): items from JSON, each checked,
rendered as numbered tasks, a checklist of acceptance criteria, bullets, or the scope's two
lists. No model here: the inputs are what a small model answers."""

from __future__ import annotations

import pytest

from jeex.agents.list_sections import ask, items_markdown, schema_for
from jeex.agents.plan_features import feature_candidates
from jeex.agents.repair_echo import normalise


def test_tasks_are_numbered_and_criteria_a_checklist() -> None:
    tasks = items_markdown(
        "tasks", {"items": ["Create the lists table.", "Sync changes to every phone."]}, set()
    )
    assert tasks.value == "1. Create the lists table.\n2. Sync changes to every phone."
    assert tasks.fixes == ()
    criteria = items_markdown(
        "acceptance_criteria",
        {"items": ["A parent can share a list.", "Edits show at once."]},
        set(),
    )
    assert criteria.value == "- [ ] A parent can share a list.\n- [ ] Edits show at once."
    risks = items_markdown(
        "risks", {"items": ["Families may not switch apps."] * 1 + ["Sync may conflict."]}, set()
    )
    assert risks.value.startswith("- Families may not switch apps.\n- ")


def test_items_are_cleaned_deduplicated_and_never_said_twice() -> None:
    said = {normalise("The team has taken great care to ensure every detail meets standards.")}
    result = items_markdown(
        "risks",
        {
            "items": [
                "1. Families may not switch from paper lists.",
                "Families may not switch from paper lists!",
                "the model split this sentence over two items,",
                "A user can",  # cut off at the token limit
                "SECTION: Risks",
                "TBD",
                "The team has taken great care to ensure every detail meets standards.",
                "Sync conflicts when two parents edit the same item.\nStores change their aisles.",
                42,
            ]
        },
        said,
    )
    assert result.value.split("\n") == [
        "- Families may not switch from paper lists.",
        "- Sync conflicts when two parents edit the same item.",
        "- Stores change their aisles.",
    ]
    assert set(result.fixes) == {
        "dropped 1 list item(s): duplicate",
        "dropped 2 list item(s): a piece of a sentence",
        "dropped 1 list item(s): repeats the prompt",
        "dropped 1 list item(s): empty or placeholder",
        "dropped 1 list item(s): already written in the package",
        "dropped 1 list item(s): not text",
    }
    # What it kept is now said: the same long item in a later section is dropped.
    with pytest.raises(ValueError, match="only 0 usable item"):
        items_markdown("risks", {"items": ["Families may not switch from paper lists."]}, said)


def test_the_scope_has_two_lists_and_feeds_the_feature_epics() -> None:
    scope = items_markdown(
        "scope",
        {
            "in_scope": [
                "Shared lists: one list per family.",
                "Offline mode: works without signal.",
            ],
            "out_of_scope": ["Recipes: later."],
        },
        set(),
    )
    assert scope.value == (
        "**In scope**\n\n- Shared lists: one list per family.\n- Offline mode: works without "
        "signal.\n\n**Out of scope**\n\n- Recipes: later."
    )
    document = f"## Scope\n\n{scope.value}\n"
    assert [c.title for c in feature_candidates([document])] == ["Shared lists", "Offline mode"]
    assert schema_for("scope")["required"] == ["in_scope", "out_of_scope"]
    assert '"in_scope"' in ask("scope")


@pytest.mark.parametrize(
    "answer", [[], {"items": "not a list"}, {"items": ["TBD", "TODO"]}, {"in_scope": []}]
)
def test_too_few_usable_items_is_an_error_the_caller_retries(answer: object) -> None:
    key = "scope" if isinstance(answer, dict) and "in_scope" in answer else "risks"
    with pytest.raises(ValueError, match="usable|not a JSON object"):
        items_markdown(key, answer, set())


def test_an_item_holding_a_sentence_written_before_is_dropped() -> None:
    """The model often ends an item with a sentence it wrote before ("This is a
    game-changer …"): the whole item is the sentence twice to its reader."""
    loop = "This is a game-changer for sports marketing and for every club."
    said = {normalise(loop)}
    answer = {
        "items": [
            f"Customizable kits for every team. {loop}",
            "Members pay their fees online in two clicks.",
            "Coaches see who comes to training this week.",
        ]
    }
    result = items_markdown("tasks", answer, said)
    assert loop not in result.value
    assert result.value.startswith("1. Members pay their fees online")
    assert any("already written" in fix for fix in result.fixes)


def test_the_same_whole_list_twice_in_a_run_is_refused() -> None:
    said: set[str] = set()
    answer = {"items": ["Add a user to the table", "Add a role to the user", "Log it"]}
    items_markdown("tasks", answer, said)
    with pytest.raises(ValueError, match="repeats one the run already wrote"):
        items_markdown("tasks", answer, said)
