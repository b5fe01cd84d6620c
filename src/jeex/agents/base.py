"""The document agent: writes one template, section by section, then reviews it.

Steps 1–3 are this class with a different template and role; step 4 extends it
(see `implementation_planner`); a kind with no agent of its own is written by this
class as is. The agent's identity (tenant, project, run) comes from its
`AgentContext`, never from model output.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

from jeex.agents import list_sections, prompts
from jeex.agents.budget import context_budget_chars, earlier_context
from jeex.agents.context import AgentContext
from jeex.agents.contracts import ChecklistItem, RawExtraction, StepOutput
from jeex.agents.diagram import components, flowchart
from jeex.agents.document import assemble, review_block
from jeex.agents.quality import (
    WrittenSection,
    check_extraction,
    check_mermaid,
    check_sections,
    confidence,
)
from jeex.agents.repair import Repaired, repair_key_facts, repair_questions
from jeex.agents.repair_echo import PARAGRAPH_MARK, fresh_items, prompt_lines, sentences_of
from jeex.agents.repair_text import dedupe_key
from jeex.config import Settings
from jeex.documents.models import DocumentVersion
from jeex.languages import tokens_for_words
from jeex.llm.usage import Usage
from jeex.retrieval.citations import passages_block, sources_markdown
from jeex.templates import DocumentTemplate, template_fingerprint


def parse_extraction(data: Any) -> Repaired[RawExtraction]:
    raw = RawExtraction.model_validate(data)
    facts = repair_key_facts(raw.key_facts)
    questions = repair_questions(raw.suggested_questions)
    value = RawExtraction(key_facts=facts.value, suggested_questions=questions.value)
    return Repaired(value, facts.fixes + questions.fixes)


def complete_diagrams(sections: Sequence[WrittenSection]) -> list[WrittenSection]:
    """Mermaid sections without a diagram get one drawn from the document's component list.

    The checklist is taken before this, so it still says the model wrote no diagram.
    """
    listed = [item for s in sections if s.spec.kind == "list" for item in components(s.content)]
    completed = []
    for section in sections:
        if section.spec.kind == "mermaid" and "```mermaid" not in section.content:
            drawn = flowchart(listed)
            if drawn is not None:
                note = "_Drawn from the Components section: the model wrote no diagram._"
                section = WrittenSection(spec=section.spec, content=f"{drawn}\n\n{note}")
        completed.append(section)
    return completed


def with_sources(review: str, sources: str) -> str:
    """The review block, followed by the Sources list when sections cited passages."""
    return f"{review.rstrip()}\n\n{sources}" if sources else review


#: How far past its target a section may run before the model is stopped: the sentence
#: cut by the stop is removed by repair, so a section ends near 1.3 times its target.
SECTION_LENGTH_ROOM = 1.5


def section_token_cap(target_words: int, language: str, settings: Settings) -> int:
    """The tokens one section may take (issue 15, "stop at the target length"): the bundled
    model writes on to any cap it is given, at about 40 tokens a second on 2 cores."""
    room = tokens_for_words(round(target_words * SECTION_LENGTH_ROOM), language)
    return min(settings.llm_max_section_tokens, room)


class DocumentAgent:
    """Writes one document kind from its template; subclasses name their role."""

    #: The role the prompts give the model (``prompts.ROLES``).
    agent: ClassVar[str] = "writer"
    #: True when other workers may write some of its units beside it (``help``).
    shares_units: ClassVar[bool] = False

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.reference = ""
        self.earlier: dict[str, str] = {}
        #: Characters of each section prompt given to retrieved passages (0: no retrieval).
        self.retrieval_budget = 0
        #: Sources entries cited per document (keyed by the document's section-key prefix).
        self.cited: dict[str, dict[str, dict[str, Any]]] = {}
        self.invented: dict[str, list[str]] = {}
        #: The questions earlier documents of the project ask (normalised): not asked twice.
        self.asked: set[str] = set()
        #: Every long sentence and paragraph this run has written (normalised), and the
        #: paragraphs of the documents it builds on: one is never written twice in the
        #: package (``repair_echo.drop_said``). An epic starts by reading what helping
        #: workers wrote of the run so far; a unit they write at the same moment is not
        #: seen, but the document check still is.
        self.said: set[str] = set()

    @property
    def template(self) -> DocumentTemplate:
        return self.ctx.kind.template

    async def help(self) -> int:
        """Write units beside the run's own job (``shares_units``); none by default."""
        return 0

    async def load_reference(self) -> None:
        documents = await self.ctx.sources.earlier_documents(self.ctx.kind.depends_on)
        self.earlier = {doc.document_type: doc.content for doc in documents}
        self.asked = {
            dedupe_key(question)
            for doc in documents
            for question in doc.metadata_.get("suggested_questions") or []
        }
        budget = context_budget_chars(
            self.ctx.settings,
            output_tokens=self.ctx.settings.llm_max_section_tokens,
            # The prompt's own words, a list section's JSON instruction and the one
            # regeneration's note (the sentences not to repeat) must fit beside the context.
            prompt_chars=len(self.ctx.brief.idea) + 1400,
        )
        # With exhibits, half the room goes to passages retrieved per section (from the
        # exhibits and these same earlier documents); without, nothing is retrieved and
        # the earlier documents fill the room as before (docs/decisions.md).
        if await self.ctx.sources.has_exhibits():
            self.retrieval_budget = budget // 2
            budget -= self.retrieval_budget
        self.reference = earlier_context(documents, budget)
        # A paragraph of an earlier document written again whole is dropped like one of this
        # run (issue 15: the overview copied about.md's scope). Only whole paragraphs: a
        # section may restate a sentence of what it builds on, and a small model copies its
        # reference so often that sentence keys would empty whole sections.
        self.said |= {
            key
            for doc in documents
            for key in sentences_of(doc.content)
            if key.startswith(PARAGRAPH_MARK)
        }

    async def write_sections(
        self,
        template: DocumentTemplate,
        *,
        title: str,
        key_prefix: str,
        focus: str = "",
        position_base: int = 0,
    ) -> tuple[list[WrittenSection], Usage]:
        written: list[WrittenSection] = []
        usage = Usage()
        cited = self.cited.setdefault(key_prefix, {})
        invented = self.invented.setdefault(key_prefix, [])
        for index, spec in enumerate(template.sections):
            given = await self.ctx.sources.retrieve(
                f"{spec.title}: {spec.instructions} ({self.ctx.brief.idea[:200]})",
                budget_chars=self.retrieval_budget,
                document_types=self.ctx.kind.depends_on,
            )
            ask = functools.partial(
                prompts.section_messages,
                agent=self.agent,
                brief=self.ctx.brief,
                document_title=title,
                section=spec,
                written_headings=[w.spec.title for w in written],
                context=self.reference,
                focus=focus,
            )
            messages = ask(passages=passages_block(given))
            max_tokens = section_token_cap(
                spec.target_words, self.ctx.brief.language, self.ctx.settings
            )
            if spec.kind == "list" and not given:
                # Items under a schema; with passages, prose keeps their citations.
                asked = ask(answer=list_sections.ask(spec.key))
                result = await self.ctx.sections.items(
                    key=f"{key_prefix}{spec.key}",
                    position=position_base + index,
                    title=spec.title,
                    messages=asked,
                    schema=list_sections.schema_for(spec.key),
                    render=functools.partial(
                        list_sections.items_markdown,
                        spec.key,
                        said=self.said,
                        prompt=prompt_lines(asked),
                    ),
                    max_tokens=max(64, max_tokens),
                    prose=messages,
                    said=self.said,
                )
                usage.add(result.usage)
                written.append(WrittenSection(spec=spec, content=result.content))
                continue
            result = await self.ctx.sections.write(
                key=f"{key_prefix}{spec.key}",
                position=position_base + index,
                title=spec.title,
                messages=messages,
                max_tokens=max(64, max_tokens),
                sources=given,
                said=self.said,
            )
            cited.update({entry["label"]: entry for entry in result.cited})
            invented.extend(result.invented)
            usage.add(result.usage)
            written.append(WrittenSection(spec=spec, content=result.content))
        return written, usage

    async def extract(self, document: str, *, position: int) -> Repaired[RawExtraction]:
        budget = context_budget_chars(self.ctx.settings, output_tokens=1000, prompt_chars=900)
        text = document[:budget]
        return await self.ctx.sections.structured(
            key="review/extraction",
            position=position,
            title="Key facts and questions",
            messages_for=lambda strict: prompts.extraction_messages(
                brief=self.ctx.brief, document=text, strict=strict
            ),
            schema=prompts.EXTRACTION_SCHEMA,
            parse=parse_extraction,
            max_tokens=1000,
        )

    def checklist(self, sections: Sequence[WrittenSection]) -> list[ChecklistItem]:
        items = check_sections(sections, len(self.template.sections))
        if any(s.kind == "mermaid" for s in self.template.sections):
            items.append(check_mermaid(sections))
        return items

    def document_title(self) -> str:
        return self.template.title.format(project=self.ctx.project_name, epic_title="")

    def sources_block(self, key_prefix: str) -> str:
        """The ``## Sources`` list that ends a document whose sections cited passages."""
        cited = self.cited.get(key_prefix) or {}
        return f"## Sources\n\n{sources_markdown(cited.values())}\n" if cited else ""

    def citation_metadata(self, key_prefix: str) -> dict[str, Any]:
        if not self.retrieval_budget:
            return {}
        return {
            "sources": list((self.cited.get(key_prefix) or {}).values()),
            "invented_citations": list(self.invented.get(key_prefix) or []),
        }

    def citation_check(self, key_prefix: str) -> list[ChecklistItem]:
        """With retrieval, a check that every citation names a passage the model was given."""
        if not self.retrieval_budget:
            return []
        invented = self.invented.get(key_prefix) or []
        return [
            ChecklistItem(
                item="Citations name only sources given to the model",
                passed=not invented,
                detail="removed: " + ", ".join(invented),
            )
        ]

    async def run(self) -> StepOutput:
        await self.load_reference()
        title = self.document_title()
        sections, usage = await self.write_sections(self.template, title=title, key_prefix="")
        checklist = self.checklist(sections)
        sections = complete_diagrams(sections)
        draft = assemble(title=title, sections=sections)
        extraction = await self.extract(draft, position=len(sections))
        checklist += check_extraction(extraction.value.key_facts, extraction.fixes)
        checklist += self.citation_check("")
        return await self.finish(
            title,
            sections,
            extraction,
            checklist,
            usage,
            sources=self.sources_block(""),
            metadata=self.citation_metadata(""),
        )

    async def finish(
        self,
        title: str,
        sections: Sequence[WrittenSection],
        extraction: Repaired[RawExtraction],
        checklist: list[ChecklistItem],
        usage: Usage,
        *,
        extra: Sequence[tuple[str, str]] = (),
        metadata: dict[str, Any] | None = None,
        sources: str = "",
    ) -> StepOutput:
        score = confidence(checklist)
        facts, questions = extraction.value.key_facts, extraction.value.suggested_questions
        fresh = [q for q in questions if dedupe_key(q) not in self.asked]
        repairs = list(extraction.fixes)
        if len(fresh) < len(questions):
            repairs.append(
                f"dropped {len(questions) - len(fresh)} question(s) an earlier document "
                "already asks"
            )
        body = assemble(title=title, sections=sections, extra=extra)
        facts, restated = fresh_items(facts, body)
        questions, reworded = fresh_items(fresh, body)
        if restated or reworded:
            repairs.append(
                f"dropped {len(restated) + len(reworded)} key fact(s) or question(s) worded "
                "as the document already says them"
            )
        self.asked |= {dedupe_key(q) for q in questions}
        review = review_block(
            key_facts=facts, questions=questions, checklist=checklist, confidence=score
        )
        review = with_sources(review, sources)
        content = assemble(title=title, sections=sections, extra=extra, review=review)
        await self.save(
            self.template,
            title=title,
            content=content,
            epic_number=0,
            usage=usage,
            metadata={
                "key_facts": facts,
                "suggested_questions": questions,
                "confidence": score,
                "validation_checklist": [c.model_dump() for c in checklist],
                "repairs": repairs,
                **(metadata or {}),
            },
        )
        return StepOutput(
            description_document=content,
            key_facts=facts,
            confidence_score=score,
            validation_checklist=checklist,
            suggested_questions=questions,
        )

    async def save(
        self,
        template: DocumentTemplate,
        *,
        title: str,
        content: str,
        epic_number: int,
        usage: Usage,
        metadata: dict[str, Any],
    ) -> DocumentVersion:
        return await self.ctx.documents.save(
            document_type=template.document_type,
            epic_number=epic_number,
            title=title,
            content=content,
            metadata={
                "template": template.key,
                "template_version": template.version,
                "template_fingerprint": template_fingerprint(template),
                "prompt_version": prompts.PROMPT_VERSION,
                "model": self.ctx.llm.model,
                "words": len(content.split()),
                "tokens_in": usage.tokens_in,
                "tokens_out": usage.tokens_out,
                "seconds": round(usage.seconds, 3),
                "tokens_estimated": usage.estimated,
                **metadata,
            },
        )
