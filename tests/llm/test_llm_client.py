"""`LLMClient` against real HTTP servers on loopback: streaming, usage, retries, failures.

Most tests talk to the scripted fake (`llm_server`), which injects the faults a real model server
shows now and then. Usage fall-backs need an endpoint that reports no usage, so a second tiny
OpenAI-compatible app (`_PlainLLM`) is started here; its usage and tokenizer can be switched off.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from jeex.config import Settings
from jeex.errors import LLMUnavailable
from jeex.llm.client import LLMClient
from jeex.llm.embedded import free_loopback_port
from support.fakellm import ScriptedLLM

PRICE_IN = Decimal("0.50")
PRICE_OUT = Decimal("1.25")
MESSAGES = [
    {"role": "system", "content": "You write one section of a product document."},
    {
        "role": "user",
        "content": "Section: Problem statement\nIdea: A shared grocery list for busy families",
    },
]
SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}},
    "required": ["ok", "note"],
}


def make_settings(base_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Pure LLM settings: the database URL is never used by these tests."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": "postgresql://x@127.0.0.1/x",
        "llm_base_url": base_url,
        "llm_max_retries": 2,
        "llm_retry_max_wait_seconds": 0.01,
        "llm_timeout_seconds": 5,
        "llm_price_per_1k_input_tokens": PRICE_IN,
        "llm_price_per_1k_output_tokens": PRICE_OUT,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
async def client(llm_server: ScriptedLLM, tmp_path: Path) -> AsyncIterator[LLMClient]:
    llm = LLMClient(make_settings(llm_server.base_url, tmp_path), base_url=llm_server.base_url)
    yield llm
    await llm.close()


class Deltas:
    """Collects streamed deltas the way the UI does: a restart clears what was shown."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.received: list[str] = []
        self.restarts = 0

    def on_delta(self, delta: str) -> None:
        self.shown.append(delta)
        self.received.append(delta)

    def on_restart(self) -> None:
        self.restarts += 1
        self.shown.clear()


# --------------------------------------------------------------------------- streaming and usage


