"""The one way JEEX talks to a language model: the OpenAI Chat Completions protocol.

Prose is streamed; structured output is asked for with a JSON schema, in the
form the endpoint understands (llama.cpp wants ``json_object`` + ``schema``,
OpenAI wants ``json_schema``). Transient failures (timeouts, dropped
connections, 429, 5xx) are retried with exponential back-off and jitter; other
errors fail at once. Endpoints that report no usage while streaming (llama.cpp)
are asked to tokenize, and failing that the count is estimated and marked so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import httpx2
import openai
import structlog
from opentelemetry import trace
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from jeex import metrics, secret_sources, tracing
from jeex.config import Settings
from jeex.errors import LLMUnavailable
from jeex.llm.usage import Usage
from jeex.secret_sources import SecretUnavailable, redact

log = structlog.get_logger(__name__)

Message = dict[str, str]
DeltaCallback = Callable[[str], None]
T = TypeVar("T")


class IncompleteStream(Exception):
    """The stream ended without a finish reason: the connection dropped mid-answer."""


TRANSIENT = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    httpx.TransportError,
    httpx2.TransportError,
    IncompleteStream,
)


@dataclass
class Completion:
    """The text of one answer and what it cost."""

    text: str
    usage: Usage
    finish_reason: str | None = None


class LLMClient:
    """An OpenAI-compatible endpoint with our retry policy and usage accounting."""

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str,
        model: str | None = None,
        structured_mode: Literal["json_object_schema", "json_schema"] | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.model = model or settings.llm_model
        self.structured_mode = structured_mode or settings.structured_mode
        timeout = openai.Timeout(
            settings.llm_timeout_seconds, connect=settings.llm_connect_timeout_seconds
        )
        self.client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.llm_api_key.get_secret_value() or "not-needed",
            timeout=timeout,
            max_retries=0,
        )
        self._can_tokenize: bool | None = None
        self.before_call: Callable[[], None] | None = None
        #: Wall time spent inside LLM calls (all attempts): what the pipeline's own
        #: overhead is measured against (bench/pipeline_overhead.py).
        self.call_seconds = 0.0

    @property
    def _completions(self) -> Any:
        """Untyped: llama.cpp's ``response_format`` carries a schema OpenAI's types lack."""
        return self.client.chat.completions

    async def close(self) -> None:
        await self.client.close()

    async def _retrying(self, call: Callable[[], Awaitable[T]], on_retry: Callable[[], None]) -> T:
        try:
            return await self._retrying_once(call, on_retry)
        except LLMUnavailable as exc:
            if not isinstance(exc.__cause__, openai.AuthenticationError):
                raise
            if not await self._reload_key():
                raise
        return await self._retrying_once(call, on_retry)

    async def _reload_key(self) -> bool:
        """After a 401: read the key again from its file or Vault; True when it changed, so
        that a key rotated at the source takes effect without a restart."""
        if not secret_sources.rotatable("llm_api_key"):
            return False
        try:
            key = await asyncio.to_thread(secret_sources.current, "llm_api_key")
        except SecretUnavailable as exc:
            log.warning("llm.key_reload_failed", error=str(exc))
            return False
        if not key or key == self.client.api_key:
            return False
        self.client.api_key = key
        log.info("llm.key_reloaded", reason="the endpoint refused the key in use (401)")
        return True

    async def _retrying_once(
        self, call: Callable[[], Awaitable[T]], on_retry: Callable[[], None]
    ) -> T:
        attempts = self.settings.llm_max_retries + 1
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_random_exponential(
                multiplier=0.5, max=self.settings.llm_retry_max_wait_seconds
            ),
            stop=stop_after_attempt(attempts),
            before_sleep=lambda state: _log_retry(state.attempt_number, state.outcome, on_retry),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self.before_call is not None:
                        self.before_call()
                    started = time.perf_counter()
                    try:
                        return await call()
                    finally:
                        self.call_seconds += time.perf_counter() - started
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise LLMUnavailable(
                f"the LLM at {self.base_url} kept failing after {attempts} attempts: "
                f"{_describe(cause)}"
            ) from cause
        except openai.APIStatusError as exc:
            raise LLMUnavailable(
                f"the LLM at {self.base_url} refused the request: {_describe(exc)}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream_text(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        on_delta: DeltaCallback | None = None,
        on_restart: Callable[[], None] | None = None,
        stop: Sequence[str] = (),
    ) -> Completion:
        """Stream a prose answer, reporting every delta; retried answers restart. ``stop``:
        where the model must stop (the prompt's labels, which it would otherwise echo)."""

        async def call() -> Completion:
            return await self._stream_once(
                messages, max_tokens=max_tokens, on_delta=on_delta, stop=stop
            )

        return await self._measured("stream", self._retrying(call, on_restart or (lambda: None)))

    async def _stream_once(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        on_delta: DeltaCallback | None,
        stop: Sequence[str] = (),
    ) -> Completion:
        started = time.perf_counter()
        parts: list[str] = []
        usage: Any = None
        finish: str | None = None
        sampling = dict(self.settings.sampling)
        extra = (
            {"repeat_penalty": sampling.pop("repeat_penalty")}
            if "repeat_penalty" in sampling
            else {}
        )
        stream = await self._completions.create(
            model=self.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=self.settings.llm_temperature,
            stream=True,
            stream_options={"include_usage": True},
            **({"stop": list(stop)[:4]} if stop else {}),
            **sampling,
            **({"extra_body": extra} if extra else {}),
        )
        async with stream:
            async for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    # PostgreSQL text cannot hold U+0000; a model can emit it.
                    content = (choice.delta.content or "").replace("\x00", "")
                    if content:
                        parts.append(content)
                        if on_delta is not None:
                            on_delta(content)
        if finish is None:
            raise IncompleteStream("the stream ended before the answer was finished")
        text = "".join(parts)
        seconds = time.perf_counter() - started  # generation only, not the token counting
        measured = await self._usage(messages, text, usage)
        measured.seconds = seconds
        return Completion(text=text, usage=measured, finish_reason=finish)

    async def complete_json(
        self, messages: list[Message], *, schema: dict[str, Any], name: str, max_tokens: int
    ) -> Completion:
        """Ask for one JSON object matching ``schema``; the caller validates and repairs it."""

        async def call() -> Completion:
            started = time.perf_counter()
            response = await self._completions.create(
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.0,
                response_format=self._response_format(schema, name),
            )
            text = response.choices[0].message.content or "" if response.choices else ""
            seconds = time.perf_counter() - started
            usage = await self._usage(messages, text, response.usage)
            usage.seconds = seconds
            return Completion(text=text, usage=usage, finish_reason=_finish(response))

        return await self._measured("json", self._retrying(call, lambda: None))

    async def _measured(self, call: str, completion: Awaitable[Completion]) -> Completion:
        """Record the call's duration (retries included), outcome, tokens and cost."""
        started = time.perf_counter()
        with tracing.span(
            f"llm {call}", trace.SpanKind.CLIENT, **{"gen_ai.request.model": self.model}
        ) as span:
            try:
                done = await completion
            except BaseException:
                metrics.LLM_SECONDS.labels(call, "failed").observe(time.perf_counter() - started)
                raise
            span.set_attribute("gen_ai.usage.input_tokens", done.usage.tokens_in)
            span.set_attribute("gen_ai.usage.output_tokens", done.usage.tokens_out)
        metrics.LLM_SECONDS.labels(call, "ok").observe(time.perf_counter() - started)
        metrics.LLM_TOKENS.labels("in").inc(done.usage.tokens_in)
        metrics.LLM_TOKENS.labels("out").inc(done.usage.tokens_out)
        metrics.LLM_COST.inc(float(done.usage.cost(self.settings)))
        return done

    def _response_format(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        if self.structured_mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}

    async def _usage(self, messages: list[Message], text: str, reported: Any) -> Usage:
        if reported is not None and getattr(reported, "completion_tokens", None) is not None:
            return Usage(reported.prompt_tokens or 0, reported.completion_tokens, calls=1)
        prompt = "\n".join(m["content"] for m in messages)
        tokens_in, tokens_out = await self.count_tokens(prompt), await self.count_tokens(text)
        if tokens_in is not None and tokens_out is not None:
            return Usage(tokens_in, tokens_out, calls=1)
        return Usage(_estimate(prompt), _estimate(text), calls=1, estimated=True)

    async def count_tokens(self, text: str) -> int | None:
        """llama.cpp's ``/extras/tokenize``; None where the endpoint has no such thing."""
        if self._can_tokenize is False or not text:
            return 0 if not text else None
        root = self.base_url.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(f"{root}/extras/tokenize", json={"input": text})
        except httpx.HTTPError:
            self._can_tokenize = False
            return None
        if response.status_code != 200:
            self._can_tokenize = False
            return None
        self._can_tokenize = True
        return len(response.json().get("tokens", []))

    async def ping(self) -> bool:
        try:
            await self.client.models.list()
        except openai.OpenAIError:
            return False
        return True


def _estimate(text: str) -> int:
    """About four characters a token: good enough for a budget, flagged as an estimate."""
    return max(1, len(text) // 4) if text else 0


def _finish(response: Any) -> str | None:
    return response.choices[0].finish_reason if response.choices else None


def _describe(exc: BaseException | None) -> str:
    """What went wrong, for the run's error and the logs; an endpoint that quotes the API
    key back (OpenAI's 401 does) does not get it into either."""
    if isinstance(exc, openai.APIStatusError):
        return redact(f"HTTP {exc.status_code} {exc.message}")
    if exc is None:
        return "unknown error"
    return redact(f"{type(exc).__name__}: {exc}")


def _log_retry(attempt: int, outcome: Any, on_retry: Callable[[], None]) -> None:
    error = outcome.exception() if outcome is not None else None
    log.warning("llm.retry", attempt=attempt, error=_describe(error))
    on_retry()
