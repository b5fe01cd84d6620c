"""The fake LLM is what every pipeline test stands on, so it is checked through the real SDK."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from pydantic import BaseModel, Field

from support.fakellm import ScriptedLLM

PROSE_PROMPT = (
    "You are writing one section of a product document.\n"
    "Section: Problem statement\n"
    "Idea: A shared grocery list app for busy families\n"
    "Write the section body."
)


class Story(BaseModel):
    number: int
    title: str
    points: int = Field(ge=1, le=8)
    acceptance_criteria: list[str] = Field(min_length=1, max_length=2)


class Epic(BaseModel):
    number: int
    title: str = Field(min_length=3, max_length=60)
    priority: Literal["must", "should", "could"]
    description: str | None
    blocked: bool
    stories: list[Story]


class Plan(BaseModel):
    epics: list[Epic] = Field(min_length=4)
    key_facts: list[str]
    open_questions: list[str]


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
async def client(llm: ScriptedLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=llm.base_url, api_key="x", max_retries=0)
    yield sdk
    await sdk.close()


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


async def ask(client: openai.AsyncOpenAI, text: str = PROSE_PROMPT, **kwargs: Any) -> str:
    resp = await client.chat.completions.create(model="m", messages=user(text), **kwargs)
    return resp.choices[0].message.content or ""


async def drain(stream: AsyncIterator[ChatCompletionChunk], into: list[str]) -> None:
    async for chunk in stream:
        into.extend(c.delta.content or "" for c in chunk.choices)


def llama_format(schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's shape is not in the SDK's types, so it travels in extra_body."""
    return {"response_format": {"type": "json_object", "schema": schema}}


async def test_models_lists_the_one_model(client: openai.AsyncOpenAI) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == ["scripted-model"]


async def test_stream_yields_same_text_as_non_stream(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="m",
        messages=user(PROSE_PROMPT),
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    finishes: list[str | None] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finishes.append(choice.finish_reason)
    text = "".join(parts)
    assert len(parts) == len(text.split()) > 10  # one chunk per token
    assert finishes[-1] == "stop"
    assert set(finishes[:-1]) == {None}
    assert usage is not None
    assert usage.completion_tokens == len(text.split())
    assert text == await ask(client)


async def test_non_stream_reports_usage(client: openai.AsyncOpenAI) -> None:
    resp = await client.chat.completions.create(
        model="m",
        messages=[{"role": "system", "content": "be brief"}, *user("hello there")],
    )
    usage = resp.usage
    assert usage is not None
    assert usage.prompt_tokens == 4
    assert usage.completion_tokens == len((resp.choices[0].message.content or "").split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_default_prose_is_two_plain_paragraphs_about_the_section(
    client: openai.AsyncOpenAI,
) -> None:
    text = await ask(client)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 2
    assert 60 <= len(text.split()) <= 90
    assert "Problem statement" in text
    assert "grocery" in text
    assert "#" not in text
    assert not {"todo", "tbd"} & set(text.lower().replace(".", " ").split())


async def test_prose_without_section_still_answers(client: openai.AsyncOpenAI) -> None:
    text = await ask(client, "Summarise the onboarding checklist")
    assert "onboarding" in text or "checklist" in text


async def test_max_tokens_truncates_with_length(client: openai.AsyncOpenAI) -> None:
    resp = await client.chat.completions.create(
        model="m", messages=user(PROSE_PROMPT), max_tokens=5
    )
    assert len((resp.choices[0].message.content or "").split()) == 5
    assert resp.choices[0].finish_reason == "length"


async def test_json_object_schema_answer_validates(client: openai.AsyncOpenAI) -> None:
    text = await ask(
        client, "Idea: shared grocery lists", extra_body=llama_format(Plan.model_json_schema())
    )
    plan = Plan.model_validate_json(text)
    titles = [e.title for e in plan.epics]
    assert len(titles) == 4
    assert len(set(titles)) == 4
    assert titles[0] == "Infrastructure and project setup"
    assert [e.number for e in plan.epics] == [1, 2, 3, 4]
    assert all(len(e.stories) == 3 for e in plan.epics)
    assert all(q.endswith("?") for q in plan.open_questions)
    assert len(set(plan.key_facts)) == len(plan.key_facts) == 3
    assert all("grocery" in fact for fact in plan.key_facts)


async def test_json_schema_style_answer_validates(client: openai.AsyncOpenAI) -> None:
    text = await ask(
        client,
        "Plan it",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Plan", "schema": Plan.model_json_schema()},
        },
    )
    Plan.model_validate_json(text)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (429, openai.RateLimitError),
    ],
)
async def test_status_fault_maps_to_sdk_error(
    llm: ScriptedLLM, client: openai.AsyncOpenAI, code: int, error: type[openai.APIStatusError]
) -> None:
    llm.inject("status", code=code)
    with pytest.raises(error) as info:
        await ask(client)
    assert info.value.status_code == code
    assert await ask(client)  # queue drained: back to normal


