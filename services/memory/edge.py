"""Memories in Qdrant Edge (the ``qdrant-edge-py`` wheel): Qdrant's segment engine in this process,
with payload indexes, so a team-filtered search reads the team's points through the ``team``
tenant index instead of every point (qdrant-client's local mode scans them all in Python).

The shard lives in ``<QDRANT_PATH>/edge/<collection>``; the embedding-model marker (Edge has no
collection metadata) in ``<collection>.json`` beside it. Every call runs on one worker thread: off the
event loop, and in the order made. Edge holds the GIL while it works, so long writes are sliced
(see :data:`UPSERT_SLICE`) to keep the loop's waits short.

Edge 0.9 turns a boolean ``MatchValue`` into an integer, which matches no boolean payload, so the
``current`` flag cannot be filtered on directly. This engine therefore keeps a keyword copy of it,
``_state`` ("current"/"history"), on every point it writes, translates conditions on ``current``
to it, and strips it from what it returns.

A collection left in the folder by qdrant-client's local mode (``<QDRANT_PATH>/collection/<name>``)
is imported once, on the first start without an Edge shard, and left where it was.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable, TypeVar

import qdrant_edge as edge
from qdrant_client import models

from runtime import logs
from services.memory.engines import KEYWORD_FIELDS, Stored

T = TypeVar("T")
STATE = "_state"
UPSERT_SLICE = 64
log = logs.get("services.memory.edge")


def _state(payload: dict[str, Any]) -> str:
    return "history" if payload.get("current") is False else "current"


def _stored_payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, STATE: _state(payload)}


def _read_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(payload or {})
    out.pop(STATE, None)
    return out


def _point_id(value: Any) -> Any:
    """Edge takes UUIDs as ``uuid.UUID`` or integers; memory's ids are UUID strings."""
    if isinstance(value, int):
        return value
    return uuid.UUID(str(value))


def _condition(c: Any) -> Any:
    if isinstance(c, models.Filter):
        return translate(c)
    if isinstance(c, models.HasIdCondition):
        return edge.HasIdCondition({_point_id(i) for i in c.has_id})
    if isinstance(c, models.FieldCondition):
        if c.range is not None:
            r = c.range
            return edge.FieldCondition(key=c.key, range=edge.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt))
        if isinstance(c.match, models.MatchValue):
            value = c.match.value
            if c.key == "current" and isinstance(value, bool):
                return edge.FieldCondition(key=STATE, match=edge.MatchValue("current" if value else "history"))
            return edge.FieldCondition(key=c.key, match=edge.MatchValue(value))
    raise TypeError(f"the Edge engine cannot translate the condition {c!r}; it knows filters, has_id, ranges and exact matches")


def translate(f: models.Filter) -> edge.Filter:
    """A ``qdrant_client`` filter as the same filter in Edge's types."""
    parts = {name: [_condition(c) for c in (getattr(f, name) or [])] or None for name in ("must", "should", "must_not")}
    return edge.Filter(**parts)


