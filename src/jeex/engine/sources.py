"""What a section is given besides the brief: earlier documents, exhibits, passages.

Also where a new document version is indexed, so the next steps (and search) find it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest

import structlog

from jeex.config import Settings
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.engine.scope import RunScope
from jeex.exhibits import service as exhibits_service
from jeex.retrieval import citations
from jeex.retrieval.chunking import chunk_text
from jeex.retrieval.citations import Given
from jeex.retrieval.service import DOCUMENT, EXHIBIT, Retrieval, Source
from jeex.vocabulary import ExhibitStatus

log = structlog.get_logger(__name__)


@dataclass
class RunSources:
    """The run's sources (``jeex.agents.context.Sources``) and its indexing."""

    scope: RunScope
    settings: Settings
    language: str
    #: The process's embedder and vector store; None runs without retrieval or indexing.
    retrieval: Retrieval | None = None

    async def has_exhibits(self) -> bool:
        """True when the project has a ready exhibit (then sections retrieve passages)."""
        if self.retrieval is None:
            return False
        async with self.scope.session() as session:
            found = await exhibits_service.list_(session, project_id=self.scope.project_id)
        return any(e.status == ExhibitStatus.READY for e in found)

    async def similarity(
        self, queries: Sequence[str], texts: Sequence[str]
    ) -> list[list[float]] | None:
        """Cosine similarity of each text to each query, with the process's embedder."""
        if self.retrieval is None or not texts:
            return None
        embedder = self.retrieval.embedder
        vectors = await embedder.passages(list(texts))
        rows = []
        for query in queries:
            asked = await embedder.query(query)
            rows.append([cosine(asked, vector) for vector in vectors])
        return rows

    async def retrieve(
        self, query: str, *, budget_chars: int, document_types: Sequence[str]
    ) -> list[Given]:
        """The passages for one section: exhibits and earlier documents, within the budget."""
        if self.retrieval is None or budget_chars <= 0 or self.settings.retrieval_top_k == 0:
            return []
        # Exhibits and earlier documents are searched apart and taken in turns, so the
        # user's material is never crowded out by the (longer) earlier documents.
        limit = self.settings.retrieval_top_k
        exhibits = await self.retrieval.search(
            self.scope.vectors, query, limit=limit, types=[EXHIBIT]
        )
        documents = (
            await self.retrieval.search(
                self.scope.vectors,
                query,
                limit=limit,
                types=[DOCUMENT],
                document_types=list(document_types),
            )
            if document_types
            else []
        )
        passages = [p for pair in zip_longest(exhibits, documents) for p in pair if p][:limit]
        async with self.scope.session() as session:
            labels = exhibits_service.labels(
                await exhibits_service.list_(session, project_id=self.scope.project_id)
            )
        return citations.label_passages(passages, labels, budget_chars=budget_chars)

    async def index_document(self, document: DocumentVersion) -> None:
        """Index a new document version for later retrieval and search.

        The vectors are derived data: a failure is logged and the run goes on (search
        then misses this version until the next one is indexed).
        """
        if self.retrieval is None:
            return
        chunks = chunk_text(
            document.content,
            max_chars=self.settings.chunk_chars,
            overlap=self.settings.chunk_overlap_chars,
        )
        source = Source(
            type=DOCUMENT,
            source_id=document.id,
            title=document.title,
            version=document.version,
            lang=self.language,
            document_type=document.document_type,
            document_key=f"{document.document_type}:{document.epic_number}",
        )
        try:
            await self.retrieval.index_document_version(self.scope.vectors, source, chunks)
        except Exception as exc:
            log.warning("document not indexed", document_id=str(document.id), error=str(exc))

    async def earlier_documents(self, document_types: Sequence[str]) -> list[DocumentVersion]:
        async with self.scope.session() as session:
            found = [
                await documents_service.latest(
                    session, project_id=self.scope.project_id, document_type=kind
                )
                for kind in document_types
            ]
        return [doc for doc in found if doc is not None]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 for a zero vector)."""
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=False)) / norm if norm else 0.0