async def test_faults_apply_fifo(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.inject("status", code=429)
    llm.inject("malformed_json")
    with pytest.raises(openai.RateLimitError):
        await ask(client)
    assert "Problem statement" not in await ask(client)
    assert "Problem statement" in await ask(client)


async def test_rate_limit_says_retry_immediately(llm: ScriptedLLM) -> None:
    llm.inject("status", code=429)
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{llm.base_url}/chat/completions", json={"messages": []})
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "0"
    assert resp.json()["error"]["type"] == "rate_limit_error"


async def test_fault_count_covers_consecutive_requests(
    llm: ScriptedLLM, client: openai.AsyncOpenAI
) -> None:
    llm.inject("status", count=2, code=500)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await ask(client)
    assert await ask(client)
    assert llm.calls == 3
    assert all(r["messages"][0]["content"] == PROSE_PROMPT for r in llm.requests)


async def test_clear_faults_discards_queue(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.inject("status", count=5, code=500)
    llm.clear_faults()
    assert await ask(client)


async def test_malformed_json_breaks_structured_and_prose(
    llm: ScriptedLLM, client: openai.AsyncOpenAI
) -> None:
    llm.inject("malformed_json", count=2)
    text = await ask(client, "plan", extra_body=llama_format(Plan.model_json_schema()))
    assert text.startswith('{"epics": [')
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    garbage = await ask(client)
    assert "Problem statement" not in garbage
    assert garbage != await ask(client)


async def test_drop_breaks_stream_midway(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.inject("drop")
    stream = await client.chat.completions.create(
        model="m", messages=user(PROSE_PROMPT), stream=True
    )
    received: list[str] = []
    with pytest.raises((openai.APIConnectionError, httpx.HTTPError)):
        await drain(stream, received)
    assert 0 < len(received) < 10


async def test_drop_without_stream_is_connection_error(
    llm: ScriptedLLM, client: openai.AsyncOpenAI
) -> None:
    llm.inject("drop")
    with pytest.raises(openai.APIConnectionError):
        await ask(client)
    assert await ask(client)  # the server survives


async def test_delay_postpones_answer(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.inject("delay", seconds=0.2)
    started = time.monotonic()
    assert await ask(client)
    assert time.monotonic() - started >= 0.2


async def test_hang_exceeds_client_timeout(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.inject("hang", seconds=30)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await ask(client, timeout=0.1)
    assert time.monotonic() - started < 2
    assert await ask(client)
    assert llm.calls == 2


async def test_seconds_per_token_paces_output() -> None:
    with ScriptedLLM(seconds_per_token=0.01) as slow:
        sdk = openai.AsyncOpenAI(base_url=slow.base_url, api_key="x", max_retries=0)
        started = time.monotonic()
        resp = await sdk.chat.completions.create(model="m", messages=user("x"), max_tokens=10)
        assert time.monotonic() - started >= 0.1
        assert resp.usage is not None
        assert resp.usage.completion_tokens == 10
        started = time.monotonic()
        stream = await sdk.chat.completions.create(
            model="m", messages=user("x"), max_tokens=10, stream=True
        )
        async for _ in stream:
            pass
        assert time.monotonic() - started >= 0.1
        await sdk.close()


async def test_script_json_overrides_by_schema_title_and_count(
    llm: ScriptedLLM, client: openai.AsyncOpenAI
) -> None:
    scripted = {"epics": [], "key_facts": ["k"], "open_questions": []}
    llm.script_json("Plan", scripted, count=1)
    fmt = llama_format(Plan.model_json_schema())
    assert json.loads(await ask(client, "anything", extra_body=fmt)) == scripted
    assert json.loads(await ask(client, "anything", extra_body=fmt)) != scripted


async def test_script_json_matches_user_message(
    llm: ScriptedLLM, client: openai.AsyncOpenAI
) -> None:
    llm.script_json("special marker", {"ok": True})
    fmt = llama_format(Plan.model_json_schema())
    for _ in range(2):
        assert json.loads(await ask(client, "a special marker here", extra_body=fmt)) == {
            "ok": True
        }
    assert "ok" not in json.loads(await ask(client, "nothing", extra_body=fmt))


async def test_script_text_overrides_prose(llm: ScriptedLLM, client: openai.AsyncOpenAI) -> None:
    llm.script_text("Problem statement", "Scripted body.", count=1)
    assert await ask(client) == "Scripted body."
    assert await ask(client) != "Scripted body."


async def test_tokenize_counts_words(llm: ScriptedLLM) -> None:
    root = llm.base_url.removesuffix("/v1")
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{root}/extras/tokenize", json={"input": "one two  three\nfour"})
    tokens = resp.json()["tokens"]
    assert len(tokens) == 4
    assert all(isinstance(t, int) for t in tokens)


async def test_same_request_same_answer(client: openai.AsyncOpenAI) -> None:
    fmt = llama_format(Plan.model_json_schema())
    assert await ask(client) == await ask(client)
    assert await ask(client, "x", extra_body=fmt) == await ask(client, "x", extra_body=fmt)
    assert await ask(client) != await ask(client, PROSE_PROMPT.replace("Problem", "Goals"))


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        ScriptedLLM().inject("explode")


async def test_embeddings_route_answers_the_sdk_with_normalised_word_vectors(
    client: openai.AsyncOpenAI, llm: ScriptedLLM
) -> None:
    texts = ["grocery list for families", "a grocery list app", "quarterly tax filing"]
    response = await client.embeddings.create(model="e", input=texts)
    vectors = [item.embedding for item in response.data]
    assert [item.index for item in response.data] == [0, 1, 2]
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-6 for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert llm.embedded_texts == 3
    sized = await client.embeddings.create(model="e", input="x", dimensions=16)
    assert len(sized.data[0].embedding) == 16
    bad = httpx.post(f"{llm.base_url}/embeddings", json={"input": [1, 2]}, timeout=5)
    assert bad.status_code == 400
    assert "'input'" in bad.json()["error"]["message"]
