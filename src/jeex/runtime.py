"""The running parts of one JEEX process, in either shape, started in the right order.

Embedded: PostgreSQL from pgserver, then migrations, then llama.cpp. Distributed:
the configured URLs, the same code, except that nothing here migrates: the process
connects as the application role only and refuses to start, in one line, when the
schema is not the one it needs (``jeex db upgrade``, with the owner's credentials, is
the only thing that migrates a shared database). `Runtime` is a context manager so that every
command, however it ends (including Ctrl-C), stops what it started.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType

from jeex.config import Settings
from jeex.db import retry
from jeex.db.bootstrap import prepare, resolve_urls, verify_schema
from jeex.db.session import Database
from jeex.db.urls import DatabaseUrls
from jeex.errors import ServiceUnavailable
from jeex.llm.client import LLMClient
from jeex.llm.embedded import EmbeddedLLM
from jeex.retrieval.service import Retrieval


class Runtime:
    """Database URLs (embedded: prepared and migrated; distributed: checked), when asked an
    LLM endpoint, and on first use the embedder and vector store."""

    def __init__(self, settings: Settings, *, need_llm: bool = False) -> None:
        self.settings = settings
        self.need_llm = need_llm
        self.urls: DatabaseUrls | None = None
        self.embedded_llm: EmbeddedLLM | None = None
        self.llm_base_url: str | None = settings.llm_base_url
        self._retrieval: Retrieval | None = None
        self._stack = ExitStack()

    def __enter__(self) -> Runtime:
        try:
            retry.configure(self.settings.database_ride_out_seconds)
            self.urls = resolve_urls(self.settings)
            if self.settings.embedded_database:
                prepare(self.urls, self.settings)
            else:
                verify_schema(self.urls.app)
            if self.need_llm and self.settings.embedded_llm:
                self.embedded_llm = self._stack.enter_context(EmbeddedLLM(self.settings))
                self.llm_base_url = self.embedded_llm.base_url
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def retrieval(self) -> Retrieval | None:
        """The process's embedder and vector store (local Qdrant: this process owns it);
        None when ``JEEX_RETRIEVAL_ENABLED`` is off."""
        if not self.settings.retrieval_enabled:
            return None
        if self._retrieval is None:
            self._retrieval = Retrieval(self.settings)
            self._stack.callback(self._retrieval.close)
        return self._retrieval

    def retrieval_or_raise(self) -> Retrieval:
        """For commands that exist only to work with exhibits."""
        retrieval = self.retrieval()
        if retrieval is None:
            raise ServiceUnavailable(
                "retrieval is off (JEEX_RETRIEVAL_ENABLED=false): exhibits are unavailable"
            )
        return retrieval

    def database(self) -> Database:
        """A new engine for the current event loop (asyncpg-style pools are loop-bound)."""
        assert self.urls is not None, "Runtime not entered"
        return Database(
            self.urls.app,
            pool_size=self.settings.database_pool_size,
            pool_timeout=self.settings.database_pool_timeout_seconds,
        )

    def llm_client(self) -> LLMClient:
        assert self.llm_base_url is not None, "Runtime was entered without an LLM"
        client = LLMClient(self.settings, base_url=self.llm_base_url)
        if self.embedded_llm is not None:
            client.before_call = self.embedded_llm.ensure_running
        return client
