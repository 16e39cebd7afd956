"""Memories in Qdrant: one collection for every team, filtered by a tenant payload index on ``team``.

That is Qdrant's own multitenancy guidance (one collection, ``is_tenant`` keyword index) rather than
a collection per team. The embedded default is Qdrant's local mode on disk, which locks its folder
to one process: only this service opens it.

Every read takes the team and filters by it: there is no method that searches across teams.

Facts are reconciled, not appended. A fact is named by ``(team, scope, subject, key)``; its current
value lives at one point id derived from that name. The same fact again updates that point (how
often and when it was last seen); a different value for the same name supersedes it: the old value
is kept as a history point with ``valid_to`` set and ``current`` false, queryable with
:meth:`MemoryStore.history`, and no longer returned by :meth:`MemoryStore.search`.

The collection remembers the embedding model that made its vectors (name and dimension, in the
collection's metadata) and refuses to open with another: vectors of two models are not comparable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from qdrant_client import AsyncQdrantClient, models

from services.memory.settings import MemorySettings

_NAMESPACE = uuid.UUID("6f1d3c52-5b0a-4f7e-9a57-3c0e8d1f2b44")
Outcome = Literal["created", "updated", "superseded", "unchanged", "history"]


@dataclass(frozen=True)
class Fact:
    """One thing to remember, in one team's memory."""

    team: str
    scope: Literal["requester", "coworker", "team", "ticket"]
    subject: str  # whom or what it is about: a requester id, coworker, team or ticket id
    key: str  # which fact about the subject: "resolution", "route:T-1", "answer:<event>"
    text: str
    kind: str  # resolution, correction, turn, knowledge, summary
    source_event: str
    valid_from: datetime
    ticket_id: str | None = None
    requester_id: str | None = None
    coworker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    embed_text: str | None = None  # what to embed when not ``text`` (a requester's copy shares the shared text's vector)

    @property
    def point_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.team}|{self.scope}|{self.subject}|{self.key}"))