async def test_stream_delivers_deltas_that_add_up_to_the_text(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    deltas = Deltas()

    result = await client.stream_text(
        MESSAGES, max_tokens=200, on_delta=deltas.on_delta, on_restart=deltas.on_restart
    )

    assert len(deltas.shown) > 3
    assert "".join(deltas.shown) == result.text
    assert "Problem statement" in result.text
    assert result.finish_reason == "stop"
    assert deltas.restarts == 0
    assert llm_server.calls == 1


async def test_nul_characters_never_reach_the_text(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    llm_server.script_text("Section:", "Lists stay\x00 in step on every phone.")
    deltas = Deltas()
    result = await client.stream_text(MESSAGES, max_tokens=200, on_delta=deltas.on_delta)
    assert "\x00" not in result.text
    assert "\x00" not in "".join(deltas.shown)
    assert "Lists stay in step" in result.text


async def test_usage_reported_by_the_server_is_used_and_priced(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    result = await client.stream_text(MESSAGES, max_tokens=200)

    request = llm_server.requests[-1]
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    # The fake counts whitespace words as tokens.
    usage = result.usage
    assert usage.tokens_in == sum(len(m["content"].split()) for m in MESSAGES)
    assert usage.tokens_out == len(result.text.split())
    assert usage.calls == 1
    assert usage.estimated is False
    assert usage.seconds > 0
    cost = usage.cost(client.settings)
    assert isinstance(cost, Decimal)
    assert cost == (usage.tokens_in * PRICE_IN + usage.tokens_out * PRICE_OUT) / 1000
    assert cost > 0


async def test_max_tokens_cuts_the_answer_and_reports_length(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    result = await client.stream_text(MESSAGES, max_tokens=5)

    assert llm_server.requests[-1]["max_tokens"] == 5
    assert result.finish_reason == "length"
    assert result.usage.tokens_out == 5


class _PlainLLM:
    """A minimal OpenAI-compatible endpoint that may omit usage and may lack a tokenizer.

    Its tokenizer counts one token per character, which no other path produces, so a test can
    tell which source the client's numbers came from.
    """

    TEXT = "Plain answers arrive in small pieces."

    def __init__(self) -> None:
        self.usage: dict[str, int] | None = None
        self.tokenize = True
        self.tokenize_calls = 0
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _usage(self) -> dict[str, Any]:
        return {} if self.usage is None else {"usage": self.usage}

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        base = {"id": "plain-1", "created": 0, "model": "plain"}
        if not body.get("stream"):
            message = {"role": "assistant", "content": json.dumps({"ok": True, "note": "x"})}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return JSONResponse(
                {**base, "object": "chat.completion", "choices": [choice], **self._usage()}
            )

        async def events() -> AsyncIterator[bytes]:
            words = self.TEXT.split(" ")
            for i, word in enumerate(words):
                last = i == len(words) - 1
                choice = {
                    "index": 0,
                    "delta": {"content": word if last else word + " "},
                    "finish_reason": "stop" if last else None,
                }
                chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            if self.usage is not None:
                chunk = {**base, "object": "chat.completion.chunk", "choices": []}
                yield b"data: " + json.dumps({**chunk, **self._usage()}).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _tokenize(self, request: Request) -> Response:
        self.tokenize_calls += 1
        if not self.tokenize:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        body = await request.json()
        return JSONResponse({"tokens": [ord(c) for c in body["input"]]})

    def __enter__(self) -> _PlainLLM:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/extras/tokenize", self._tokenize, methods=["POST"]),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the plain LLM server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def plain_server() -> Iterator[_PlainLLM]:
    with _PlainLLM() as server:
        yield server


@pytest.fixture
async def plain(
    plain_server: _PlainLLM, tmp_path: Path
) -> AsyncIterator[tuple[_PlainLLM, LLMClient]]:
    plain_server.usage, plain_server.tokenize, plain_server.tokenize_calls = None, True, 0
    settings = make_settings(plain_server.base_url, tmp_path)
    llm = LLMClient(settings, base_url=plain_server.base_url)
    yield plain_server, llm
    await llm.close()


PROMPT = "\n".join(m["content"] for m in MESSAGES)


async def test_without_reported_usage_tokens_come_from_the_tokenizer(
    plain: tuple[_PlainLLM, LLMClient],
) -> None:
    server, llm = plain

    result = await llm.stream_text(MESSAGES, max_tokens=50)

    assert result.text == _PlainLLM.TEXT
    assert server.tokenize_calls == 2
    assert (result.usage.tokens_in, result.usage.tokens_out) == (len(PROMPT), len(result.text))
    assert result.usage.estimated is False


async def test_reported_usage_wins_over_the_tokenizer(
    plain: tuple[_PlainLLM, LLMClient],
) -> None:
    server, llm = plain
    server.usage = {"prompt_tokens": 7, "completion_tokens": 11, "total_tokens": 18}

    streamed = await llm.stream_text(MESSAGES, max_tokens=50)
    structured = await llm.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=50)

    for result in (streamed, structured):
        assert (result.usage.tokens_in, result.usage.tokens_out) == (7, 11)
        assert result.usage.estimated is False
    assert server.tokenize_calls == 0


async def test_without_usage_or_tokenizer_usage_is_estimated(
    plain: tuple[_PlainLLM, LLMClient],
) -> None:
    server, llm = plain
    server.tokenize = False

    streamed = await llm.stream_text(MESSAGES, max_tokens=50)
    structured = await llm.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=50)

    assert json.loads(structured.text) == {"ok": True, "note": "x"}
    for result in (streamed, structured):
        assert result.usage.estimated is True
        assert result.usage.tokens_in == len(PROMPT) // 4
        assert result.usage.tokens_out == max(1, len(result.text) // 4)
    assert server.tokenize_calls == 1, "a missing tokenizer is asked only once"


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("code", [500, 429, 503])
async def test_transient_status_is_retried_and_answers_once(
    client: LLMClient, llm_server: ScriptedLLM, code: int
) -> None:
    llm_server.inject("status", code=code)
    deltas = Deltas()

    result = await client.stream_text(
        MESSAGES, max_tokens=200, on_delta=deltas.on_delta, on_restart=deltas.on_restart
    )

    assert llm_server.calls == 2
    assert deltas.restarts == 1
    assert "".join(deltas.shown) == result.text
    assert result.text
    assert result.usage.calls == 1


async def test_dropped_stream_restarts_without_duplicating_text(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    reference = await client.stream_text(MESSAGES, max_tokens=200)
    llm_server.reset()
    llm_server.inject("drop")
    deltas = Deltas()

    result = await client.stream_text(
        MESSAGES, max_tokens=200, on_delta=deltas.on_delta, on_restart=deltas.on_restart
    )

    assert llm_server.calls == 2
    assert deltas.restarts == 1
    assert len(deltas.received) > len(deltas.shown), "the dropped attempt streamed some text"
    assert result.text == reference.text
    assert "".join(deltas.shown) == result.text


async def test_dropped_json_request_is_retried(client: LLMClient, llm_server: ScriptedLLM) -> None:
    llm_server.inject("drop")

    result = await client.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)

    assert llm_server.calls == 2
    assert set(json.loads(result.text)) == {"ok", "note"}


async def test_malformed_json_is_returned_for_the_caller_to_validate(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("malformed_json")

    result = await client.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)

    assert llm_server.calls == 1
    assert result.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.text)


async def test_persistent_server_error_becomes_llm_unavailable(
    client: LLMClient, llm_server: ScriptedLLM
) -> None:
    llm_server.inject("status", count=10, code=500)
    deltas = Deltas()

    with pytest.raises(LLMUnavailable) as caught:
        await client.stream_text(
            MESSAGES, max_tokens=200, on_delta=deltas.on_delta, on_restart=deltas.on_restart
        )

    message = str(caught.value)
    assert "3 attempts" in message
    assert "HTTP 500" in message
    assert llm_server.base_url in message
    assert llm_server.calls == 3
    assert deltas.restarts == 2


@pytest.mark.parametrize("code", [400, 404])
async def test_client_errors_fail_at_once(
    client: LLMClient, llm_server: ScriptedLLM, code: int
) -> None:
    llm_server.inject("status", code=code)

    with pytest.raises(LLMUnavailable, match=f"refused the request: HTTP {code}"):
        await client.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)

    assert llm_server.calls == 1


async def test_hanging_server_times_out_retries_and_gives_up(
    llm_server: ScriptedLLM, tmp_path: Path
) -> None:
    settings = make_settings(llm_server.base_url, tmp_path, llm_timeout_seconds=0.5)
    llm = LLMClient(settings, base_url=llm_server.base_url)
    llm_server.inject("hang", count=10, seconds=30)
    started = time.monotonic()
    try:
        with pytest.raises(LLMUnavailable, match="after 3 attempts: APITimeoutError"):
            await llm.stream_text(MESSAGES, max_tokens=100)
    finally:
        await llm.close()
    elapsed = time.monotonic() - started

    assert llm_server.calls == 3
    assert 1.4 < elapsed < 4


async def test_hang_then_answer_succeeds_on_retry(llm_server: ScriptedLLM, tmp_path: Path) -> None:
    settings = make_settings(llm_server.base_url, tmp_path, llm_timeout_seconds=0.5)
    llm = LLMClient(settings, base_url=llm_server.base_url)
    llm_server.inject("hang", seconds=30)
    try:
        result = await llm.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)
    finally:
        await llm.close()

    assert llm_server.calls == 2
    assert set(json.loads(result.text)) == {"ok", "note"}


