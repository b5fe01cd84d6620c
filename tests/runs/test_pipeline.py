"""The step runner end to end: real PostgreSQL, real HTTP scripted LLM, every fault."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from jeex.agents import prompts
from jeex.db.session import Database
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.engine import plans as pipeline
from jeex.engine.runner import RunnerDeps, execute_run
from jeex.errors import GenerationFailed, InvalidTransition, LLMUnavailable
from jeex.events.models import Event
from jeex.llm.client import LLMClient
from jeex.runs import lifecycle
from jeex.runs import service as runs_service
from jeex.runs.models import Run, RunSection
from jeex.tenants.service import Principal
from support.factories import create_plan
from support.fakellm import ScriptedLLM

IDEA = "A shared grocery list app for families"


async def _plan(deps: RunnerDeps, principal: Principal, steps: tuple[int, ...] = (1, 2, 3, 4)):
    return await create_plan(deps.db, tenant=principal, steps=steps, model=deps.llm.model)


async def _run(deps: RunnerDeps, principal: Principal, run: Run) -> Run:
    return await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id)


async def _documents(db: Database, principal: Principal, project_id: Any) -> list[DocumentVersion]:
    async with db.tenant_session(principal.tenant_id) as session:
        return await documents_service.list_(session, project_id=project_id)


async def _sections(db: Database, principal: Principal, run_id: Any) -> list[RunSection]:
    async with db.tenant_session(principal.tenant_id) as session:
        return await runs_service.list_sections(session, run_id=run_id)


async def _events(db: Database, principal: Principal, project_id: Any) -> list[Event]:
    async with db.tenant_session(principal.tenant_id) as session:
        rows = await session.scalars(
            select(Event).where(Event.project_id == project_id).order_by(Event.seq)
        )
        return list(rows.all())


async def _write_about(deps: RunnerDeps, principal: Principal) -> tuple[list[Run], DocumentVersion]:
    """Step 1 of a new plan, completed: its runs and the about document it wrote."""
    project, runs = await _plan(deps, principal, steps=(1,))
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    assert finished[0].status == "completed"
    docs = await _documents(deps.db, principal, project.id)
    return runs, next(d for d in docs if d.document_type == "about")


async def test_four_steps_write_the_whole_package(deps: RunnerDeps, principal: Principal) -> None:
    project, runs = await _plan(deps, principal)
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    assert [r.status for r in finished] == ["completed"] * 4

    docs = await _documents(deps.db, principal, project.id)
    kinds = {(d.document_type, d.epic_number) for d in docs}
    assert {("about", 0), ("specs", 0), ("architecture", 0), ("plan_overview", 0)} <= kinds
    epics = sorted(d.epic_number for d in docs if d.document_type == "plan_epic")
    assert epics == list(range(1, len(epics) + 1))
    assert 3 <= len(epics) <= 12
    about = next(d for d in docs if d.document_type == "about")
    assert about.content.startswith("# About ")
    for heading in ("## Problem", "## Key facts", "## Quality checks"):
        assert heading in about.content
    assert about.readability_score is not None
    assert about.grammar_score is None
    assert 0 < about.metadata_["confidence"] <= 1
    assert finished[0].output is not None
    assert finished[0].output["key_facts"] == about.metadata_["key_facts"]
    assert finished[0].tokens_in > 0
    assert finished[0].tokens_out > 0


async def test_prompt_echoes_and_repeated_sentences_never_reach_the_document(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    """The bundled model's habits (issue 15): it echoes its prompt's labels and closes
    every section with the same sentence. Neither reaches the document; both are recorded."""
    loop = "The team has taken great care to ensure that every detail meets the highest standards."
    llm_server.script_text(
        "Section: Problem",
        "Sections already written: none\n"
        f"Families forget items when only one person does the shopping. {loop}\n"
        "Length: about 120 words.",
    )
    llm_server.script_text(
        "Section: Target audience",
        f"Busy parents with two or more children plan their meals every week. {loop}",
    )
    runs, about = await _write_about(deps, principal)
    assert "Sections already written" not in about.content
    assert "Length: about" not in about.content
    assert about.content.count(loop) == 1
    assert "Busy parents with two or more children" in about.content
    checks = {c["item"]: c["passed"] for c in about.metadata_["validation_checklist"]}
    assert checks["No prompt text in the document"] is True
    assert checks["No sentence is repeated"] is True
    fixes = {s.key: s.metadata_["fixes"] for s in await _sections(deps.db, principal, runs[0].id)}
    assert "removed 2 line(s) repeating the prompt (labels or instructions)" in fixes["problem"]
    assert any(
        f.startswith("removed 1 sentence(s) already written in the package: 'The team has taken")
        for f in fixes["audience"]
    )
    # The model was told where to stop: at the prompt's own labels, and near the section's
    # target length (Problem: 150 words, English: 1.5 x 150 x 1.15 tokens).
    streamed = [r for r in llm_server.requests if r.get("stream")]
    assert streamed
    assert all(r["stop"] == list(prompts.SECTION_STOPS) for r in streamed)
    problem = next(r for r in streamed if "Section: Problem" in r["messages"][-1]["content"])
    assert problem["max_tokens"] == 259


async def test_a_paragraph_of_an_earlier_document_is_not_written_again(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    """The overview copied about.md's scope paragraph whole (issue 15's benchmark): a later
    document drops a paragraph an earlier one wrote, and keeps restating single sentences."""
    paragraph = (
        "Families forget items when only one person does the shopping. Paper lists get "
        "lost on the way to the store, and nobody knows what was already bought."
    )
    restated = "Families forget items when only one person does the shopping."
    llm_server.script_text("Section: Problem", paragraph)
    llm_server.script_text(
        "Section: Coding standards",
        f"{paragraph}\n\n{restated} Every change goes through a typed API and a review.",
    )
    project, runs = await _plan(deps, principal, steps=(1, 2))
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    assert [r.status for r in finished] == ["completed", "completed"]
    docs = {d.document_type: d for d in await _documents(deps.db, principal, project.id)}
    assert paragraph in docs["about"].content
    assert paragraph not in docs["specs"].content
    assert "Every change goes through a typed API and a review." in docs["specs"].content
    assert restated in docs["specs"].content  # a sentence may be restated, once, elsewhere
    fixes = {s.key: s.metadata_["fixes"] for s in await _sections(deps.db, principal, runs[1].id)}
    assert any(
        f.startswith("removed 1 sentence(s) already written in the package: 'Families forget")
        for f in fixes["coding_standards"]
    ), fixes


async def test_a_section_of_nothing_but_prompt_text_is_left_out_and_named(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    """Twice nothing but labels for one section: the plan goes on without it, and its
    document's check says so; a section the model wrote nothing at all for fails the step."""
    llm_server.script_text(
        "Section: Target audience",
        "Section: Target audience\nInstructions: Describe the audience.\nLength: about 150 words.",
    )
    runs, about = await _write_about(deps, principal)
    assert "## Target audience" not in about.content
    assert "Length: about" not in about.content
    checks = {c["item"]: c for c in about.metadata_["validation_checklist"]}
    written = next(c for item, c in checks.items() if item.startswith("All "))
    assert written["passed"] is False
    assert "Target audience" in written["detail"]
    fixes = {s.key: s.metadata_["fixes"] for s in await _sections(deps.db, principal, runs[0].id)}
    assert fixes["audience"][0].startswith("left out: twice the model wrote only prompt text")

    llm_server.script_text("Section: Problem", "   ")
    _, again = await _plan(deps, principal, steps=(1,))
    with pytest.raises(GenerationFailed, match="the model wrote nothing for section 'Problem'"):
        await _run(deps, principal, again[0])


