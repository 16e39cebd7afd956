"""A memory folder written by qdrant-client's local mode (before Qdrant Edge) is imported once at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore
from tests.unit.memory.conftest import DIMS

ID = "6b0c6f0e-4d3b-4a57-9a4f-3f1c2b9f6a11"


def old_folder(path: Path, *, model: str) -> None:
    client = QdrantClient(path=str(path))
    client.create_collection("memories", vectors_config=models.VectorParams(size=DIMS, distance=models.Distance.COSINE), metadata={"embedding_model": model, "dimensions": DIMS})
    client.upsert("memories", points=[models.PointStruct(id=ID, vector=[1.0] + [0.0] * (DIMS - 1), payload={"team": "it-support", "text": "old memory", "current": True, "valid_from_ts": 1.0})])
    client.close()


async def test_an_old_local_mode_collection_is_imported_once_with_its_points(tmp_path: Path) -> None:
    settings = MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)
    old_folder(settings.qdrant_path, model="hash-16")
    store = MemoryStore(settings)
    await store.open(dimensions=DIMS, model="hash-16")
    assert [h["text"] for h in await store.search("it-support", [1.0] + [0.0] * (DIMS - 1))] == ["old memory"]
    await store.forget("team", "it-support")
    await store.close()
    reopened = MemoryStore(settings)
    await reopened.open(dimensions=DIMS, model="hash-16")
    assert await reopened.count("it-support") == 0, "imported once: a restart does not bring forgotten memories back"
    await reopened.close()


async def test_an_old_collection_of_another_model_is_refused_not_imported(tmp_path: Path) -> None:
    settings = MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)
    old_folder(settings.qdrant_path, model="openai/e5-small")
    store = MemoryStore(settings)
    with pytest.raises(RuntimeError, match="was built with embedding model 'openai/e5-small'"):
        await store.open(dimensions=DIMS, model="hash-16")
    await store.close()
    assert not (settings.qdrant_path / "edge" / "memories").exists()