# --------------------------------------------------------------------------- request shape


async def test_json_object_schema_mode_sends_the_llama_cpp_form(
    llm_server: ScriptedLLM, tmp_path: Path
) -> None:
    settings = make_settings(llm_server.base_url, tmp_path)
    llm = LLMClient(settings, base_url=llm_server.base_url, structured_mode="json_object_schema")
    try:
        result = await llm.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)
    finally:
        await llm.close()

    request = llm_server.requests[-1]
    assert request["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert request["temperature"] == 0.0
    assert "stream" not in request or request["stream"] is False
    assert set(json.loads(result.text)) == {"ok", "note"}
    assert result.usage.estimated is False


async def test_json_schema_mode_sends_the_openai_form(
    llm_server: ScriptedLLM, tmp_path: Path
) -> None:
    settings = make_settings(llm_server.base_url, tmp_path)
    llm = LLMClient(settings, base_url=llm_server.base_url, structured_mode="json_schema")
    try:
        await llm.complete_json(MESSAGES, schema=SCHEMA, name="check", max_tokens=100)
    finally:
        await llm.close()

    assert llm_server.requests[-1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "check", "schema": SCHEMA},
    }


def test_structured_mode_follows_the_settings(tmp_path: Path) -> None:
    remote = make_settings("http://127.0.0.1:9/v1", tmp_path)
    embedded = make_settings("", tmp_path)
    forced = make_settings(
        "http://127.0.0.1:9/v1", tmp_path, llm_structured_mode="json_object_schema"
    )

    assert remote.structured_mode == "json_schema"
    assert embedded.embedded_llm
    assert embedded.structured_mode == "json_object_schema"
    assert forced.structured_mode == "json_object_schema"


# --------------------------------------------------------------------------- ping


async def test_ping_is_true_for_a_live_endpoint(client: LLMClient) -> None:
    assert await client.ping() is True


async def test_ping_is_false_for_a_closed_port(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    llm = LLMClient(make_settings(base_url, tmp_path), base_url=base_url)
    try:
        assert await llm.ping() is False
    finally:
        await llm.close()
