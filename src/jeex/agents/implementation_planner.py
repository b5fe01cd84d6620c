"""Step 4: the Implementation Planner writes the plan overview and one document per epic.

The epic list is asked for as structured output, repaired by rules (numbered
1..N, infrastructure first, testing last, no duplicates, no placeholders) and
checkpointed before any prose is written, so a resumed run plans the same
epics. Epic documents are written concurrently up to ``JEEX_LLM_CONCURRENCY`` per
process, and by helper jobs on other workers too (each epic is claimed while it is
written); their order in the package is by number, whatever order they finish in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from jeex.agents import prompts
from jeex.agents.base import DocumentAgent, with_sources
from jeex.agents.contracts import (
    ChecklistItem,
    Epic,
    ImplementationPlannerOutput,
    RawEpic,
    RawEpicPlan,
    StepOutput,
)
from jeex.agents.document import assemble, epics_table, review_block
from jeex.agents.plan_features import (
    GENERIC_THEMES,
    Similarities,
    Thresholds,
    complete_plan,
    feature_candidates,
    relevance_anchor,
    replace_off_topic,
    with_product,
)
from jeex.agents.quality import EPICS_ON_TOPIC, check_extraction, check_sections, confidence
from jeex.agents.repair import Repaired
from jeex.agents.repair_echo import sentences_of
from jeex.templates import load_template

EPIC_POSITION_STRIDE = 100


def parse_epic_plan(
    data: Any, candidates: Sequence[RawEpic] = (), *, max_epics: int = 12
) -> Repaired[list[Epic]]:
    return complete_plan(RawEpicPlan.model_validate(data), candidates, max_epics=max_epics)


def epic_unit(epic: Epic) -> str:
    """The epic's section-key prefix (without the slash) and the name it is claimed by."""
    return f"epic-{epic.number:02d}"


def epic_title(epic: Epic) -> str:
    return f"Epic {epic.number}: {epic.title}"


