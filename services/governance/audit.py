"""The audit trail in PostgreSQL: append every event once, chained per team; verify the chains.

A batch is written in one transaction: the teams it touches are locked (one advisory lock per team,
taken in name order, so concurrent consumers neither race nor deadlock), the ids already recorded
are dropped, each team's head (position and hash) is read, and the new records are numbered after
it and chained in Python (``chain.content``/``chain.link``: byte for byte what ``CONTENT_SQL``
gives), then COPYed straight into ``audit_events``. Before the commit, each team's last new record
(and every record whose numbers needed the exact path) is re-hashed by PostgreSQL itself; should
the two ever disagree, the batch is rolled back and written by ``record_in_sql`` instead, which
hashes in SQL (the reference definition), so a disagreement costs speed, never a false break.
A crash before the commit leaves nothing; the redelivered batch is then written as if for the first
time, and ids already recorded are skipped, so nothing is lost and nothing is doubled.

Each record is kept as received (``received``, migration 0007) and its content hashes those bytes
(``chain.CONTENT_SQL``), so no canonical form of the event is computed anywhere; ``event`` (jsonb,
parsed by PostgreSQL from the same text at COPY) is what the readers query, and verification checks
that it still is the record as received. Records from before 0007 hash ``event::text`` as they did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from contracts import codec
from contracts.codec import Received
from contracts.envelope import Envelope
from runtime import logs
from services.governance.chain import CONTENT_SQL, GENESIS, Break, Row, Start, epoch_us, same_json, verify_team

log = logs.get(__name__)

#: The database role governance works as: SELECT and INSERT on the audit trail, no UPDATE, DELETE or
#: TRUNCATE (migration 0004). The service connects as the owner (who migrates) and sets this role.
ROLE = "workforce_governance"

COLUMNS = ("ord", "event_id", "type", "source", "subject", "team", "actor", "correlation_id", "causation_id", "schema_version", "event_time", "event", "received")

_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS audit_incoming ("
    " ord int, event_id text, type text, source text, subject text, team text, actor text,"
    " correlation_id text, causation_id text, schema_version int, event_time timestamptz, event jsonb, received text"
    ") ON COMMIT DELETE ROWS"
)

_LOCK_TEAMS = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i"

_GENESIS_SQL = "'\\x" + GENESIS.hex() + "'::bytea"

#: Sequencing and chaining a batch in one statement (the teams are locked by then).
CHAIN_INSERT = f"""
WITH heads AS (
    SELECT t.team, h.team_seq, h.hash
    FROM (SELECT DISTINCT team FROM audit_incoming) t
    CROSS JOIN LATERAL (SELECT a.team_seq, a.hash FROM audit_events a WHERE a.team = t.team ORDER BY a.team_seq DESC LIMIT 1) h
), numbered AS (
    SELECT i.*, now() AS recorded_at, coalesce(h.team_seq, 0) + row_number() OVER (PARTITION BY i.team ORDER BY i.ord) AS team_seq,
           coalesce(h.hash, {_GENESIS_SQL}) AS head
    FROM audit_incoming i LEFT JOIN heads h USING (team)
), chained AS (
    SELECT n.*, audit_chain(n.head, audit_content(n.team, n.team_seq, n.event_id, n.type, n.source, n.subject, n.actor, n.correlation_id,
                                                  n.causation_id, n.schema_version, n.event_time, n.recorded_at, n.event, n.received))
                    OVER (PARTITION BY n.team ORDER BY n.ord) AS hash
    FROM numbered n
)
INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, recorded_at, event,
                          received, team_seq, prev_hash, hash)
SELECT event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, recorded_at, event,
       received, team_seq, coalesce(lag(hash) OVER (PARTITION BY team ORDER BY ord), head), hash
FROM chained ORDER BY ord
"""

async def connect_as_governance(dsn: str, schema: str, *, max_size: int) -> asyncpg.Pool:
    """A pool whose every connection works as ``ROLE`` (set at connect, kept across resets)."""
    from runtime.db import connect

    return await connect(dsn, max_size=max_size, server_settings={"search_path": schema, "role": ROLE})


#: What the audit records: an event as received (the service's path), or one built here (tests, tools).
Recordable = Received | Envelope[Any]


def received_text(event: Recordable) -> str:
    """The record's value as text: as received, or as its producer encodes it."""
    return event.text if isinstance(event, Received) else codec.encode(event).decode()


