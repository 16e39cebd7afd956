"""Memories in Qdrant: one collection for every team, filtered by a tenant payload index on ``team``.

That is Qdrant's own multitenancy guidance (one collection, ``is_tenant`` keyword index) rather than
a collection per team. The embedded default is Qdrant Edge on disk (payload-indexed like the
server), opened by this service's process only.

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
from functools import cached_property
from collections.abc import Sequence
from typing import Any, Literal

from qdrant_client import models

from services.memory.engines import Engine, ServerEngine
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

    @cached_property  # a uuid5 per use adds up in a batch of hundreds
    def point_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.team}|{self.scope}|{self.subject}|{self.key}"))


def _ts(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


class MemoryStore:
    """Memory's one store interface, over a Qdrant server (``QDRANT_URL``) or Qdrant Edge in
    ``QDRANT_PATH`` (see :mod:`services.memory.engines`, :mod:`services.memory.edge`)."""

    def __init__(self, settings: MemorySettings, *, engine: Engine | None = None) -> None:
        """``engine`` replaces the one the settings choose (a benchmark's baseline, a test's double)."""
        self.settings = settings
        self.collection = settings.memory_collection
        self._given = engine
        self._engine: Engine | None = None
        self.embedding_model = ""

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the memory store is not open yet")
        return self._engine

    async def open(self, *, dimensions: int, model: str = "all-MiniLM-L6-v2") -> None:
        self.embedding_model = model
        if self._given is not None:
            self._engine = self._given
        elif self.settings.qdrant_url:
            self._engine = ServerEngine(self.settings.qdrant_url, self.settings.qdrant_api_key)
        else:
            from services.memory.edge import EdgeEngine  # the wheel is only needed without a server

            self.settings.qdrant_path.mkdir(parents=True, exist_ok=True)
            self._engine = EdgeEngine(self.settings.qdrant_path)
        marker = {"embedding_model": model, "dimensions": dimensions}
        found = await self.engine.open(self.collection, dimensions=dimensions, marker=marker)
        if found is None:
            return
        size = int(found.get("dimensions") or await self.engine.dimensions())
        if size != dimensions:
            raise RuntimeError(
                f"collection {self.collection!r} holds {size}-dimensional vectors; the configured embedding model makes {dimensions}"
            )
        built_with = found.get("embedding_model")
        if built_with is None:  # made before the marker existed: the dimension matched, adopt it
            await self.engine.set_marker(marker)
        elif built_with != model:
            raise RuntimeError(
                f"collection {self.collection!r} was built with embedding model {built_with!r}; the configured model is {model!r}. "
                "Vectors of two models are not comparable: configure MEMORY_EMBED_MODEL back, or set MEMORY_COLLECTION to a new collection and re-ingest"
            )

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()
            self._engine = None

    async def ready(self) -> bool:
        return self._engine is not None and await self._engine.ready()

    async def marker(self) -> dict[str, Any]:
        """The embedding model (and dimension) the collection's vectors were made with."""
        return await self.engine.marker()

    async def upsert(self, points: list[models.PointStruct]) -> None:
        await self.engine.upsert(points)

    # --- the write path: reconciliation -----------------------------------------------------

    async def remember(self, fact: Fact, vector: list[float]) -> tuple[Outcome, str]:
        """Store ``fact``, reconciled with what is known under its name; return what happened and
        the id of the point that now holds it."""
        return (await self.remember_many([(fact, vector)]))[0]

    async def remember_many(self, items: Sequence[tuple[Fact, list[float]]]) -> list[tuple[Outcome, str]]:
        """Store each fact as :meth:`remember` would, one after the other, in one read and one write:
        the facts' current points are read at once, each fact is reconciled against the state the
        facts before it left (so a later fact of the batch with the same name supersedes or
        repeats an earlier one, as sequential calls would), and every point written goes in one upsert."""
        if not items:
            return []
        # Each fact's current point, and the history point a late older value of it would be kept at.
        ids = list(dict.fromkeys(i for fact, _ in items for i in (fact.point_id, self._history_id(fact.point_id, _ts(fact.valid_from)))))
        state: dict[str, tuple[dict[str, Any], Any]] = {p.id: (p.payload, p.vector) for p in await self.engine.retrieve(ids)}
        writes: dict[str, models.PointStruct] = {}
        outcomes: list[tuple[Outcome, str]] = []
        for fact, vector in items:
            outcome, at, written = self._reconcile(fact, vector, state)
            for point in written:
                writes[str(point.id)] = point
                state[str(point.id)] = (point.payload or {}, point.vector)
            outcomes.append((outcome, at))
        await self.engine.upsert(list(writes.values()))
        return outcomes

    def _reconcile(self, fact: Fact, vector: list[float], state: dict[str, tuple[dict[str, Any], Any]]) -> tuple[Outcome, str, list[models.PointStruct]]:
        """What storing ``fact`` does given ``state`` (payload and vector by point id, as far as it
        matters to this fact): the outcome, the id of the point holding the fact, the points to write."""
        payload = self._payload(fact)
        current = state.get(fact.point_id)
        if current is None:
            return "created", fact.point_id, [models.PointStruct(id=fact.point_id, vector=vector, payload=payload)]
        old, old_vector = current
        if _seen(old, fact.source_event):
            return "unchanged", fact.point_id, []  # a redelivery: nothing new
        if old.get("text") == fact.text:
            seen = {"seen": int(old.get("seen", 1)) + 1, "last_seen_ts": max(float(old.get("last_seen_ts", 0)), _ts(fact.valid_from)),
                    "seen_events": [*old.get("seen_events", []), fact.source_event][-20:]}
            return "updated", fact.point_id, [models.PointStruct(id=fact.point_id, vector=old_vector, payload={**old, **seen})]
        if _ts(fact.valid_from) < float(old.get("valid_from_ts", 0)):
            history_id = self._history_id(fact.point_id, payload["valid_from_ts"])
            kept = state.get(history_id)
            if kept is not None and _seen(kept[0], fact.source_event):
                return "unchanged", history_id, []  # redelivered after a newer value superseded it: already history
            # A late, older value: it was already superseded when it arrives; keep it as history only.
            payload.update(current=False, valid_to=old.get("valid_from"), valid_to_ts=old.get("valid_from_ts"))
            return "history", history_id, [models.PointStruct(id=history_id, vector=vector, payload=payload)]
        retired = {**old, "current": False, "valid_to": fact.valid_from.astimezone(UTC).isoformat(), "valid_to_ts": _ts(fact.valid_from), "superseded_by": fact.source_event}
        return "superseded", fact.point_id, [
            models.PointStruct(id=self._history_id(fact.point_id, float(old.get("valid_from_ts", 0))), vector=old_vector, payload=retired),
            models.PointStruct(id=fact.point_id, vector=vector, payload=payload),
        ]

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
        return await self.engine.count(_team(team, current_only=current_only))

    async def search(self, team: str, vector: list[float], *, limit: int = 5, current_only: bool = True, match: dict[str, str] | None = None, requester_id: str | None = None) -> list[dict[str, Any]]:
        """The nearest memories of ``team`` (current ones unless told), optionally only those whose
        payload matches ``match``. Requester-scope memories hold personal data: only those of
        ``requester_id`` are searched, none when it is not given."""
        condition = _team(team, current_only=current_only, also=list((match or {}).items()))
        mine: list[models.Condition] = [models.FieldCondition(key="requester_id", match=models.MatchValue(value=requester_id))] if requester_id else []
        others = models.Filter(must_not=[models.FieldCondition(key="scope", match=models.MatchValue(value="requester"))])
        condition.must = [*(condition.must or []), models.Filter(should=[others, *mine])]  # type: ignore[list-item]
        return [{"id": h.id, "score": h.score, **h.payload} for h in await self.engine.query(vector, condition, limit)]

    async def history(self, team: str, scope: str, subject: str, key: str) -> list[dict[str, Any]]:
        """Every value a fact has had, oldest first; the last one is current."""
        condition = _team(team, current_only=False, also=[("scope", scope), ("subject", subject), ("key", key)])
        return sorted(({"id": p.id, **p.payload} for p in await self.engine.scroll(condition, 1000)), key=lambda p: p["valid_from_ts"])

    async def facts(self, team: str, **match: str) -> list[dict[str, Any]]:
        """Current facts of ``team`` whose payload matches every ``match`` (e.g. ``ticket_id=...``)."""
        condition = _team(team, current_only=True, also=list(match.items()))
        return sorted(({"id": p.id, **p.payload} for p in await self.engine.scroll(condition, 10_000)), key=lambda p: p["valid_from_ts"])

    async def retire(self, team: str, ids: list[str], when: datetime) -> None:
        """Mark the given current facts of ``team`` as no longer true since ``when`` (kept as history)."""
        if ids:
            condition = models.Filter(must=[models.HasIdCondition(has_id=ids), *(_team(team).must or [])])  # type: ignore[misc]
            await self.engine.set_payload({"current": False, "valid_to": when.astimezone(UTC).isoformat(), "valid_to_ts": _ts(when)}, condition)

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
        found = await self.engine.count(condition)
        if found:
            await self.engine.delete(condition)
        return found


def _seen(payload: dict[str, Any], source_event: str) -> bool:
    return payload.get("source_event") == source_event or source_event in payload.get("seen_events", [])


def _team(team: str, *, current_only: bool = False, also: list[tuple[str, str]] | None = None) -> models.Filter:
    if not team:
        raise ValueError("every memory query names its team")
    must: list[models.Condition] = [models.FieldCondition(key="team", match=models.MatchValue(value=team))]
    for key, value in also or []:
        must.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
    # "not superseded" rather than "current is true": a memory written without the flag is current.
    must_not: list[models.Condition] = [models.FieldCondition(key="current", match=models.MatchValue(value=False))] if current_only else []
    return models.Filter(must=must, must_not=must_not)
