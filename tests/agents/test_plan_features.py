"""Completing a thin epic plan from the earlier documents (no LLM involved)."""

from __future__ import annotations

import pytest

from jeex.agents import prompts
from jeex.agents.contracts import RawEpic, RawEpicPlan
from jeex.agents.plan_features import complete_plan, feature_candidates
from jeex.agents.prompts import Brief
from jeex.agents.repair import UnrepairableOutput

ABOUT = """# About Groceries

## Problem

Families forget things.

## Scope

In scope:
- **Shared lists**: everyone in the family edits one list.
- **Offline mode**: the list works without a network.
- Barcode scanning
- List of items that are part of this list.
- **Deployment pipeline**: continuous delivery
- TBD

Out of scope:
- **Meal planning**: recipes and menus.
"""

ARCHITECTURE = """# Architecture

## Components

1. **Sync service** - keeps every phone's list in step.
2. API gateway: routes requests to services.
3. **Shared lists**: duplicate of the about document's feature.
"""

REPEATED = RawEpicPlan(
    epics=[RawEpic(number=n, title="The Shared grocery list app for families") for n in (1, 2, 2)]
)


def test_candidates_come_from_in_scope_and_components_in_order() -> None:
    titles = [c.title for c in feature_candidates([ABOUT, ARCHITECTURE])]
    assert titles == ["Shared lists", "Offline mode", "Barcode scanning", "Sync service",
                      "API gateway"]  # fmt: skip
    offline = feature_candidates([ABOUT])[1]
    assert offline.goal == "the list works without a network."
    # A short item is a feature's name; the start of a longer sentence is not.
    assert feature_candidates(["## Scope\n- Price alerts for staples."])[0].title == (
        "Price alerts for staples"
    )


def test_a_plan_with_one_repeated_title_is_completed_from_the_documents() -> None:
    repaired = complete_plan(REPEATED, feature_candidates([ABOUT, ARCHITECTURE]))
    titles = [e.title for e in repaired.value]
    assert titles[0] == "Infrastructure and project setup"
    assert titles[-1] == "Testing and quality assurance"
    assert titles[1:-1] == ["The Shared grocery list app for families", "Shared lists",
                            "Offline mode", "Barcode scanning"]  # fmt: skip
    assert any("added feature epics named in the earlier documents" in f for f in repaired.fixes)


def test_a_good_plan_is_left_alone() -> None:
    good = RawEpicPlan(
        epics=[RawEpic(number=i, title=t) for i, t in enumerate(
            ["Infrastructure", "Accounts", "Shared lists", "Notifications", "Testing"], 1)]
    )  # fmt: skip
    repaired = complete_plan(good, feature_candidates([ABOUT]))
    assert [e.title for e in repaired.value][1:-1] == ["Accounts", "Shared lists", "Notifications"]
    assert not any("earlier documents" in f for f in repaired.fixes)


def test_a_plan_with_no_features_and_no_candidates_still_fails() -> None:
    empty = RawEpicPlan(epics=[RawEpic(number=1, title="TBD")])
    with pytest.raises(UnrepairableOutput):
        complete_plan(empty, [])


def test_a_plan_with_no_features_is_rescued_by_candidates() -> None:
    empty = RawEpicPlan(epics=[RawEpic(number=1, title="TBD")])
    repaired = complete_plan(empty, feature_candidates([ABOUT]))
    assert len(repaired.value) == 5


@pytest.mark.parametrize("max_epics", [3, 4, 6])
def test_no_plan_exceeds_the_configured_number_of_epics(max_epics: int) -> None:
    many = RawEpicPlan(
        epics=[RawEpic(number=i, title=t) for i, t in enumerate(
            ["Infrastructure", "Accounts", "Shared lists", "Notifications", "Offline mode",
             "Barcode scanning", "Sharing", "Testing"], 1)]
    )  # fmt: skip
    for raw in (many, REPEATED):
        epics = complete_plan(raw, feature_candidates([ABOUT]), max_epics=max_epics).value
        assert 3 <= len(epics) <= max_epics
        assert epics[0].title.startswith("Infrastructure")
        assert epics[-1].title.startswith("Testing")
    schema = prompts.epic_plan_schema(max_epics)["properties"]["epics"]
    assert schema["maxItems"] == max_epics
    assert schema["minItems"] <= max_epics
    brief = Brief(idea="A shared grocery list", audience="", language="en", clarifications={})
    ask = prompts.epic_plan_messages(brief=brief, context="", max_epics=max_epics)[1]["content"]
    wanted = {3: "into 3 epics", 4: "into 4 epics", 6: "into 5 to 6 epics"}[max_epics]
    assert wanted in str(ask)