def actor_text(event: Recordable) -> str:
    return event.actor_text if isinstance(event, Received) else str(event.actor)


def row(ord_: int, event: Recordable) -> tuple[Any, ...]:
    text = received_text(event)
    return (
        ord_,
        event.id,
        event.type,
        event.source,
        event.subject,
        event.team,
        actor_text(event),
        event.correlation_id,
        event.causation_id,
        event.schema_version,
        event.time,
        text,
        text,
    )


def team_lock(team: str) -> int:
    return int.from_bytes(hashlib.sha256(f"audit-chain:{team}".encode()).digest()[:8], "big", signed=True)


#: Written by COPY, in this order; ``seq`` is the identity, numbered in COPY order.
CHAINED_COLUMNS = (
    "event_id", "type", "source", "subject", "team", "actor", "correlation_id", "causation_id", "schema_version", "event_time", "recorded_at", "event",
    "received", "team_seq", "prev_hash", "hash",
)  # fmt: skip

_json = json.JSONEncoder(ensure_ascii=False).encode  # as jsonb_build_array writes strings: only " \ and controls escaped

#: Each team's head (NULL for a team with no records yet) and the transaction's time, under the locks.
_HEADS = (
    "SELECT t.team, h.team_seq, h.hash, now() AS now FROM unnest($1::text[]) AS t(team)"
    " LEFT JOIN LATERAL (SELECT a.team_seq, a.hash FROM audit_events a WHERE a.team = t.team ORDER BY a.team_seq DESC LIMIT 1) h ON true"
)

#: The records among ``(team, team_seq)`` whose stored hash PostgreSQL does not recompute from their columns.
_DISAGREE = f"""
SELECT event_id, team, team_seq FROM audit_events
WHERE (team, team_seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
  AND hash IS DISTINCT FROM sha256(prev_hash || convert_to({CONTENT_SQL}, 'UTF8'))
"""

_UNIQUE_EVENT_ID = "audit_events_event_id_key"


class ChainDisagreement(RuntimeError):
    """PostgreSQL hashes a record Python chained differently: the batch is rolled back, not committed."""


@dataclass(frozen=True)
class _Prepared:
    """One event ready to chain: its columns, and its content but for the position and the time
    recorded (``before`` + team_seq + ``middle`` + recorded_at + ``]`` + the record as received)."""

    event: Recordable
    actor: str
    text: str  # the record as received: stored in ``received`` (and parsed by PostgreSQL into ``event``)
    before: bytes
    middle: bytes
    after: bytes


def _prepare(events: list[Recordable]) -> list[_Prepared]:
    """Everything about each record that does not depend on its place in the chain, made before the
    teams are locked (so they are held briefly): the content around the two numbers only the lock
    can give. The record is hashed as received, so nothing needs PostgreSQL's canonical text."""
    out = []
    for e in events:
        actor = actor_text(e)
        if isinstance(e, Received):
            text, raw = e.text, e.raw
        else:
            raw = codec.encode(e)
            text = raw.decode()
        middle = _json([e.id, e.type, e.source, e.subject, actor, e.correlation_id, e.causation_id, e.schema_version, epoch_us(e.time)])
        out.append(_Prepared(e, actor, text, b"[" + _json(e.team).encode() + b", ", b", " + middle[1:-1].encode() + b", ", b"]" + raw))
    return out


async def record(conn: asyncpg.Connection, events: list[Recordable]) -> int:
    """Append ``events`` in order to their teams' chains, skipping ids already recorded; return how many were new."""
    unique: dict[str, Recordable] = {}
    for event in events:
        unique.setdefault(event.id, event)
    if not unique:
        return 0
    prepared = _prepare(list(unique.values()))
    try:
        try:
            # Most batches are new: COPY at once. A batch with an id already recorded (redelivered
            # after a crash) fails on the unique index and is written again without those ids.
            return await _append(conn, prepared, skip_recorded=False)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != _UNIQUE_EVENT_ID:
                raise
            return await _append(conn, prepared, skip_recorded=True)
    except ChainDisagreement as exc:
        log.error("audit chain: Python and PostgreSQL hash a record differently; this batch is chained in SQL instead", problem=str(exc))
        return await record_in_sql(conn, list(unique.values()))


