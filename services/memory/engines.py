"""Where memories are kept: a Qdrant server (``QDRANT_URL``, production) or Qdrant Edge, Qdrant's
in-process engine, in a folder (``QDRANT_PATH``). :class:`~services.memory.store.MemoryStore`
speaks to both through the same few calls, with filters written once as ``qdrant_client.models``.

Both index the payload fields memory filters by (``team`` as the tenant), so a team-filtered search
reads that team's points, not every point. Edge calls are synchronous Rust: they run on one worker
thread of their own, so the event loop never waits on them and the calls stay in the order they
were made (a write is visible to the read after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from qdrant_client import AsyncQdrantClient, models

#: The payload indexes memory's filters need; ``team`` is the tenant key (Qdrant's multitenancy guidance).
KEYWORD_FIELDS = ("scope", "subject", "requester_id", "coworker", "ticket_id")


@dataclass(frozen=True)
class Stored:
    """One point as read back: its id, payload, and the score or vector when asked for."""

    id: str
    payload: dict[str, Any]
    score: float = 0.0
    vector: list[float] | None = None


class Engine(Protocol):
    async def open(self, collection: str, *, dimensions: int, marker: dict[str, Any]) -> dict[str, Any] | None: ...
    async def close(self) -> None: ...
    async def ready(self) -> bool: ...
    async def marker(self) -> dict[str, Any]: ...
    async def set_marker(self, marker: dict[str, Any]) -> None: ...
    async def dimensions(self) -> int: ...
    async def upsert(self, points: list[models.PointStruct]) -> None: ...
    async def retrieve(self, ids: list[str]) -> list[Stored]: ...
    async def set_payload(self, payload: dict[str, Any], selector: models.Filter) -> None: ...
    async def count(self, condition: models.Filter) -> int: ...
    async def scroll(self, condition: models.Filter, limit: int) -> list[Stored]: ...
    async def query(self, vector: list[float], condition: models.Filter, limit: int) -> list[Stored]: ...
    async def delete(self, condition: models.Filter) -> None: ...


class ServerEngine:
    """A Qdrant server through ``AsyncQdrantClient``; the collection's metadata holds the model marker."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, client: AsyncQdrantClient | None = None) -> None:
        self.client = client or AsyncQdrantClient(url=url, api_key=api_key)
        self.collection = ""

    async def open(self, collection: str, *, dimensions: int, marker: dict[str, Any]) -> dict[str, Any] | None:
        """Create the collection (and its payload indexes) when missing; return None then, else its marker."""
        self.collection = collection
        if await self.client.collection_exists(collection):
            return await self.marker()
        await self.client.create_collection(collection, vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE), metadata=marker)
        await self.client.create_payload_index(collection, field_name="team", field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True))
        for name in KEYWORD_FIELDS:
            await self.client.create_payload_index(collection, field_name=name, field_schema=models.PayloadSchemaType.KEYWORD)
        await self.client.create_payload_index(collection, field_name="current", field_schema=models.PayloadSchemaType.BOOL)
        await self.client.create_payload_index(collection, field_name="last_seen_ts", field_schema=models.PayloadSchemaType.FLOAT)
        return None

    async def close(self) -> None:
        await self.client.close()

    async def ready(self) -> bool:
        return await self.client.collection_exists(self.collection)

    async def marker(self) -> dict[str, Any]:
        return dict((await self.client.get_collection(self.collection)).config.metadata or {})

    async def set_marker(self, marker: dict[str, Any]) -> None:
        await self.client.update_collection(self.collection, metadata=marker)

    async def dimensions(self) -> int:
        return int((await self.client.get_collection(self.collection)).config.params.vectors.size)  # type: ignore[union-attr]

    async def upsert(self, points: list[models.PointStruct]) -> None:
        await self.client.upsert(self.collection, points=points, wait=True)

    async def retrieve(self, ids: list[str]) -> list[Stored]:
        found = await self.client.retrieve(self.collection, ids=ids, with_payload=True, with_vectors=True)
        return [Stored(str(p.id), p.payload or {}, vector=p.vector) for p in found]  # type: ignore[arg-type]

    async def set_payload(self, payload: dict[str, Any], selector: models.Filter) -> None:
        await self.client.set_payload(self.collection, payload=payload, points=selector, wait=True)

    async def count(self, condition: models.Filter) -> int:
        return (await self.client.count(self.collection, count_filter=condition, exact=True)).count

    async def scroll(self, condition: models.Filter, limit: int) -> list[Stored]:
        points, _ = await self.client.scroll(self.collection, scroll_filter=condition, limit=limit, with_payload=True)
        return [Stored(str(p.id), p.payload or {}) for p in points]

    async def query(self, vector: list[float], condition: models.Filter, limit: int) -> list[Stored]:
        hits = await self.client.query_points(self.collection, query=vector, query_filter=condition, limit=limit, with_payload=True)
        return [Stored(str(h.id), h.payload or {}, score=h.score) for h in hits.points]

    async def delete(self, condition: models.Filter) -> None:
        await self.client.delete(self.collection, points_selector=models.FilterSelector(filter=condition), wait=True)