class ImplementationPlanner(DocumentAgent):
    agent = "implementation_planner"
    shares_units = True

    #: Feature epics not about this product that no scope feature could replace.
    off_topic: tuple[str, ...] = ()

    async def plan_epics(self) -> Repaired[list[Epic]]:
        """The checkpointed, repaired epic list, then the relevance rule (deterministic
        for the same embedder, so a resumed run and a helper plan the same epics)."""
        sources = [self.earlier[kind] for kind in ("about", "architecture") if kind in self.earlier]
        scope = feature_candidates(sources)
        plan = await self._planned(scope)
        relevance = self.ctx.settings.epic_relevance
        middle = plan.value[1:-1]
        if relevance is None or not middle:
            return plan
        # The product itself may replace an off-topic epic as a last resort (it does not
        # complete a plan the model could not write: that step fails clearly).
        candidates = with_product(scope, self.ctx.project_name, self.ctx.brief.idea)
        thresholds = Thresholds(*relevance)
        # Titles alone: a reader judges an epic by its heading, and a goal that names the
        # product made "Sustainability" pass (issue 15's benchmark scores titles too).
        texts = [e.title for e in middle] + [c.title for c in candidates]
        anchor = relevance_anchor(self.ctx.brief.idea, candidates)
        measured = await self.ctx.sources.similarity([anchor, GENERIC_THEMES], texts)
        if measured is None:
            return plan
        to_product, to_themes = measured
        scores = Similarities(to_product=to_product, to_themes=to_themes)
        checked = replace_off_topic(plan, scores, candidates, thresholds=thresholds)
        self.off_topic = checked.off_topic
        return checked.plan

    async def _planned(self, candidates: Sequence[RawEpic]) -> Repaired[list[Epic]]:
        max_epics = self.ctx.settings.plan_max_epics
        return await self.ctx.sections.structured(
            key="plan/epics",
            position=0,
            title="Epic list",
            messages_for=lambda strict: prompts.epic_plan_messages(
                brief=self.ctx.brief, context=self.reference, strict=strict, max_epics=max_epics
            ),
            schema=prompts.epic_plan_schema(max_epics),
            parse=lambda data: parse_epic_plan(data, candidates, max_epics=max_epics),
        )

    async def write_epic(self, epic: Epic, epics: list[Epic]) -> list[ChecklistItem]:
        # What other workers wrote of this run (helpers write epics beside this one) is
        # said too: the same task list came out in two epics written by two jobs.
        for text in await self.ctx.sections.written():
            self.said |= sentences_of(text)
        template = load_template("plan_epic")
        title = template.title.format(project=self.ctx.project_name, epic_title=epic_title(epic))
        depends = ", ".join(epic_title(e) for e in epics if e.number in epic.depends_on)
        focus = (
            f"Epic {epic.number} of {len(epics)}: {epic.title}. Goal: {epic.goal or 'see title'}. "
            f"Depends on: {depends or 'nothing'}."
        )
        prefix = f"{epic_unit(epic)}/"
        sections, usage = await self.write_sections(
            template,
            title=title,
            key_prefix=prefix,
            focus=focus,
            position_base=EPIC_POSITION_STRIDE * epic.number,
        )
        checklist = check_sections(sections, len(template.sections)) + self.citation_check(prefix)
        score = confidence(checklist)
        review = review_block(key_facts=[], questions=[], checklist=checklist, confidence=score)
        review = with_sources(review, self.sources_block(prefix))
        content = assemble(title=title, sections=sections, review=review)
        await self.save(
            template,
            title=title,
            epic_number=epic.number,
            usage=usage,
            content=content,
            metadata={
                "epic": epic.model_dump(),
                "confidence": score,
                "validation_checklist": [c.model_dump() for c in checklist],
                **self.citation_metadata(prefix),
            },
        )
        return checklist

    async def write_epics(
        self, epics: list[Epic], *, wait_for_others: bool = True
    ) -> list[list[ChecklistItem]]:
        """Write every epic not claimed elsewhere; with ``wait_for_others``, all of them.

        Each epic is claimed (``runs.claims``) while it is written, so helper jobs on
        other workers can write epics of the same run at the same time. The run's own
        job waits for the epics others hold and takes over any whose holder went away;
        taking over a finished epic reuses its sections and its document.
        """
        limit = asyncio.Semaphore(self.ctx.settings.llm_concurrency)

        async def one(epic: Epic) -> list[ChecklistItem] | None:
            while True:
                async with limit, self.ctx.units.claim(epic_unit(epic)) as held:
                    if held:
                        return await self.write_epic(epic, epics)
                if not wait_for_others:
                    return None
                await self.ctx.units.wait_for_claim()

        if wait_for_others:
            await self.ctx.units.request_helpers(len(epics) - 1)
        # Every epic reaches its own section boundary before a pause or failure is
        # raised, so no sibling is left writing after the run has stopped.
        done = await asyncio.gather(*(one(epic) for epic in epics), return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        return [checks for checks in done if isinstance(checks, list)]

    async def help(self) -> int:
        """A helper job's share of step 4: the epics nobody else is writing right now."""
        if not await self.ctx.sections.checkpointed("plan/epics"):
            return 0  # the run's own job has not planned the epics yet
        await self.load_reference()
        epics = (await self.plan_epics()).value
        return len(await self.write_epics(epics, wait_for_others=False))

    async def run(self) -> StepOutput:
        await self.load_reference()
        plan = await self.plan_epics()
        epics = plan.value
        template = self.template
        self.ctx.sections.announce_total(
            2 + len(template.sections) + len(epics) * len(load_template("plan_epic").sections)
        )
        title = self.document_title()
        focus = "Epics of the plan:\n" + prompts.epics_table_text(epics)
        sections, usage = await self.write_sections(
            template, title=title, key_prefix="overview/", focus=focus, position_base=1
        )
        draft = assemble(title=title, sections=sections, extra=[("Epics", epics_table(epics))])
        extraction = await self.extract(draft, position=1 + len(sections))
        epic_checks = await self.write_epics(epics)
        checklist = self.overview_checklist(sections, epics, plan.fixes, epic_checks)
        checklist += check_extraction(extraction.value.key_facts, extraction.fixes)
        checklist += self.citation_check("overview/")
        output = await self.finish(
            title,
            sections,
            extraction,
            checklist,
            usage,
            extra=[("Epics", epics_table(epics))],
            sources=self.sources_block("overview/"),
            metadata={
                "epics": [e.model_dump() for e in epics],
                "epic_repairs": list(plan.fixes),
                **self.citation_metadata("overview/"),
            },
        )
        return ImplementationPlannerOutput(**output.model_dump(), epics=epics)

    def overview_checklist(
        self,
        sections: Any,
        epics: list[Epic],
        fixes: tuple[str, ...],
        epic_checks: list[list[ChecklistItem]],
    ) -> list[ChecklistItem]:
        failing = [
            epic_title(epic)
            for epic, checks in zip(epics, epic_checks, strict=True)
            if not all(c.passed for c in checks)
        ]
        return [
            *check_sections(sections, len(self.template.sections)),
            ChecklistItem(
                item=f"Epics numbered 1..{len(epics)}, infrastructure first, testing last",
                passed=[e.number for e in epics] == list(range(1, len(epics) + 1)),
            ),
            ChecklistItem(
                item="Epic list valid without repair", passed=not fixes, detail="; ".join(fixes)
            ),
            ChecklistItem(
                item="Every epic document passes its checks",
                passed=not failing,
                detail=", ".join(failing),
            ),
            ChecklistItem(
                item=EPICS_ON_TOPIC, passed=not self.off_topic, detail=", ".join(self.off_topic)
            ),
        ]
