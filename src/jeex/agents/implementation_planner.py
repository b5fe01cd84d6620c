"""Step 4: the Implementation Planner writes the plan overview and one document per epic.

The epic list is asked for as structured output, repaired by rules (numbered
1..N, infrastructure first, testing last, no duplicates, no placeholders) and
checkpointed before any prose is written, so a resumed run plans the same
epics. Epic documents are written concurrently up to ``JEEX_LLM_CONCURRENCY``;
their order in the package is by number, whatever order they finish in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from jeex.agents import prompts
from jeex.agents.base import DocumentAgent
from jeex.agents.contracts import (
    ChecklistItem,
    Epic,
    ImplementationPlannerOutput,
    RawEpic,
    RawEpicPlan,
    StepOutput,
)
from jeex.agents.document import assemble, epics_table, review_block
from jeex.agents.plan_features import complete_plan, feature_candidates
from jeex.agents.quality import check_extraction, check_sections, confidence
from jeex.agents.repair import Repaired
from jeex.templates import load_template

EPIC_POSITION_STRIDE = 100


def parse_epic_plan(data: Any, candidates: Sequence[RawEpic] = ()) -> Repaired[list[Epic]]:
    return complete_plan(RawEpicPlan.model_validate(data), candidates)


def epic_title(epic: Epic) -> str:
    return f"Epic {epic.number}: {epic.title}"


class ImplementationPlanner(DocumentAgent):
    agent = "implementation_planner"
    template_key = "plan_overview"
    step = 4

    async def plan_epics(self) -> Repaired[list[Epic]]:
        sources = [self.earlier[kind] for kind in ("about", "architecture") if kind in self.earlier]
        candidates = feature_candidates(sources)
        return await self.ctx.structured(
            key="plan/epics",
            position=0,
            title="Epic list",
            messages_for=lambda strict: prompts.epic_plan_messages(
                brief=self.ctx.brief, context=self.reference, strict=strict
            ),
            schema=prompts.EPIC_PLAN_SCHEMA,
            parse=lambda data: parse_epic_plan(data, candidates),
        )

    async def write_epic(self, epic: Epic, epics: list[Epic]) -> list[ChecklistItem]:
        template = load_template("plan_epic")
        title = template.title.format(project=self.ctx.project_name, epic_title=epic_title(epic))
        depends = ", ".join(epic_title(e) for e in epics if e.number in epic.depends_on)
        focus = (
            f"Epic {epic.number} of {len(epics)}: {epic.title}. Goal: {epic.goal or 'see title'}. "
            f"Depends on: {depends or 'nothing'}."
        )
        sections, usage = await self.write_sections(
            template,
            title=title,
            key_prefix=f"epic-{epic.number:02d}/",
            focus=focus,
            position_base=EPIC_POSITION_STRIDE * epic.number,
        )
        checklist = check_sections(sections, len(template.sections))
        score = confidence(checklist)
        review = review_block(key_facts=[], questions=[], checklist=checklist, confidence=score)
        await self.save(
            template,
            title=title,
            epic_number=epic.number,
            usage=usage,
            content=assemble(title=title, sections=sections, review=review),
            metadata={
                "epic": epic.model_dump(),
                "confidence": score,
                "validation_checklist": [c.model_dump() for c in checklist],
            },
        )
        return checklist

    async def write_epics(self, epics: list[Epic]) -> list[list[ChecklistItem]]:
        limit = asyncio.Semaphore(self.ctx.settings.llm_concurrency)

        async def one(epic: Epic) -> list[ChecklistItem]:
            async with limit:
                return await self.write_epic(epic, epics)

        return list(await asyncio.gather(*(one(epic) for epic in epics)))

    async def run(self) -> StepOutput:
        await self.load_reference()
        plan = await self.plan_epics()
        epics = plan.value
        template = self.template
        self.ctx.announce_total(
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
        output = await self.finish(
            title,
            sections,
            extraction,
            checklist,
            usage,
            extra=[("Epics", epics_table(epics))],
            metadata={"epics": [e.model_dump() for e in epics], "epic_repairs": list(plan.fixes)},
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
        ]