async def test_a_question_is_asked_once_in_the_package(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    asked = "Which grocery stores should the list sync with first?"
    llm_server.script_json(
        "DocumentExtraction",
        {
            "key_facts": ["Families share one list", "Works offline", "Syncs at once"],
            "suggested_questions": [
                asked,
                "What makes the shared grocery list app for families a game-changer?",
            ],
        },
    )
    project, runs = await _plan(deps, principal, steps=(1, 2))
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    assert [r.status for r in finished] == ["completed", "completed"]
    docs = {d.document_type: d for d in await _documents(deps.db, principal, project.id)}
    assert docs["about"].metadata_["suggested_questions"] == [asked]
    assert docs["specs"].metadata_["suggested_questions"] == []
    assert (
        "dropped 1 question(s) an earlier document already asks"
        in (docs["specs"].metadata_["repairs"])
    )
    assert any("rhetorical" in fix for fix in docs["about"].metadata_["repairs"])


async def test_list_sections_are_lists_and_prose_when_json_fails(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    # The first list section's two JSON answers are unusable: it is written as prose.
    llm_server.script_json("SectionItems", {"items": ["TBD"]}, count=2)
    project, runs = await _plan(deps, principal, steps=(1,))
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    assert finished[0].status == "completed"
    sections = {s.key: s for s in await _sections(deps.db, principal, runs[0].id)}
    assert sections["scope"].content.startswith("**In scope**\n\n- ")
    assert sections["metrics"].metadata_["items_json"] is True
    assert all(line.startswith("- ") for line in sections["metrics"].content.split("\n"))
    assert "items_json" not in sections["risks"].metadata_
    assert sections["risks"].content.strip()
    about = next(
        d for d in await _documents(deps.db, principal, project.id) if d.document_type == "about"
    )
    assert sections["metrics"].content in about.content


async def test_events_are_ordered_and_cover_the_run(deps: RunnerDeps, principal: Principal) -> None:
    project, runs = await _plan(deps, principal, steps=(1,))
    await _run(deps, principal, runs[0])
    events = await _events(deps.db, principal, project.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "run.queued"
    assert types[1] == "run.started"
    assert types[-1] == "run.completed"
    assert "document.created" in types
    assert types.count("section.started") == types.count("section.completed") == 7
    assert "section.delta" in types


async def test_rerun_makes_a_new_version_and_keeps_the_old(
    deps: RunnerDeps, principal: Principal
) -> None:
    project, runs = await _plan(deps, principal, steps=(1,))
    await _run(deps, principal, runs[0])
    _, again = await pipeline.continue_plan(
        deps.db, principal, str(project.id), steps=(1,), model=deps.llm.model
    )
    assert again[0].id != runs[0].id
    await _run(deps, principal, again[0])
    versions = [d.version for d in await _documents(deps.db, principal, project.id)]
    assert versions == [1, 2]


async def test_running_a_completed_run_again_changes_nothing(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    project, runs = await _plan(deps, principal, steps=(1,))
    await _run(deps, principal, runs[0])
    calls = llm_server.calls
    again = await _run(deps, principal, runs[0])
    assert again.status == "completed"
    assert llm_server.calls == calls
    assert len(await _documents(deps.db, principal, project.id)) == 1


async def test_transient_faults_are_retried(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    deps.settings.llm_max_retries = 4
    llm_server.inject("status", code=500)
    llm_server.inject("status", code=429)
    llm_server.inject("drop")
    llm_server.inject("delay", seconds=0.2)
    _, runs = await _plan(deps, principal, steps=(1,))
    run = await _run(deps, principal, runs[0])
    assert run.status == "completed"
    sections = await _sections(deps.db, principal, run.id)
    assert all(s.status == "completed" for s in sections)
    # A dropped stream restarts the section: no half answer is glued to the retry.
    assert all(s.content.count("\n\n") < 6 for s in sections)


async def test_llm_failure_marks_the_run_failed_and_keeps_finished_sections(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    # The third section fails on every attempt (1 try + 2 retries).
    await _fail_on_section(deps, principal, runs[0], llm_server, failing_title="value")
    sections = await _sections(deps.db, principal, runs[0].id)
    done = [s.key for s in sections if s.status == "completed"]
    assert done == ["problem", "audience"]
    async with deps.db.tenant_session(principal.tenant_id) as session:
        failed = await runs_service.get_or_raise(session, run_id=runs[0].id)
    assert failed.status == "failed"
    assert "HTTP 500" in (failed.error or "")

    calls_before_retry = llm_server.calls
    run = await _run(deps, principal, runs[0])
    assert run.status == "completed"
    assert run.attempts == 2
    prompts = [_last_user(r) for r in llm_server.requests[calls_before_retry:]]
    assert not any("Section: Problem" in p or "Section: Target audience" in p for p in prompts)


async def _fail_on_section(
    deps: RunnerDeps, principal: Principal, run: Run, server: ScriptedLLM, *, failing_title: str
) -> None:
    recorder = _Recorder(inject_on=(f"section.started:{failing_title}", server))
    with pytest.raises(LLMUnavailable, match="kept failing after 3 attempts"):
        await execute_run(deps, tenant_id=principal.tenant_id, run_id=run.id, observer=recorder)


async def test_timeout_fails_the_run_without_hanging(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    settings = deps.settings.model_copy(update={"llm_timeout_seconds": 0.3})
    llm = LLMClient(settings, base_url=llm_server.base_url)
    slow = RunnerDeps(db=deps.db, llm=llm, settings=settings)
    llm_server.inject("hang", count=3, seconds=5)
    _, runs = await _plan(slow, principal, steps=(1,))
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match="APITimeoutError"):
        await _run(slow, principal, runs[0])
    assert time.monotonic() - started < 4
    await llm.close()
    async with deps.db.tenant_session(principal.tenant_id) as session:
        failed = await runs_service.get_or_raise(session, run_id=runs[0].id)
    assert failed.status == "failed"


def _asked_for(server: ScriptedLLM, title: str) -> list[dict[str, Any]]:
    """The structured requests whose schema is ``title``."""
    return [r for r in server.requests if title in json.dumps(r.get("response_format") or {})]


async def test_invalid_structured_output_gets_one_stricter_retry(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    llm_server.script_json("DocumentExtraction", {"key_facts": "not a list"}, count=1)
    _, runs = await _plan(deps, principal, steps=(1,))
    run = await _run(deps, principal, runs[0])
    assert run.status == "completed"
    structured = _asked_for(llm_server, "DocumentExtraction")
    assert len(structured) == 2
    assert "No empty strings" in _last_user(structured[1])


async def test_cut_off_json_is_recovered_without_a_retry(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    recorder = _Recorder(inject_on=("section.completed:metrics", llm_server), kind="malformed_json")
    run = await execute_run(
        deps, tenant_id=principal.tenant_id, run_id=runs[0].id, observer=recorder
    )
    assert run.status == "completed"
    structured = _asked_for(llm_server, "DocumentExtraction")
    assert len(structured) == 1
    assert run.output is not None
    assert run.output["key_facts"]


async def test_unrepairable_output_fails_the_step_clearly(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    placeholders = {"epics": [{"number": 1, "title": "TBD", "goal": "TODO", "depends_on": [],
                               "estimate_days": 1}] * 4}  # fmt: skip
    llm_server.script_json("EpicPlan", placeholders)
    # No list names a feature either (the scope and the components come out empty, and
    # their prose has no list), so nothing can complete the plan.
    llm_server.script_json("ScopeLists", {"in_scope": ["TBD", "TODO"], "out_of_scope": []})
    llm_server.script_json("SectionItems", {"items": ["TBD", "TODO"]})
    _, runs = await _plan(deps, principal, steps=(1, 2, 3, 4))
    for run in runs[:3]:
        await _run(deps, principal, run)
    with pytest.raises(GenerationFailed, match="even after a stricter retry"):
        await _run(deps, principal, runs[3])
    async with deps.db.tenant_session(principal.tenant_id) as session:
        failed = await runs_service.get_or_raise(session, run_id=runs[3].id)
    assert failed.status == "failed"
    assert "feature epics" in (failed.error or "")


async def test_messy_epics_are_repaired_before_use(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    messy = {"epics": [
        {"number": 1, "title": "Shared lists", "goal": "Lists", "depends_on": [3],
         "estimate_days": 5},
        {"number": 1, "title": "1. Shared lists", "goal": "", "depends_on": [], "estimate_days": 2},
        {"number": 2, "title": "Epic 3: Notifications", "goal": "Push", "depends_on": [9],
         "estimate_days": 400},
        {"number": 4, "title": "TBD", "goal": "TBD", "depends_on": [], "estimate_days": 1},
    ]}  # fmt: skip
    llm_server.script_json("EpicPlan", messy)
    project, runs = await _plan(deps, principal, steps=(1, 2, 3, 4))
    finished = await pipeline.execute_runs(deps, principal, runs, _Recorder())
    epics = finished[3].output["epics"]
    titles = [e["title"] for e in epics]
    assert titles[0].startswith("Infrastructure")
    assert titles[-1].startswith("Testing")
    assert "Shared lists" in titles
    assert "Notifications" in titles
    assert "TBD" not in titles
    assert [e["number"] for e in epics] == list(range(1, len(epics) + 1))
    assert all(n < e["number"] for e in epics for n in e["depends_on"])
    docs = await _documents(deps.db, principal, project.id)
    assert sorted(d.epic_number for d in docs if d.document_type == "plan_epic") == [1, 2, 3, 4]
    overview = next(d for d in docs if d.document_type == "plan_overview")
    assert "Epic list valid without repair" in overview.content
    assert "- [ ] Epic list" in overview.content


async def test_pause_then_resume_skips_finished_sections(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    recorder = _Recorder(pause_after="audience", db=deps.db, principal=principal, server=llm_server)
    run = await execute_run(
        deps, tenant_id=principal.tenant_id, run_id=runs[0].id, observer=recorder
    )
    assert run.status == "paused"
    done = [s.key for s in await _sections(deps.db, principal, run.id) if s.status == "completed"]
    # The pause lands at the first section boundary after it commits.
    assert done in (["problem", "audience"], ["problem", "audience", "value"])
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await lifecycle.resume(session, run_id=run.id)
    before = llm_server.calls
    resumed = await _run(deps, principal, run)
    assert resumed.status == "completed"
    # The remaining sections and the extraction, nothing twice.
    assert llm_server.calls - before == (6 - len(done)) + 1


async def test_a_completed_run_cannot_be_resumed(deps: RunnerDeps, principal: Principal) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    await _run(deps, principal, runs[0])
    async with deps.db.tenant_session(principal.tenant_id) as session:
        with pytest.raises(InvalidTransition, match="cannot resume a completed run"):
            await lifecycle.resume(session, run_id=runs[0].id)


async def test_cancel_stops_at_the_next_section(deps: RunnerDeps, principal: Principal) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await runs_service.request_state(session, run_id=runs[0].id, desired="cancelled")
    run = await _run(deps, principal, runs[0])
    assert run.status == "cancelled"
    assert await _sections(deps.db, principal, run.id) == []


async def test_locked_section_is_never_rewritten(deps: RunnerDeps, principal: Principal) -> None:
    _, runs = await _plan(deps, principal, steps=(1,))
    async with deps.db.tenant_session(principal.tenant_id) as session:
        await runs_service.upsert_section(
            session, run_id=runs[0].id, key="problem", position=0, title="Problem",
            status="pending", content="Hand-written problem statement.", locked=True,
        )  # fmt: skip
    run = await _run(deps, principal, runs[0])
    about = (await _documents(deps.db, principal, run.project_id))[0]
    assert "Hand-written problem statement." in about.content


async def test_clarifications_reach_the_prompt(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    project, runs = await _plan(deps, principal, steps=(1,))
    async with deps.db.tenant_session(principal.tenant_id) as session:
        answers = {"Which platforms?": "iOS and Android"}
        await session.execute(
            update(Run)
            .where(Run.id == runs[0].id)
            .values(input={**runs[0].input, "user_clarifications": answers})
        )
    await _run(deps, principal, runs[0])
    assert "Clarification: Which platforms? -> iOS and Android" in _last_user(
        llm_server.requests[0]
    )


async def test_later_steps_read_earlier_documents(
    deps: RunnerDeps, principal: Principal, llm_server: ScriptedLLM
) -> None:
    _, runs = await _plan(deps, principal, steps=(1, 2))
    await _run(deps, principal, runs[0])
    llm_server.reset()
    await _run(deps, principal, runs[1])
    prompt = _last_user(llm_server.requests[0])
    assert "Earlier documents" in prompt
    assert "## Problem" in prompt


def _last_user(request: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")


class _Recorder:
    """An observer that can inject a fault or a pause at a chosen moment of the run."""

    def __init__(
        self, *, inject_on: tuple[str, ScriptedLLM] | None = None, kind: str = "status",
        pause_after: str | None = None, db: Database | None = None,
        principal: Principal | None = None, server: ScriptedLLM | None = None,
    ) -> None:  # fmt: skip
        self.server_for_delay = server  # type: ignore[assignment]
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.inject_on, self.kind = inject_on, kind
        self.pause_after, self.db, self.principal = pause_after, db, principal
        self.pending_pause: Any = None

    def event(self, run_id: Any, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))
        if self.inject_on is not None:
            trigger, server = self.inject_on
            name, _, value = trigger.partition(":")
            if type == name and value in (data.get("title"), data.get("key")):
                if self.kind == "status":
                    server.inject("status", code=500, count=3)
                else:
                    server.inject(self.kind, count=1)
        if self.pause_after and type == "section.completed" and data["key"] == self.pause_after:
            import asyncio

            assert self.db is not None
            assert self.principal is not None
            self.pending_pause = asyncio.ensure_future(self._pause(run_id))
            # The next section takes a while, so the pause is committed before its boundary.
            assert self.inject_on is None
            self.server_for_delay.inject("delay", seconds=0.5)

    async def _pause(self, run_id: Any) -> None:
        assert self.db is not None
        assert self.principal is not None
        async with self.db.tenant_session(self.principal.tenant_id) as session:
            await runs_service.request_state(session, run_id=run_id, desired="paused")

    def delta(self, run_id: Any, key: str, text: str) -> None:
        return None