async def _append(conn: asyncpg.Connection, prepared: list[_Prepared], *, skip_recorded: bool) -> int:
    async with conn.transaction():
        await conn.execute(_LOCK_TEAMS, [team_lock(t) for t in sorted({p.event.team for p in prepared})])
        if skip_recorded:
            # Under the locks, what is recorded is final for these teams: an index probe per id.
            seen = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM audit_events WHERE event_id = ANY($1::text[])", [p.event.id for p in prepared])}
            prepared = [p for p in prepared if p.event.id not in seen]
            if not prepared:
                return 0
        heads: dict[str, tuple[int, bytes]] = {}
        for h in await conn.fetch(_HEADS, sorted({p.event.team for p in prepared})):
            heads[h["team"]] = (h["team_seq"] or 0, bytes(h["hash"]) if h["hash"] is not None else GENESIS)
            now = h["now"]
        recorded_at = b"%d" % epoch_us(now)
        sha256 = hashlib.sha256
        rows = []
        for p in prepared:
            e = p.event
            seq, prev = heads[e.team]
            seq += 1
            digest = sha256(prev + p.before + b"%d" % seq + p.middle + recorded_at + p.after).digest()
            rows.append((e.id, e.type, e.source, e.subject, e.team, p.actor, e.correlation_id, e.causation_id, e.schema_version, e.time, now, p.text, p.text, seq, prev, digest))
            heads[e.team] = (seq, digest)
        await conn.copy_records_to_table("audit_events", records=rows, columns=CHAINED_COLUMNS)
        # PostgreSQL re-hashes each team's new head from its columns: were the two ever to read a
        # record differently, the batch is not committed (and is chained in SQL instead).
        teams, seqs = zip(*((team, seq) for team, (seq, _) in heads.items()), strict=True)
        disagree = await conn.fetch(_DISAGREE, list(teams), list(seqs))
        if disagree:
            first = disagree[0]
            raise ChainDisagreement(f"record {first['team_seq']} of team {first['team']} (event {first['event_id']}) and {len(disagree) - 1} other(s)")
    return len(rows)


async def record_in_sql(conn: asyncpg.Connection, events: list[Recordable]) -> int:
    """The same, hashed by PostgreSQL (``audit_chain``): the reference, and the fallback of ``record``."""
    unique: dict[str, Recordable] = {}
    for event in events:
        unique.setdefault(event.id, event)
    if not unique:
        return 0
    async with conn.transaction():
        await conn.execute(_LOCK_TEAMS, [team_lock(t) for t in sorted({e.team for e in unique.values()})])
        # Under the locks, what is recorded is final for these teams: an index probe per id.
        for seen in await conn.fetch("SELECT event_id FROM audit_events WHERE event_id = ANY($1::text[])", list(unique)):
            del unique[seen["event_id"]]
        if not unique:
            return 0
        await conn.execute(_INCOMING)
        await conn.execute("SET LOCAL work_mem = '64MB'")  # the batch's sorts stay in memory
        await conn.copy_records_to_table("audit_incoming", records=[row(i, e) for i, e in enumerate(unique.values())], columns=COLUMNS)
        status = await conn.execute(CHAIN_INSERT)
    return int(status.split()[-1])


# --- verification --------------------------------------------------------------------------


@dataclass
class TeamResult:
    team: str
    start: Start
    verified_through: int
    head: bytes
    checked: int
    problem: Break | None = None


@dataclass
class Verification:
    teams: list[TeamResult] = field(default_factory=list)
    checkpoint_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.checkpoint_problems and all(t.problem is None for t in self.teams)

    @property
    def records(self) -> int:
        return sum(t.checked for t in self.teams)

    @property
    def first_break(self) -> Break | None:
        return next((t.problem for t in self.teams if t.problem is not None), None)