class EdgeEngine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-edge")
        self._shard: edge.EdgeShard | None = None
        self._marker_path = root
        self._dims = 0

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    @property
    def shard(self) -> edge.EdgeShard:
        if self._shard is None:
            raise RuntimeError("the memory store is not open yet")
        return self._shard

    async def open(self, collection: str, *, dimensions: int, marker: dict[str, Any]) -> dict[str, Any] | None:
        return await self._run(self._open, collection, dimensions, marker)

    def _open(self, collection: str, dimensions: int, marker: dict[str, Any]) -> dict[str, Any] | None:
        folder = self.root / "edge" / collection
        self._marker_path = folder.with_name(f"{collection}.json")
        if folder.exists():
            self._shard = edge.EdgeShard.load(str(folder))
            self._ensure_indexes()  # idempotent: a shard from before an index existed gets it
            found = self._read_marker()
            self._dims = int(found.get("dimensions") or dimensions)
            return found
        old = self.root / "collection" / collection
        old_marker = _old_local_marker(self.root, collection) if old.exists() else None
        if old_marker is not None:
            dims = int(old_marker.get("dimensions") or dimensions)
            if dims != dimensions or old_marker.get("embedding_model") not in (None, marker["embedding_model"]):
                self._dims = dims
                return old_marker  # refused by the store, with its reason; nothing is created
        folder.parent.mkdir(parents=True, exist_ok=True)
        config = edge.EdgeConfig(vectors=edge.EdgeVectorParams(size=dimensions, distance=edge.Distance.Cosine), payload_memory=edge.Memory.Cached)
        self._shard = edge.EdgeShard.create(str(folder), config)
        self._ensure_indexes()
        self._dims = dimensions
        self._write_marker(marker)
        if old_marker is not None:
            imported = self._import_local(old, collection)
            log.warning("memory imported from qdrant-client local mode into Qdrant Edge", collection=collection, points=imported,
                        old=str(old), new=str(folder), note="the old folder is left as it was; delete it once this store is trusted")
        return None

    def _ensure_indexes(self) -> None:
        """The server path's payload indexes (``team`` as the tenant), ``current`` as its keyword copy."""
        self.shard.update(edge.UpdateOperation.create_field_index("team", edge.KeywordIndexParams(is_tenant=True)))
        for name in (*KEYWORD_FIELDS, STATE):
            self.shard.update(edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Keyword))
        self.shard.update(edge.UpdateOperation.create_field_index("last_seen_ts", edge.PayloadSchemaType.Float))

    def _read_marker(self) -> dict[str, Any]:
        return json.loads(self._marker_path.read_text()) if self._marker_path.exists() else {}

    def _write_marker(self, marker: dict[str, Any]) -> None:
        self._marker_path.write_text(json.dumps(marker, sort_keys=True))

    def _import_local(self, old: Path, collection: str) -> int:
        from qdrant_client import QdrantClient

        client = QdrantClient(path=str(old.parent.parent))
        try:
            imported, offset = 0, None
            while True:
                points, offset = client.scroll(collection, limit=1000, offset=offset, with_payload=True, with_vectors=True)
                if points:
                    self._upsert([models.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points])  # type: ignore[arg-type]
                    imported += len(points)
                if offset is None:
                    return imported
        finally:
            client.close()

    async def close(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            await self._run(lambda: (shard.flush(), shard.close()))
        self._pool.shutdown(wait=True)

    async def ready(self) -> bool:
        return self._shard is not None

    async def marker(self) -> dict[str, Any]:
        return await self._run(self._read_marker)

    async def set_marker(self, marker: dict[str, Any]) -> None:
        await self._run(self._write_marker, marker)

    async def dimensions(self) -> int:
        return self._dims

    async def upsert(self, points: list[models.PointStruct]) -> None:
        await self._run(self._upsert, points)

    def _upsert(self, points: list[models.PointStruct]) -> None:
        # Edge holds the GIL for a whole update (~15 µs a point): in slices the event loop gets it back in between.
        for start in range(0, len(points), UPSERT_SLICE):
            batch = points[start:start + UPSERT_SLICE]
            self.shard.update(edge.UpdateOperation.upsert_points([edge.Point(_point_id(p.id), p.vector, _stored_payload(p.payload or {})) for p in batch]))  # type: ignore[arg-type]

    async def retrieve(self, ids: list[str]) -> list[Stored]:
        def run() -> list[Stored]:
            found = self.shard.retrieve([_point_id(i) for i in ids], True, True)
            return [Stored(str(r.id), _read_payload(r.payload), vector=r.vector) for r in found]  # type: ignore[arg-type]

        return await self._run(run)

    async def set_payload(self, payload: dict[str, Any], selector: models.Filter) -> None:
        extra = {STATE: _state(payload)} if "current" in payload else {}
        await self._run(self.shard.update, edge.UpdateOperation.set_payload_by_filter(translate(selector), {**payload, **extra}))

    async def count(self, condition: models.Filter) -> int:
        return await self._run(self.shard.count, edge.CountRequest(exact=True, filter=translate(condition)))

    async def scroll(self, condition: models.Filter, limit: int) -> list[Stored]:
        def run() -> list[Stored]:
            records, _ = self.shard.scroll(edge.ScrollRequest(limit=limit, filter=translate(condition), with_payload=True, with_vector=False))
            return [Stored(str(r.id), _read_payload(r.payload)) for r in records]

        return await self._run(run)

    async def query(self, vector: list[float], condition: models.Filter, limit: int) -> list[Stored]:
        def run() -> list[Stored]:
            hits = self.shard.query(edge.QueryRequest(limit=limit, query=edge.Query.Nearest(vector), filter=translate(condition), with_payload=True))
            return [Stored(str(h.id), _read_payload(h.payload), score=h.score) for h in hits]

        return await self._run(run)

    async def delete(self, condition: models.Filter) -> None:
        await self._run(self.shard.update, edge.UpdateOperation.delete_points_by_filter(translate(condition)))


def _old_local_marker(root: Path, collection: str) -> dict[str, Any] | None:
    """The model marker of a qdrant-client local-mode collection (its metadata), or ``{}`` without one."""
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(root))
    try:
        if not client.collection_exists(collection):
            return None
        info = client.get_collection(collection)
        return {"dimensions": info.config.params.vectors.size, **(info.config.metadata or {})}  # type: ignore[union-attr]
    finally:
        client.close()
