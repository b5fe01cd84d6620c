"""What an agent may ask of the run it writes for, as protocols the engine implements.

Agents sit below the engine: they decide *what* to write and call these parts for *how*
(checkpointed sections, retrieval, saving, sharing units with other workers). Keeping
the contract here, in the agents' own package, is what lets ``jeex.engine`` import the
agents and never the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from jeex.agents.prompts import Brief
from jeex.agents.repair_text import Repaired
from jeex.config import Settings
from jeex.documents.models import DocumentVersion
from jeex.kinds import Kind
from jeex.llm.client import LLMClient, Message
from jeex.llm.usage import Usage
from jeex.retrieval.citations import Given

T = TypeVar("T")


@dataclass
class SectionResult:
    """A finished section: its cleaned text and what it cost."""

    content: str
    usage: Usage
    fixes: tuple[str, ...] = ()
    reused: bool = False
    #: The passages the section cites (their Sources entries).
    cited: tuple[dict[str, Any], ...] = ()
    #: Citations the model made up (removed from ``content``).
    invented: tuple[str, ...] = ()


class Sections(Protocol):
    """Checkpointed writing: a section already written is returned, never written twice."""

    async def write(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages: list[Message],
        max_tokens: int,
        sources: Sequence[Given] = (),
        said: set[str] | None = None,
    ) -> SectionResult: ...

    async def items(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages: list[Message],
        schema: dict[str, Any],
        render: Callable[[Any], Repaired[str]],
        max_tokens: int,
        prose: list[Message],
        said: set[str] | None = None,
    ) -> SectionResult: ...

    async def structured(
        self,
        *,
        key: str,
        position: int,
        title: str,
        messages_for: Callable[[bool], list[Message]],
        schema: dict[str, Any],
        parse: Callable[[Any], Repaired[T]],
        max_tokens: int = 900,
    ) -> Repaired[T]: ...

    async def checkpointed(self, key: str) -> bool: ...

    async def written(self) -> list[str]:
        """The text of every section of the run written so far, here or by a helper."""
        ...

    def announce_total(self, sections: int) -> None: ...


class Sources(Protocol):
    """What a section is given besides the brief: earlier documents and retrieved passages."""

    async def has_exhibits(self) -> bool: ...

    async def retrieve(
        self, query: str, *, budget_chars: int, document_types: Sequence[str]
    ) -> list[Given]: ...

    async def earlier_documents(self, document_types: Sequence[str]) -> list[DocumentVersion]: ...

    async def similarity(
        self, queries: Sequence[str], texts: Sequence[str]
    ) -> list[list[float]] | None:
        """Cosine similarity of each text to each query (one row per query; the texts are
        embedded once); None without an embedder."""
        ...


class Documents(Protocol):
    """Saving a finished document as the run's version of it."""

    async def save(
        self,
        *,
        document_type: str,
        epic_number: int,
        title: str,
        content: str,
        metadata: dict[str, Any],
    ) -> DocumentVersion: ...


class Units(Protocol):
    """Independent units of one run (epics) shared with other workers."""

    def claim(self, unit: str) -> contextlib.AbstractAsyncContextManager[bool]: ...

    async def wait_for_claim(self) -> None: ...

    async def request_helpers(self, units: int) -> None: ...


class AgentContext(Protocol):
    """Everything an agent is given for one run."""

    @property
    def kind(self) -> Kind: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def llm(self) -> LLMClient: ...

    @property
    def brief(self) -> Brief: ...

    @property
    def project_name(self) -> str: ...

    @property
    def sections(self) -> Sections: ...

    @property
    def sources(self) -> Sources: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def units(self) -> Units: ...
