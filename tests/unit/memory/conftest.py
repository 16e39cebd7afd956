"""A memory store on Qdrant Edge in a temporary folder, and a deterministic stand-in embedder."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from runtime.embeddings import Embedding
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore

DIMS = 16


class CountingEmbedder:
    """Unit vectors derived from each text's hash; it counts the texts it was asked to embed."""

    model = "hash-16"
    provider = "local"
    dimensions = DIMS

    def __init__(self) -> None:
        self.embedded: list[str] = []

    async def embed(self, texts: list[str]) -> Embedding:
        self.embedded += texts
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8])).standard_normal(DIMS) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32)
        return Embedding(vectors=vectors / np.linalg.norm(vectors, axis=1, keepdims=True), tokens=[len(t.split()) for t in texts])


@pytest.fixture
def settings(tmp_path: Path) -> MemorySettings:
    return MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)


@pytest.fixture
async def store(settings: MemorySettings) -> AsyncIterator[MemoryStore]:
    opened = MemoryStore(settings)
    await opened.open(dimensions=DIMS, model=CountingEmbedder.model)
    yield opened
    await opened.close()


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()
