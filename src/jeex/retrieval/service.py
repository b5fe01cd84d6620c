"""Indexing and searching sources (exhibits, document versions) of one tenant's project.

`Retrieval` owns the process's embedder and vector store. Local Qdrant allows one
process per folder, so a process opens the store on first use and keeps it: in the
embedded shape that is the process serving the queue (``jeex plan``, ``jeex worker``,
``jeex exhibits add`` without ``--detach``). The distributed shape uses a Qdrant
server, which any number of processes share.

Point ids are derived from the source id and the chunk number (uuid5), so indexing
the same source twice overwrites rather than duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

from jeex.config import Settings
from jeex.retrieval.chunking import Chunk
from jeex.retrieval.embeddings import Embedder, make_embedder
from jeex.retrieval.store import Point, Scope, VectorStore, open_store, where

EXHIBIT = "exhibit"
DOCUMENT = "document"
_POINT_NAMESPACE = uuid.UUID("6f1d1c1e-5b0a-4d38-9a57-0e3c1d2b7a11")


@dataclass(frozen=True)
class Source:
    """What chunks come from: an exhibit or a document version."""

    type: str
    source_id: uuid.UUID
    title: str
    version: int = 1
    lang: str = ""
    tags: tuple[str, ...] = ()
    visibility: str = "project"
    document_type: str = ""
    document_key: str = ""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with where it comes from."""

    type: str
    source_id: str
    title: str
    ordinal: int
    heading: str
    page: int | None
    text: str
    score: float
    document_type: str = ""
    version: int = 1

    @property
    def location(self) -> str:
        return Chunk(self.ordinal, self.text, self.heading, self.page).location

    @classmethod
    def of(cls, payload: dict[str, Any], score: float) -> Passage:
        return cls(
            type=str(payload.get("type", "")),
            source_id=str(payload.get("source_id", "")),
            title=str(payload.get("title", "")),
            ordinal=int(payload.get("ordinal", 0)),
            heading=str(payload.get("heading", "")),
            page=payload.get("page"),
            text=str(payload.get("text", "")),
            score=score,
            document_type=str(payload.get("document_type", "")),
            version=int(payload.get("version", 1)),
        )


class Retrieval:
    """The process-wide embedder and vector store; the store opens on first use."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self._store: VectorStore | None = None

    async def store(self) -> VectorStore:
        if self._store is None:
            self._store = open_store(self.settings)
        await self._store.ensure_collection(await self.embedder.dimensions())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def index(
        self,
        scope: Scope,
        source: Source,
        chunks: Sequence[Chunk],
        *,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
        batch: int | None = None,
    ) -> int:
        """Replace the source's points with these chunks; returns how many were stored.

        Embedded and stored one batch at a time, so the store's lock is held briefly (a
        search goes between two batches) and ``progress(done, total)`` is told after each;
        ``batch`` chunks at a time (``JEEX_EMBEDDINGS_BATCH_SIZE`` unless given)."""
        store = await self.store()
        await store.delete(scope, conditions=where(source_id=str(source.source_id)))
        step = batch or self.settings.embeddings_batch_size
        for start in range(0, len(chunks), step):
            await self._index_batch(scope, source, chunks[start : start + step])
            if progress is not None:
                await progress(min(start + step, len(chunks)), len(chunks))
        return len(chunks)

    async def _index_batch(self, scope: Scope, source: Source, chunks: Sequence[Chunk]) -> None:
        store = await self.store()
        vectors = await self.embedder.passages([_embedded_text(source, c) for c in chunks])
        points = [
            Point(
                id=uuid.uuid5(_POINT_NAMESPACE, f"{source.source_id}:{chunk.ordinal}"),
                vector=vector,
                payload={
                    "type": source.type,
                    "visibility": source.visibility,
                    "version": source.version,
                    "lang": source.lang,
                    "tags": list(source.tags),
                    "source_id": str(source.source_id),
                    "title": source.title,
                    "document_type": source.document_type,
                    "document_key": source.document_key,
                    "ordinal": chunk.ordinal,
                    "heading": chunk.heading,
                    "page": chunk.page,
                    "text": chunk.text,
                },
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        await store.upsert(scope, points)

    async def index_document_version(
        self, scope: Scope, source: Source, chunks: Sequence[Chunk]
    ) -> int:
        """Index a document version and drop the points of its older versions."""
        stored = await self.index(scope, source, chunks)
        older = models.FieldCondition(key="version", range=models.Range(lt=source.version))
        conditions = [*where(type=DOCUMENT, document_key=source.document_key), older]
        await (await self.store()).delete(scope, conditions=conditions)
        return stored

    async def remove_source(self, scope: Scope, source_id: uuid.UUID) -> None:
        await (await self.store()).delete(scope, conditions=where(source_id=str(source_id)))

    async def remove_project(self, scope: Scope) -> None:
        await (await self.store()).delete(scope)

    async def count(self, scope: Scope, **conditions: str | Sequence[str]) -> int:
        return await (await self.store()).count(scope, conditions=where(**conditions))

    async def search(
        self,
        scope: Scope,
        query: str,
        *,
        limit: int,
        types: Sequence[str] = (EXHIBIT, DOCUMENT),
        document_types: Sequence[str] | None = None,
    ) -> list[Passage]:
        """Ranked passages of the scope for ``query``; documents limited to ``document_types``."""
        store = await self.store()
        vector = await self.embedder.query(query)
        if document_types is not None and not document_types:
            types = [t for t in types if t != DOCUMENT]
        conditions = where(type=list(types))
        if document_types and DOCUMENT in types:
            # exhibits, or documents of the allowed types
            allowed = models.Filter(
                should=[
                    models.FieldCondition(key="type", match=models.MatchValue(value=EXHIBIT)),
                    models.Filter(must=where(type=DOCUMENT, document_type=list(document_types))),
                ]
            )
            conditions = [*conditions, allowed]
        hits = await store.search(scope, vector, limit=limit, conditions=conditions)
        return [Passage.of(hit.payload, hit.score) for hit in hits]


def _embedded_text(source: Source, chunk: Chunk) -> str:
    """The heading goes into the vector too: a paragraph under “Pricing” is about pricing."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