def _ts(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


class MemoryStore:
    def __init__(self, settings: MemorySettings) -> None:
        self.settings = settings
        self.collection = settings.memory_collection
        self._client: AsyncQdrantClient | None = None
        self.embedding_model = ""

    @property
    def client(self) -> AsyncQdrantClient:
        if self._client is None:
            raise RuntimeError("the memory store is not open yet")
        return self._client

    async def open(self, *, dimensions: int, model: str = "all-MiniLM-L6-v2") -> None:
        self.embedding_model = model
        if self.settings.qdrant_url:
            self._client = AsyncQdrantClient(url=self.settings.qdrant_url, api_key=self.settings.qdrant_api_key)
        else:
            self.settings.qdrant_path.mkdir(parents=True, exist_ok=True)
            self._client = AsyncQdrantClient(path=str(self.settings.qdrant_path))
        marker = {"embedding_model": model, "dimensions": dimensions}
        if not await self.client.collection_exists(self.collection):
            await self.client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
                metadata=marker,
            )
            if self.settings.qdrant_url:  # local mode has no payload indexes (it filters by scanning)
                await self.client.create_payload_index(
                    self.collection,
                    field_name="team",
                    field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
                )
                for name in ("scope", "subject", "requester_id", "coworker", "ticket_id"):
                    await self.client.create_payload_index(self.collection, field_name=name, field_schema=models.PayloadSchemaType.KEYWORD)
                await self.client.create_payload_index(self.collection, field_name="current", field_schema=models.PayloadSchemaType.BOOL)
                await self.client.create_payload_index(self.collection, field_name="last_seen_ts", field_schema=models.PayloadSchemaType.FLOAT)
            return
        info = await self.client.get_collection(self.collection)
        size = info.config.params.vectors.size  # type: ignore[union-attr]
        if size != dimensions:
            raise RuntimeError(
                f"collection {self.collection!r} holds {size}-dimensional vectors; the configured embedding model makes {dimensions}"
            )
        built_with = (info.config.metadata or {}).get("embedding_model")
        if built_with is None:  # made before the marker existed: the dimension matched, adopt it
            await self.client.update_collection(self.collection, metadata=marker)
        elif built_with != model:
            raise RuntimeError(
                f"collection {self.collection!r} was built with embedding model {built_with!r}; the configured model is {model!r}. "
                "Vectors of two models are not comparable: configure MEMORY_EMBED_MODEL back, or set MEMORY_COLLECTION to a new collection and re-ingest"
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def upsert(self, points: list[models.PointStruct]) -> None:
        await self.client.upsert(self.collection, points=points, wait=True)

    # --- the write path: reconciliation -----------------------------------------------------

    async def remember(self, fact: Fact, vector: list[float]) -> tuple[Outcome, str]:
        """Store ``fact``, reconciled with what is known under its name; return what happened and
        the id of the point that now holds it."""
        current = await self.client.retrieve(self.collection, ids=[fact.point_id], with_payload=True, with_vectors=True)
        payload = self._payload(fact)
        if not current:
            await self.upsert([models.PointStruct(id=fact.point_id, vector=vector, payload=payload)])
            return "created", fact.point_id
        old = current[0].payload or {}
        if old.get("source_event") == fact.source_event or fact.source_event in old.get("seen_events", []):
            return "unchanged", fact.point_id  # a redelivery: nothing new
        if old.get("text") == fact.text:
            seen = {"seen": int(old.get("seen", 1)) + 1, "last_seen_ts": max(float(old.get("last_seen_ts", 0)), _ts(fact.valid_from)),
                    "seen_events": [*old.get("seen_events", []), fact.source_event][-20:]}
            await self.client.set_payload(self.collection, payload=seen, points=[fact.point_id], wait=True)
            return "updated", fact.point_id
        if _ts(fact.valid_from) < float(old.get("valid_from_ts", 0)):
            # A late, older value: it was already superseded when it arrives; keep it as history only.
            payload.update(current=False, valid_to=old.get("valid_from"), valid_to_ts=old.get("valid_from_ts"))
            history_id = self._history_id(fact.point_id, payload["valid_from_ts"])
            await self.upsert([models.PointStruct(id=history_id, vector=vector, payload=payload)])
            return "history", history_id
        retired = {**old, "current": False, "valid_to": fact.valid_from.astimezone(UTC).isoformat(), "valid_to_ts": _ts(fact.valid_from), "superseded_by": fact.source_event}
        old_vector = current[0].vector
        await self.upsert([
            models.PointStruct(id=self._history_id(fact.point_id, float(old.get("valid_from_ts", 0))), vector=old_vector, payload=retired),  # type: ignore[arg-type]
            models.PointStruct(id=fact.point_id, vector=vector, payload=payload),
        ])
        return "superseded", fact.point_id

    def _payload(self, fact: Fact) -> dict[str, Any]:
        valid_from = fact.valid_from.astimezone(UTC)
        return {
            "team": fact.team, "scope": fact.scope, "subject": fact.subject, "key": fact.key, "text": fact.text, "kind": fact.kind,
            "ticket_id": fact.ticket_id, "requester_id": fact.requester_id, "coworker": fact.coworker,
            "source_event": fact.source_event, "seen_events": [fact.source_event], "seen": 1,
            "valid_from": valid_from.isoformat(), "valid_from_ts": valid_from.timestamp(), "valid_to": None, "valid_to_ts": None,
            "last_seen_ts": valid_from.timestamp(), "current": True, "embedding_model": self.embedding_model, **fact.extra,
        }

    @staticmethod
    def _history_id(point_id: str, valid_from_ts: float) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{point_id}|history|{valid_from_ts!r}"))

    # --- reads: always within one team ------------------------------------------------------

    async def count(self, team: str, *, current_only: bool = False) -> int:
        result = await self.client.count(self.collection, count_filter=_team(team, current_only=current_only), exact=True)
        return result.count

    async def search(self, team: str, vector: list[float], *, limit: int = 5, current_only: bool = True, match: dict[str, str] | None = None, requester_id: str | None = None) -> list[dict[str, Any]]:
        """The nearest memories of ``team`` (current ones unless told), optionally only those whose
        payload matches ``match``. Requester-scope memories hold personal data: only those of
        ``requester_id`` are searched, none when it is not given."""
        condition = _team(team, current_only=current_only, also=list((match or {}).items()))
        mine: list[models.Condition] = [models.FieldCondition(key="requester_id", match=models.MatchValue(value=requester_id))] if requester_id else []
        others = models.Filter(must_not=[models.FieldCondition(key="scope", match=models.MatchValue(value="requester"))])
        condition.must = [*(condition.must or []), models.Filter(should=[others, *mine])]  # type: ignore[list-item]
        hits = await self.client.query_points(self.collection, query=vector, query_filter=condition, limit=limit, with_payload=True)
        return [{"id": str(h.id), "score": h.score, **(h.payload or {})} for h in hits.points]

    async def history(self, team: str, scope: str, subject: str, key: str) -> list[dict[str, Any]]:
        """Every value a fact has had, oldest first; the last one is current."""
        condition = _team(team, current_only=False, also=[("scope", scope), ("subject", subject), ("key", key)])
        points, _ = await self.client.scroll(self.collection, scroll_filter=condition, limit=1000, with_payload=True)
        return sorted(({"id": str(p.id), **(p.payload or {})} for p in points), key=lambda p: p["valid_from_ts"])

    async def facts(self, team: str, **match: str) -> list[dict[str, Any]]:
        """Current facts of ``team`` whose payload matches every ``match`` (e.g. ``ticket_id=...``)."""
        condition = _team(team, current_only=True, also=list(match.items()))
        points, _ = await self.client.scroll(self.collection, scroll_filter=condition, limit=10_000, with_payload=True)
        return sorted(({"id": str(p.id), **(p.payload or {})} for p in points), key=lambda p: p["valid_from_ts"])

    async def retire(self, team: str, ids: list[str], when: datetime) -> None:
        """Mark the given current facts of ``team`` as no longer true since ``when`` (kept as history)."""
        if ids:
            condition = models.Filter(must=[models.HasIdCondition(has_id=ids), *(_team(team).must or [])])  # type: ignore[misc]
            await self.client.set_payload(self.collection, payload={"current": False, "valid_to": when.astimezone(UTC).isoformat(), "valid_to_ts": _ts(when)}, points=condition, wait=True)

    # --- deletes ----------------------------------------------------------------------------

    async def forget(self, key: str, value: str) -> int:
        """Delete every memory (history included) whose payload ``key`` is ``value``; return how many there were."""
        condition = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])
        return await self._delete(condition)

    async def delete_ids(self, team: str, ids: list[str]) -> None:
        """Delete the given points, but only those of ``team``."""
        condition = models.Filter(must=[models.HasIdCondition(has_id=ids), *(_team(team).must or [])])  # type: ignore[misc]
        await self._delete(condition)

    async def expire(self, scope: str, before: datetime) -> int:
        """Retention: delete memories of ``scope`` not seen since ``before``; return how many."""
        condition = models.Filter(must=[
            models.FieldCondition(key="scope", match=models.MatchValue(value=scope)),
            models.FieldCondition(key="last_seen_ts", range=models.Range(lt=_ts(before))),
        ])
        return await self._delete(condition)

    async def _delete(self, condition: models.Filter) -> int:
        found = (await self.client.count(self.collection, count_filter=condition, exact=True)).count
        if found:
            await self.client.delete(self.collection, points_selector=models.FilterSelector(filter=condition), wait=True)
        return found


def _team(team: str, *, current_only: bool = False, also: list[tuple[str, str]] | None = None) -> models.Filter:
    if not team:
        raise ValueError("every memory query names its team")
    must: list[models.Condition] = [models.FieldCondition(key="team", match=models.MatchValue(value=team))]
    for key, value in also or []:
        must.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
    # "not superseded" rather than "current is true": a memory written without the flag is current.
    must_not: list[models.Condition] = [models.FieldCondition(key="current", match=models.MatchValue(value=False))] if current_only else []
    return models.Filter(must=must, must_not=must_not)