async def anchors(conn: asyncpg.Connection) -> dict[str, Start]:
    """Where each team's chain starts now: after the last records retention removed, else the genesis."""
    rows = await conn.fetch("SELECT DISTINCT ON (team) team, through_seq, through_hash FROM audit_retention_anchors ORDER BY team, through_seq DESC")
    return {r["team"]: Start(r["through_seq"], bytes(r["through_hash"])) for r in rows}


async def _rows(conn: asyncpg.Connection, team: str, after: int, *, batch: int = 5000) -> AsyncIterator[Row]:
    query = (
        f"SELECT team, team_seq, event_id, prev_hash, hash, {CONTENT_SQL} AS content, received, CASE WHEN received IS NOT NULL THEN event::text END AS event"
        " FROM audit_events WHERE team = $1 AND team_seq > $2 ORDER BY team_seq"
    )
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for r in conn.cursor(query, team, after, prefetch=batch):
            agrees = r["received"] is None or same_json(r["received"], r["event"])
            yield Row(r["team"], r["team_seq"], r["event_id"], bytes(r["prev_hash"]), bytes(r["hash"]), r["content"], agrees)


async def verify(conn: asyncpg.Connection, *, teams: list[str] | None = None) -> Verification:
    """Recompute every team's chain from its rows; each team's result names its first broken link."""
    starts = await anchors(conn)
    names = teams or [r["team"] for r in await conn.fetch("SELECT DISTINCT team FROM audit_events ORDER BY team")]
    result = Verification()
    for team in names:
        start = starts.get(team, Start())
        seq, head, problem, checked = await _walk(team, _rows(conn, team, start.seq), start)
        result.teams.append(TeamResult(team, start, seq, head, checked, problem))
    return result


async def _walk(team: str, rows: AsyncIterator[Row], start: Start, page_size: int = 5000) -> tuple[int, bytes, Break | None, int]:
    """verify_team over the rows page by page, so a long chain never sits in memory whole."""
    seq, head, checked = start.seq, start.hash, 0
    page: list[Row] = []
    async for r in rows:
        page.append(r)
        if len(page) >= page_size:
            seq, head, problem = verify_team(team, page, Start(seq, head))
            checked += len(page)
            if problem:
                return seq, head, problem, checked
            page = []
    seq, head, problem = verify_team(team, page, Start(seq, head))
    return seq, head, problem, checked + len(page)


async def heads(conn: asyncpg.Connection) -> dict[str, tuple[int, bytes]]:
    """Each team's chain head now: (team_seq, hash) of its newest record."""
    rows = await conn.fetch(
        "SELECT t.team, h.team_seq, h.hash FROM (SELECT DISTINCT team FROM audit_events) t"
        " CROSS JOIN LATERAL (SELECT team_seq, hash FROM audit_events a WHERE a.team = t.team ORDER BY team_seq DESC LIMIT 1) h"
    )
    return {r["team"]: (r["team_seq"], bytes(r["hash"])) for r in rows}


async def check_checkpoint(conn: asyncpg.Connection, checkpoint_heads: dict[str, tuple[int, bytes]]) -> list[str]:
    """What no longer matches a checkpoint: a checkpointed record gone or with another hash."""
    starts = await anchors(conn)
    problems = []
    for team, (seq, expected) in sorted(checkpoint_heads.items()):
        stored = await conn.fetchval("SELECT hash FROM audit_events WHERE team = $1 AND team_seq = $2", team, seq)
        if stored is None:
            anchor = starts.get(team)
            if anchor is not None and anchor.seq >= seq:
                if anchor.seq == seq and anchor.hash != expected:
                    problems.append(f"team {team}: record {seq} was removed by retention, but the anchor's hash differs from the checkpoint's")
                continue  # removed by retention, as the anchor records
            problems.append(f"team {team}: record {seq}, the chain head at the checkpoint, is missing (records deleted, or the chain rewritten shorter)")
        elif bytes(stored) != expected:
            problems.append(f"team {team}: record {seq} has hash {bytes(stored).hex()[:16]}..., the checkpoint says {expected.hex()[:16]}... (the chain was rewritten)")
    return problems
