"""Memories in Qdrant: one collection for every team, filtered by a tenant payload index on ``team``.

That is Qdrant's own multitenancy guidance (one collection, ``is_tenant`` keyword index) rather than
a collection per team. The embedded default is Qdrant's local mode on disk, which locks its folder
to one process: only this service opens it.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import AsyncQdrantClient, models

from services.memory.settings import MemorySettings


class MemoryStore:
    def __init__(self, settings: MemorySettings) -> None:
        self.settings = settings
        self.collection = settings.memory_collection
        self._client: AsyncQdrantClient | None = None

    @property
    def client(self) -> AsyncQdrantClient:
        if self._client is None:
            raise RuntimeError("the memory store is not open yet")
        return self._client

    async def open(self, *, dimensions: int) -> None:
        if self.settings.qdrant_url:
            self._client = AsyncQdrantClient(url=self.settings.qdrant_url, api_key=self.settings.qdrant_api_key)
        else:
            self.settings.qdrant_path.mkdir(parents=True, exist_ok=True)
            self._client = AsyncQdrantClient(path=str(self.settings.qdrant_path))
        if not await self.client.collection_exists(self.collection):
            await self.client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
            )
            if self.settings.qdrant_url:  # local mode has no payload indexes (it filters by scanning)
                await self.client.create_payload_index(
                    self.collection,
                    field_name="team",
                    field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
                )
        else:
            info = await self.client.get_collection(self.collection)
            size = info.config.params.vectors.size  # type: ignore[union-attr]
            if size != dimensions:
                raise RuntimeError(
                    f"collection {self.collection!r} holds {size}-dimensional vectors; the configured embedding model makes {dimensions}"
                )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def upsert(self, points: list[models.PointStruct]) -> None:
        await self.client.upsert(self.collection, points=points, wait=True)

    async def forget(self, key: str, value: str) -> int:
        """Delete every memory whose payload ``key`` is ``value``; return how many there were."""
        condition = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])
        found = (await self.client.count(self.collection, count_filter=condition, exact=True)).count
        if found:
            await self.client.delete(self.collection, points_selector=models.FilterSelector(filter=condition), wait=True)
        return found

    async def count(self, team: str) -> int:
        result = await self.client.count(self.collection, count_filter=_team(team), exact=True)
        return result.count

    async def search(self, team: str, vector: list[float], *, limit: int = 5) -> list[dict[str, Any]]:
        hits = await self.client.query_points(self.collection, query=vector, query_filter=_team(team), limit=limit, with_payload=True)
        return [{"id": str(h.id), "score": h.score, **(h.payload or {})} for h in hits.points]


def _team(team: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="team", match=models.MatchValue(value=team))])
