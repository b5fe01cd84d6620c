"""The vector store: one Qdrant collection shared by every tenant, isolated by our filter.

Qdrant has no row-level security, and local mode has no authentication at all, so
isolation is this module's job (SECURITY.md P9). Every read, count and delete takes a
`Scope` (tenant + project, both required) and builds its filter from it in one place,
`_scope_filter`; there is no method that reaches points without one. Points are
written with the scope's ids in their payload, never with ids taken from the text.

The collection is created as the seeds ask (P10): HNSW ``m=0, payload_m=16`` (no
global graph; one graph per tenant, built from the ``is_tenant`` keyword index on
``tenant_id``), plus keyword indexes on ``project_id`` and ``type``. Local mode
ignores payload indexes (it searches by brute force) and lets one process at a time
open its folder: `open_store` turns that lock into `VectorStoreBusy` with a hint.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qdrant_client import QdrantClient, models

from jeex.config import Settings
from jeex.errors import VectorStoreBusy

T = TypeVar("T")
TENANT_KEY = "tenant_id"
INDEXED_KEYWORDS = ("project_id", "type")


@dataclass(frozen=True)
class Scope:
    """Whose points an operation may touch: always one tenant, always one project."""

    tenant_id: uuid.UUID
    project_id: uuid.UUID


@dataclass(frozen=True)
class Point:
    """One chunk to store: its id, its vector and its payload (scope ids are added here)."""

    id: uuid.UUID
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _scope_filter(scope: Scope, *, extra: Sequence[models.Condition] = ()) -> models.Filter:
    """The one place filters are built: tenant and project first, whatever else is asked."""
    if not isinstance(scope, Scope):  # pragma: no cover - a type error, kept as a guard
        raise TypeError("a vector-store operation needs a Scope")
    return models.Filter(
        must=[
            _match(TENANT_KEY, str(scope.tenant_id)),
            _match("project_id", str(scope.project_id)),
            *extra,
        ]
    )


def where(**values: str | int | Sequence[str]) -> list[models.Condition]:
    """Extra payload conditions: ``type="exhibit"``, ``source_id=…``, ``document_type=[…]``."""
    conditions: list[models.Condition] = []
    for key, value in values.items():
        if isinstance(value, str | int):
            conditions.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
        else:
            conditions.append(
                models.FieldCondition(key=key, match=models.MatchAny(any=list(value)))
            )
    return conditions


class VectorStore:
    """Tenant-scoped operations on the collection; calls run in a thread, one at a time."""

    def __init__(self, client: QdrantClient, collection: str, *, local: bool) -> None:
        self.client = client
        self.collection = collection
        self.local = local
        self._lock = threading.Lock()
        self._ready_dimensions: int | None = None

    async def _call(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn()

        return await asyncio.to_thread(locked)

    async def ensure_collection(self, dimensions: int) -> None:
        """Create the collection and its indexes once; refuse a collection of another size."""
        if self._ready_dimensions == dimensions:
            return
        await self._call(lambda: self._ensure(dimensions))
        self._ready_dimensions = dimensions

    def _ensure(self, dimensions: int) -> None:
        if self.client.collection_exists(self.collection):
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors.size if isinstance(vectors, models.VectorParams) else None
            if size != dimensions:
                raise VectorStoreBusy(
                    f"collection {self.collection!r} holds {size}-dimensional vectors but the "
                    f"embedder makes {dimensions}; set JEEX_QDRANT_COLLECTION to a new name "
                    "and re-index"
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
            hnsw_config=models.HnswConfigDiff(m=0, payload_m=16),
        )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes do nothing there: known, documented.
            warnings.simplefilter("ignore", UserWarning)
            self._create_indexes()

    def _create_indexes(self) -> None:
        self.client.create_payload_index(
            self.collection,
            TENANT_KEY,
            field_schema=models.KeywordIndexParams(
                type=models.KeywordIndexType.KEYWORD, is_tenant=True
            ),
        )
        for key in INDEXED_KEYWORDS:
            self.client.create_payload_index(
                self.collection, key, field_schema=models.PayloadSchemaType.KEYWORD
            )

    async def upsert(self, scope: Scope, points: Sequence[Point]) -> None:
        """Store points of one scope; the scope's ids overwrite any in the payload."""
        if not points:
            return
        structs = [
            models.PointStruct(
                id=str(p.id),
                vector=p.vector,
                payload={
                    **p.payload,
                    TENANT_KEY: str(scope.tenant_id),
                    "project_id": str(scope.project_id),
                },
            )
            for p in points
        ]
        await self._call(lambda: self.client.upsert(self.collection, points=structs, wait=True))

    async def search(
        self,
        scope: Scope,
        vector: list[float],
        *,
        limit: int,
        conditions: Sequence[models.Condition] = (),
        exact: bool = False,
    ) -> list[Hit]:
        """The only search: nearest chunks within the scope (plus ``conditions``)."""
        if limit <= 0:
            return []
        query_filter = _scope_filter(scope, extra=conditions)
        # Local mode is always exact (brute force) and warns about search parameters.
        params = models.SearchParams(exact=True) if exact and not self.local else None
        result = await self._call(
            lambda: self.client.query_points(
                self.collection,
                query=vector,
                query_filter=query_filter,
                limit=limit,
                with_payload=True,
                search_params=params,
            )
        )
        return [Hit(id=str(p.id), score=p.score, payload=p.payload or {}) for p in result.points]

    async def count(self, scope: Scope, *, conditions: Sequence[models.Condition] = ()) -> int:
        query_filter = _scope_filter(scope, extra=conditions)
        result = await self._call(
            lambda: self.client.count(self.collection, count_filter=query_filter, exact=True)
        )
        return result.count

    async def delete(self, scope: Scope, *, conditions: Sequence[models.Condition] = ()) -> None:
        """Delete the scope's points matching ``conditions`` (all of the project's if none)."""
        selector = models.FilterSelector(filter=_scope_filter(scope, extra=conditions))
        await self._call(lambda: self.client.delete(self.collection, selector, wait=True))

    async def delete_tenant(self, tenant_id: uuid.UUID) -> None:
        """Purge everything of one tenant (tenant deletion, SECURITY.md P9)."""
        selector = models.FilterSelector(
            filter=models.Filter(must=[_match(TENANT_KEY, str(tenant_id))])
        )
        await self._call(lambda: self.client.delete(self.collection, selector, wait=True))

    def close(self) -> None:
        with self._lock:
            self.client.close()


def open_store(settings: Settings) -> VectorStore:
    """The server at ``JEEX_QDRANT_URL``, or local mode in the data folder."""
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(url=settings.qdrant_url, api_key=key, timeout=30)
        return VectorStore(client, settings.qdrant_collection, local=False)
    path = settings.qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    try:
        client = QdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" not in str(exc):
            raise
        raise VectorStoreBusy(
            f"the vector store in {path} is open in another jeex process (local mode allows "
            "one); let that process do it (e.g. `jeex exhibits add --detach` for a running "
            "`jeex worker`), or set JEEX_QDRANT_URL to share a Qdrant server"
        ) from exc
    return VectorStore(client, settings.qdrant_collection, local=True)
