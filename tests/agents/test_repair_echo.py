"""What a section must not repeat (`jeex.agents.repair_echo`): its prompt, and what the run
already wrote; and the checks and the confidence cap that show a reader what slipped
through (`jeex.agents.quality`). Examples from the bundled model's real output (issue 15),
then properties."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from jeex.agents import prompts
from jeex.agents.base import section_token_cap
from jeex.agents.contracts import ChecklistItem
from jeex.agents.quality import WrittenSection, check_sections, confidence, defects
from jeex.agents.repair import clean_section_markdown
from jeex.agents.repair_echo import (
    SAID_MIN_CHARS,
    drop_echoes,
    drop_said,
    fresh_items,
    is_cut,
    normalise,
    prompt_lines,
    sentences_of,
)
from jeex.config import Settings
from jeex.console.summary import summary_table
from jeex.templates import SectionSpec

SPEC = SectionSpec(
    key="tasks",
    title="Tasks",
    kind="list",
    target_words=120,
    instructions="Name the tasks of this epic in order. Start each task with a verb.",
)
BRIEF = prompts.Brief(
    idea="A shared grocery list app for families",
    audience="busy parents",
    language="en",
    clarifications={},
)
MESSAGES = prompts.section_messages(
    agent="implementation_planner",
    brief=BRIEF,
    document_title="Epic 2: Shared lists",
    section=SPEC,
    written_headings=["Goal", "Scope"],
    context="The app syncs lists between family members in real time.",
)
PROMPT = prompt_lines(MESSAGES)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_labels_and_instructions_of_the_prompt_are_removed() -> None:
    # Lines the bundled model wrote into real documents (the list), and its echoes.
    text = "\n".join(
        [
            "Sections already written: Goal, Scope, Tasks, Acceptance criteria",
            "1. Create the shared list table.",
            "Instructions: Name the epics of this product.",
            "**Length:** about 120 words.",
            "SECTION: Tasks",
            "- Name the tasks of this epic in order.",
            "2. Sync list changes to every family member.",
            "<<<",
            "Do not write the section heading.",
        ]
    )
    kept, removed = drop_echoes(text, PROMPT)
    assert kept.split("\n") == [
        "1. Create the shared list table.",
        "2. Sync list changes to every family member.",
    ]
    assert removed == 7


def test_the_product_and_the_reference_material_may_be_named() -> None:
    text = (
        "The shared grocery list app for families keeps one list per household.\n"
        "The app syncs lists between family members in real time."
    )
    assert drop_echoes(text, PROMPT) == (text, 0)


def test_code_blocks_are_never_edited() -> None:
    text = "```mermaid\ngraph TD\n  Section: A --> B\n```"
    assert drop_echoes(text, PROMPT) == (text, 0)


def test_cleaning_a_section_reports_the_echo() -> None:
    cleaned = clean_section_markdown(
        "Length: about 120 words.\n\n1. Create the shared list table.", title="Tasks", prompt=PROMPT
    )
    assert cleaned.value == "1. Create the shared list table."
    assert cleaned.fixes[0] == "removed 1 line(s) repeating the prompt (labels or instructions)"


def test_a_sentence_said_before_in_the_run_is_dropped_once() -> None:
    loop = "The team has taken great care to ensure that every detail meets the highest standards."
    said: set[str] = set()
    first, dropped = drop_said(f"Lists sync at once across phones. {loop}", said)
    assert dropped == []
    second, dropped = drop_said(
        f"Shopping mode hides what is already bought. {loop}\n\n- {loop}\n- Offline mode", said
    )
    assert second == "Shopping mode hides what is already bought.\n\n- Offline mode"
    assert dropped == [loop, loop]
    # Tables and code are kept as written; short sentences may repeat.
    table = "| Task | Owner |\n| --- | --- |\n| " + loop + " | Ana |"
    assert drop_said(f"{table}\n\nYes.", said) == (f"{table}\n\nYes.", [])


def test_a_heading_inside_a_block_does_not_hide_the_lines_under_it() -> None:
    """The model often writes "### In scope" right above its bullets, in one block: the
    bullets are still compared, the heading stays."""
    loop = "Families can share one list and see every change at once on every phone."
    said = sentences_of(f"### Goal\n{loop}")
    assert normalise(loop) in said
    kept, dropped = drop_said(f"### In scope\n- {loop}\n- Offline mode", said)
    assert kept == "### In scope\n- Offline mode"
    assert dropped == [loop]


def test_a_paragraph_or_a_list_written_before_is_dropped_whole() -> None:
    """Short items may repeat one by one; the same whole list twice is a repeated paragraph."""
    tasks = "1. Add a user to the table\n2. Add a role to the user\n3. Log the change"
    said: set[str] = set()
    first, _ = drop_said(f"Setup comes first.\n\n{tasks}", said)
    assert tasks in first
    second, dropped = drop_said(f"{tasks}\n\nThen the tests run.", said)
    assert second == "Then the tests run."
    assert dropped == [tasks]


def test_key_facts_worded_as_the_document_says_them_are_dropped() -> None:
    said = "Families can share one list and see every change at once on every phone."
    document = f"# About\n\n## Problem\n\n{said} Lists get lost.\n"
    new = "The first release targets iOS and Android phones for families of four."
    tail = f"Customizable lists for every family. {said}"
    cut = ["s a list for every family that", "The first phase is to prepare the lists, it’"]
    kept, dropped = fresh_items([said, new, new, tail, *cut, "Short fact."], document)
    assert kept == [new, "Short fact."]
    assert dropped == [said, new, tail, *cut]


def test_what_make_plan_let_through_on_2026_12_07_is_caught() -> None:
    """Lines of a real bundled-model package: a numbered label, the length instruction inside
    a sentence, instructions of the model's own training data, and key facts cut from a
    sentence."""
    risks = "\n".join(
        [
            "- SECTION 1: SHOWCHEPERS",
            "- Families may not agree on one list at first.",
            "- The document must have 2 paragraphs. Paragraphs are separated with a new line.",
            "- The response must contain exactly 3 bullet points, in all lowercase letters.",
            "- use markdown formatting such as *bold* to highlight key words",
        ]
    )
    cleaned, removed = drop_echoes(risks, PROMPT)
    assert cleaned == "- Families may not agree on one list at first."
    assert removed == 5  # a label line, and four sentences about the text
    summary = "The app saves time for parents. The first release delivers in about 120 words."
    assert drop_echoes(summary, PROMPT) == ("The app saves time for parents.", 1)
    assert drop_echoes("The list holds 120 items.", PROMPT) == ("The list holds 120 items.", 0)
    cut = [
        ", for those who are looking for more than just meals that they can eat at home.",
        "This app has been designed to provide [",
    ]
    kept, dropped = fresh_items([*cut, "Every change reaches each phone at once."], "")
    assert (kept, dropped) == (["Every change reaches each phone at once."], cut)
    # The second run: a fact cut short beside the same words going on, one ending on a
    # stray mark, and an epic's scope that was its focus line's goal.
    facts = [
        "The product is designed to help people",
        "The product is designed to help people manage their daily groceries.",
        "The product is designed to help people manage their daily groceries, 10% *",
    ]
    assert fresh_items(facts, "") == ([facts[1]], [facts[0], facts[2]])
    assert not is_cut("Every change reaches **every phone**")  # bold is not a stray mark
    scope = "Goal: List of items that are part of this list."
    assert drop_echoes(scope, PROMPT) == ("List of items that are part of this list.", 1)
    assert drop_echoes("- **Depends on:** nothing", PROMPT) == ("- nothing", 1)


def test_a_long_sentence_written_again_with_a_word_changed_is_a_repeat() -> None:
    first = (
        "This technology has been developed with the needs of these families in mind, "
        "ensuring that users can make life easier by providing them with all manner of "
        "options available on their own terms while also being mindful of the environment."
    )
    again = first.replace("in mind, ensuring", "in mind and ensures")
    said = sentences_of(first)
    kept, dropped = drop_said(f"{again} Lists sync at once.", said)
    assert (kept, dropped) == ("Lists sync at once.", [again])
    # Sentences that only share a frame, or a short one, are not repeats.
    frame = "The shopping section sets out how the shared grocery list app serves its users."
    other = "The sharing section sets out how the shared grocery list app serves its users."
    assert drop_said(other, sentences_of(frame)) == (other, [])


def test_a_paragraph_dropped_whole_leaves_its_sentences_to_later_paragraphs() -> None:
    restated = "Families forget items when only one person does the shopping."
    paragraph = f"{restated} Paper lists get lost on the way to the store."
    said = {key for key in sentences_of(paragraph) if key.startswith("¶ ")}
    kept, dropped = drop_said(f"{paragraph}\n\n{restated} Lists sync at once.", said)
    assert kept == f"{restated} Lists sync at once."
    assert dropped == [paragraph]


def test_sentences_are_compared_without_case_spacing_or_punctuation() -> None:
    said = sentences_of("Every list   syncs across the family phones, at once!")
    kept, dropped = drop_said("every list syncs across the family phones at once.", said)
    assert (kept, len(dropped)) == ("", 1)


def test_a_document_with_prompt_text_or_repetition_cannot_score_above_a_half() -> None:
    loop = "Every statement stays concrete so reviewers can check it against the idea."
    sections = [
        WrittenSection(SPEC, f"1. Create the list table.\n\n{loop}"),
        WrittenSection(SPEC, f"Length: about 120 words.\n\n{loop}"),
    ]
    checks = check_sections(sections, expected=2)
    failed = {c.item: c.detail for c in checks if not c.passed}
    assert "No prompt text in the document" in failed
    assert "Length: about 120 words." in failed["No prompt text in the document"]
    assert failed["No sentence is repeated"].startswith(normalise(loop)[:40])
    assert confidence(checks) <= 0.5
    assert defects(checks) == [
        "No paragraph is repeated",
        "No prompt text in the document",
        "No sentence is repeated",
    ]
    # Three checks of four passed: 0.75, unless the failed one is a defect a reader sees.
    passed = [ChecklistItem(item="x", passed=True)] * 3
    length = ChecklistItem(item="Every section is near its target length", passed=False)
    echo = ChecklistItem(item="No prompt text in the document", passed=False)
    assert confidence([*passed, length]) == 0.75
    assert confidence([*passed, echo]) == 0.5


def test_a_section_stops_near_its_target_length_in_its_language_tokens() -> None:
    settings = Settings()
    assert section_token_cap(150, "en", settings) == 259  # 225 words x 1.15 tokens
    assert section_token_cap(80, "es", settings) == 228
    # Russian takes five tokens a word with SmolLM2's tokenizer: the setting's cap holds.
    assert section_token_cap(150, "ru", settings) == settings.llm_max_section_tokens == 400
    assert section_token_cap(100, "ja", settings) == 400  # not measured: three a word


def test_penalties_go_to_the_embedded_model_and_only_where_asked_elsewhere() -> None:
    embedded = Settings(llm_base_url=None)
    assert embedded.sampling == {"repeat_penalty": 1.1, "frequency_penalty": 0.3}
    external = Settings(llm_base_url="http://127.0.0.1:1/v1")
    assert external.sampling == {}
    chosen = Settings(llm_base_url="http://127.0.0.1:1/v1", llm_presence_penalty=0.5)
    assert chosen.sampling == {"presence_penalty": 0.5}


SENTENCES = st.sampled_from(
    [
        "The list syncs between every phone of the family at once.",
        "Parents assign items to children and see when they are bought.",
        "Offline changes merge when the phone is back online again.",
        "Yes.",
        "Sections already written: Goal, Scope",
        "Length: about 120 words.",
        "Name the tasks of this epic in order.",
    ]
)
TEXTS = st.lists(
    st.lists(SENTENCES, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=4
).map("\n\n".join)


@PROPERTY
@given(TEXTS)
def test_dropping_echoes_is_idempotent_and_leaves_no_label(text: str) -> None:
    once, _ = drop_echoes(text, PROMPT)
    assert drop_echoes(once, PROMPT) == (once, 0)
    assert "Length:" not in once
    assert "Sections already written" not in once


@PROPERTY
@given(st.lists(TEXTS, min_size=1, max_size=4))
def test_no_long_sentence_survives_twice_across_sections(texts: list[str]) -> None:
    said: set[str] = set()
    kept = [drop_said(text, said)[0] for text in texts]
    seen: list[str] = []
    for text in kept:
        for block in text.split("\n\n"):
            seen += [
                normalise(s)
                for s in block.replace(". ", ".\n").split("\n")
                if len(s) >= SAID_MIN_CHARS
            ]
    assert len(seen) == len(set(seen))
    # And what was kept is kept again: nothing more to drop against a fresh memory.
    again: set[str] = set()
    assert [drop_said(text, again)[1] for text in kept] == [[] for _ in kept]


def test_the_summary_table_says_why_a_score_is_capped() -> None:
    row = {
        "file": "docs/about.md",
        "words": 300,
        "tokens": 900,
        "seconds": 12.0,
        "confidence": 0.5,
        "defects": ["No prompt text in the document"],
        "open_questions": [],
    }
    console = Console(record=True, width=160)
    console.print(summary_table([row], Path("plan.zip")))
    printed = console.export_text()
    assert "0.50" in printed
    assert "✗ No prompt text in the document" in printed


def test_quoted_material_is_not_the_prompt() -> None:
    """Earlier documents and retrieved passages are quoted in the prompt; a section may use
    them (and cite them), so repeating one of their lines is not an echo of the prompt."""
    content = "\n".join(
        [
            "Section: Scope",
            "<<<",
            "Every family member edits the same list at once.",
            ">>>",
            "<<<SOURCES",
            "[E1] (notes.md)",
            "Lists sync through the family's own server every few seconds.",
            "SOURCES>>>",
            "Instructions: Name what is in scope.",
        ]
    )
    lines = prompt_lines([{"role": "user", "content": content}])
    assert lines == ["Section: Scope", "Instructions: Name what is in scope."]
    quoted = "Lists sync through the family's own server every few seconds. [E1]"
    assert drop_echoes(f"{quoted}\nSOURCES>>>", lines) == (quoted, 1)


def test_a_section_may_restate_the_data_its_prompt_carries() -> None:
    """The bundled model's epic "Goal" sections restate the epic's goal from the prompt's
    focus line; that is content, not an echo (found by bench/doc_quality.py)."""
    goal = SectionSpec(
        key="goal", title="Goal", target_words=80, instructions="Say what this epic delivers."
    )
    messages = prompts.section_messages(
        agent="implementation_planner",
        brief=BRIEF,
        document_title="Epic 2: Shared lists",
        section=goal,
        written_headings=[],
        context="",
        focus="Epic 2 of 3: Shared lists. Goal: Every family member edits the same list.",
    )
    text = "Every family member edits the same list.\nSay what this epic delivers."
    assert drop_echoes(text, prompt_lines(messages)) == (
        "Every family member edits the same list.",
        1,
    )


def test_the_epics_focus_line_copied_whole_is_scaffolding() -> None:
    """``make plan`` (2026-12-07) wrote "The Epic 2 of 3: … Goal: …" at the top of an epic's
    Tasks: its prompt's focus line, framed. The goal alone is content (the test above)."""
    text = "\n".join(
        [
            "The Epic 2 of 3: Shared lists. Goal: Every family member edits the same list.",
            "**Epic 3 of 3:** Testing.",
            "1. Store each list with its family.",
            "Epic 2 covers sharing the list with every family member.",
        ]
    )
    assert drop_echoes(text, []) == (
        "1. Store each list with its family.\n"
        "Epic 2 covers sharing the list with every family member.",
        2,
    )


def test_a_section_left_empty_is_left_out_and_named_by_its_check() -> None:
    from jeex.agents.document import assemble

    risks = SectionSpec(key="risks", title="Risks", target_words=60, instructions="List risks.")
    sections = [WrittenSection(SPEC, "1. Create the list table."), WrittenSection(risks, "")]
    document = assemble(title="Epic 2", sections=sections)
    assert "## Tasks" in document
    assert "## Risks" not in document
    written = next(
        c for c in check_sections(sections, expected=2) if "sections are written" in c.item
    )
    assert (written.passed, written.detail) == (False, "Risks")
