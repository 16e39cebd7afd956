"""The audit trail's hash chain in a real PostgreSQL: written in order under concurrent writers, and
every edit, deletion, insertion, reordering or rewrite made directly in the database is found."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from contracts import codec
from runtime.db import Database, migrate
from services.governance import audit, chain, checkpoints
from services.governance.audit import ROLE, connect_as_governance, record, verify
from tests.conftest import ROOT, ticket

MIGRATIONS = ROOT / "services" / "governance" / "migrations"


@pytest.fixture
async def db(service_database) -> Database:  # noqa: ANN001
    return await service_database("governance")


@pytest.fixture
async def writer(db: Database, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Connections as governance works: the application role."""
    pool = await connect_as_governance(database_url, "governance", max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def superuser(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An attacker with the database's keys: triggers off, every privilege."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("SET session_replication_role = replica")  # the append-only trigger does not fire
    yield conn
    await conn.close()


async def fill(writer: asyncpg.Pool, teams: dict[str, int]) -> None:
    async with writer.acquire() as conn:
        for team, n in teams.items():
            await record(conn, [ticket(team=team, title=f"ticket {i} of {team}") for i in range(n)])


async def test_each_team_s_records_form_a_chain_that_verifies(writer: asyncpg.Pool) -> None:
    await fill(writer, {"it-support": 5, "hr": 3})
    async with writer.acquire() as conn:
        await record(conn, [ticket(team="hr"), ticket(team="it-support")])  # a second batch extends both chains
        result = await verify(conn)
        rows = await conn.fetch("SELECT team, team_seq, prev_hash, hash FROM audit_events ORDER BY team, team_seq")
    assert result.ok and result.records == 10
    assert {t.team: t.verified_through for t in result.teams} == {"hr": 4, "it-support": 6}
    by_team: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        by_team.setdefault(r["team"], []).append(r)
    for records in by_team.values():
        assert [r["team_seq"] for r in records] == list(range(1, len(records) + 1))
        assert bytes(records[0]["prev_hash"]) == chain.GENESIS
        assert all(bytes(b["prev_hash"]) == bytes(a["hash"]) for a, b in zip(records, records[1:], strict=False))


async def test_the_database_and_the_verifier_hash_the_same_bytes(writer: asyncpg.Pool) -> None:
    """The chain is written by SQL and checked by Python: both must read a record the same way,
    including text PostgreSQL escapes (quotes, backslashes, newlines, non-ASCII)."""
    odd = ticket(title='Ünïcode "quoted" \\ back\nslash\ttab — 漢字 😀')
    async with writer.acquire() as conn:
        await record(conn, [odd])
        stored = await conn.fetchrow(f"SELECT hash, {chain.CONTENT_SQL} AS content FROM audit_events")
    assert bytes(stored["hash"]) == chain.link(chain.GENESIS, stored["content"])
    header, end = json.JSONDecoder().raw_decode(stored["content"])
    assert header[2] == odd.id and json.loads(stored["content"][end:])["data"]["title"] == odd.data.title


async def test_a_redelivered_batch_adds_nothing_and_leaves_the_chain_whole(writer: asyncpg.Pool) -> None:
    batch = [ticket() for _ in range(4)]
    async with writer.acquire() as conn:
        assert await record(conn, batch) == 4
        assert await record(conn, batch[2:] + [ticket()]) == 1
        assert (await verify(conn)).ok
        assert await conn.fetchval("SELECT max(team_seq) FROM audit_events") == 5


async def test_concurrent_writers_extend_one_chain_without_gaps_or_forks(writer: asyncpg.Pool) -> None:
    """Eight consumers write interleaved batches of the same two teams at once, some of them twice."""
    batches = [[ticket(team=("it-support" if (b + i) % 3 else "hr")) for i in range(50)] for b in range(16)]

    async def write(batch: list) -> int:  # noqa: ANN001
        async with writer.acquire() as conn:
            return await record(conn, batch)

    written = await asyncio.gather(*(write(b) for b in batches + batches[:4]))
    assert sum(written) == 16 * 50
    async with writer.acquire() as conn:
        result = await verify(conn)
        seqs = await conn.fetch("SELECT team, count(*) AS n, max(team_seq) AS top FROM audit_events GROUP BY team")
    assert result.ok, result.first_break
    assert all(r["n"] == r["top"] for r in seqs)


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET team = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"])
async def test_governance_s_database_role_cannot_change_or_shorten_the_trail(writer: asyncpg.Pool, statement: str) -> None:
    await fill(writer, {"it-support": 1})
    async with writer.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == ROLE
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_events") == 1


#: Both columns of the event of a record kept as received (migration 0007), edited alike.
EDIT_BOTH = "UPDATE audit_events SET event = jsonb_set(event, '{data,title}', '\"nothing to see\"'), received = jsonb_set(received::jsonb, '{data,title}', '\"nothing to see\"')::text WHERE team = 'it-support' AND team_seq = 3"
REHASH_3 = f"UPDATE audit_events SET hash = sha256(prev_hash || convert_to({chain.CONTENT_SQL}, 'UTF8')) WHERE team = 'it-support' AND team_seq = 3"

TAMPERING = {
    "edited": (["UPDATE audit_events SET event = jsonb_set(event, '{data,title}', '\"nothing to see\"') WHERE team = 'it-support' AND team_seq = 3"], 3, "content changed"),
    "edited as received": (["UPDATE audit_events SET received = replace(received, 'ticket 2', 'nothing to see') WHERE team = 'it-support' AND team_seq = 3"], 3, "content changed"),
    "the queried event edited, the bytes as received left, the hash recomputed": (["UPDATE audit_events SET event = jsonb_set(event, '{data,title}', '\"nothing to see\"') WHERE team = 'it-support' AND team_seq = 3", REHASH_3], 3, "no longer the record as received"),
    "edited as received and as queried": ([EDIT_BOTH], 3, "content changed"),
    "edited, with the edited row's hash recomputed": (
        [
            EDIT_BOTH,
            f"UPDATE audit_events SET hash = sha256(prev_hash || convert_to({chain.CONTENT_SQL}, 'UTF8')) WHERE team = 'it-support' AND team_seq = 3",
        ],
        4,
        "does not link to record 3",
    ),
    "a column changed, the event untouched": (["UPDATE audit_events SET actor = 'human:someone.else' WHERE team = 'it-support' AND team_seq = 2"], 2, "content changed"),
    "deleted": (["DELETE FROM audit_events WHERE team = 'it-support' AND team_seq = 3"], 3, "missing"),
    "inserted": (
        [
            # make room at 3, then add a well-formed record there, linked to record 2 and hashed right
            "UPDATE audit_events SET team_seq = -team_seq - 1 WHERE team = 'it-support' AND team_seq >= 3",
            "UPDATE audit_events SET team_seq = -team_seq WHERE team = 'it-support' AND team_seq < 0",
            "INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event, team_seq, prev_hash, hash)"
            " SELECT 'forged', type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event, 3, hash, hash"
            " FROM audit_events WHERE team = 'it-support' AND team_seq = 2",
            f"UPDATE audit_events SET hash = sha256(prev_hash || convert_to({chain.CONTENT_SQL}, 'UTF8')) WHERE event_id = 'forged'",
        ],
        4,
        "",
    ),
    "reordered": (
        [
            "UPDATE audit_events SET team_seq = -1 WHERE team = 'it-support' AND team_seq = 2",
            "UPDATE audit_events SET team_seq = 2 WHERE team = 'it-support' AND team_seq = 4",
            "UPDATE audit_events SET team_seq = 4 WHERE team = 'it-support' AND team_seq = -1",
        ],
        2,
        "does not link to record 1",
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
async def test_a_record_tampered_with_in_postgresql_is_found_at_its_place(writer: asyncpg.Pool, superuser: asyncpg.Connection, how: str) -> None:
    statements, broken_at, problem = TAMPERING[how]
    await fill(writer, {"it-support": 6, "hr": 4})
    async with superuser.transaction():
        await superuser.execute("SET LOCAL search_path TO governance")
        for statement in statements:
            await superuser.execute(statement)
    async with writer.acquire() as conn:
        result = await verify(conn)
    assert not result.ok
    broken = {t.team: t.problem for t in result.teams if t.problem}
    assert list(broken) == ["it-support"], "the other team's chain is untouched and still verifies"
    assert broken["it-support"].team_seq == broken_at
    assert problem in broken["it-support"].problem
    assert {t.team: t.verified_through for t in result.teams}["it-support"] == broken_at - 1


async def test_a_rewritten_chain_passes_on_its_own_and_fails_against_a_signed_checkpoint(writer: asyncpg.Pool, superuser: asyncpg.Connection, tmp_path: Path) -> None:
    await fill(writer, {"it-support": 6, "hr": 2})
    key = checkpoints.key_from("a test key", None)
    async with writer.acquire() as conn:
        path, _ = await checkpoints.write(conn, tmp_path, key=key, database="test")
    # The attacker edits record 3 and recomputes every hash after it: the chain is consistent again.
    async with superuser.transaction():
        await superuser.execute("SET LOCAL search_path TO governance")
        await superuser.execute(EDIT_BOTH)
        for seq in range(3, 7):
            await superuser.execute(
                f"UPDATE audit_events SET prev_hash = coalesce((SELECT hash FROM audit_events WHERE team = 'it-support' AND team_seq = {seq - 1}), prev_hash) WHERE team = 'it-support' AND team_seq = {seq}"
            )
            await superuser.execute(f"UPDATE audit_events SET hash = sha256(prev_hash || convert_to({chain.CONTENT_SQL}, 'UTF8')) WHERE team = 'it-support' AND team_seq = {seq}")
    trusted = chain.public_key_text(key.public_key())
    async with writer.acquire() as conn:
        assert (await verify(conn)).ok, "a full rewrite is self-consistent: only a checkpoint can tell"
        problems = await audit.check_checkpoint(conn, chain.checked_heads(checkpoints.read(path), trusted_key=trusted))
    assert len(problems) == 1 and "team it-support: record 6" in problems[0] and "rewritten" in problems[0]


async def test_records_cut_off_the_end_are_missing_against_a_checkpoint(writer: asyncpg.Pool, superuser: asyncpg.Connection, tmp_path: Path) -> None:
    await fill(writer, {"it-support": 5})
    key = checkpoints.key_from("a test key", None)
    async with writer.acquire() as conn:
        path, _ = await checkpoints.write(conn, tmp_path, key=key, database="test")
    await superuser.execute("DELETE FROM governance.audit_events WHERE team_seq >= 4")
    async with writer.acquire() as conn:
        assert (await verify(conn)).ok
        problems = await audit.check_checkpoint(conn, chain.checked_heads(checkpoints.read(path), trusted_key=None))
    assert problems == ["team it-support: record 5, the chain head at the checkpoint, is missing (records deleted, or the chain rewritten shorter)"]


async def test_an_edited_checkpoint_or_one_signed_by_another_key_is_refused(writer: asyncpg.Pool, tmp_path: Path) -> None:
    await fill(writer, {"it-support": 2})
    key = checkpoints.key_from("a test key", None)
    async with writer.acquire() as conn:
        path, document = await checkpoints.write(conn, tmp_path, key=key, database="test", at=datetime(2026, 11, 25, tzinfo=UTC))
    document["heads"]["it-support"]["seq"] = 1
    with pytest.raises(chain.CheckpointError, match="signature does not match"):
        chain.checked_heads(document, trusted_key=None)
    other = chain.public_key_text(checkpoints.key_from("another key", None).public_key())
    with pytest.raises(chain.CheckpointError, match="not the trusted key"):
        chain.checked_heads(checkpoints.read(path), trusted_key=other)


async def test_records_written_before_the_chain_existed_are_chained_by_the_migration(database_url: str, tmp_path: Path) -> None:
    for name in ("0001_audit_events.sql", "0002_coworkers.sql"):
        shutil.copy(MIGRATIONS / name, tmp_path / name)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, server_settings={"search_path": "governance"})
    try:
        await migrate(pool, "governance", tmp_path)
        old = [ticket(team=t) for t in ("hr", "it-support", "hr")]
        from services.governance.audit import row

        await pool.execute(
            "INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event)"
            " SELECT r.event_id, r.type, r.source, r.subject, r.team, r.actor, r.correlation_id, r.causation_id, r.schema_version, r.event_time, r.event::jsonb"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::timestamptz[], $11::text[])"
            " AS r(event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event)",
            *[list(col) for col in list(zip(*[row(0, e)[1:-1] for e in old], strict=True))],  # no `received` before 0007
        )
        assert (await migrate(pool, "governance", MIGRATIONS))[:2] == ["0003_audit_hash_chain.sql", "0004_audit_role_and_retention.sql"]
        async with pool.acquire() as conn:
            await record(conn, [ticket(team="hr")])
            result = await verify(conn)
        assert result.ok and {t.team: t.verified_through for t in result.teams} == {"hr": 3, "it-support": 1}
    finally:
        await pool.close()


async def test_records_stored_before_the_bytes_were_kept_verify_with_those_kept_as_received(database_url: str, superuser: asyncpg.Connection, tmp_path: Path) -> None:
    """Records chained over their jsonb text (before migration 0007) and records chained over their
    bytes as received, in one team's chain: it verifies through both, and an edit of either is found."""
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "0007":
            shutil.copy(path, tmp_path / path.name)
    owner = await asyncpg.create_pool(database_url, min_size=1, max_size=2, server_settings={"search_path": "governance"})
    try:
        await migrate(owner, "governance", tmp_path)
        prev = chain.GENESIS
        old = [ticket(team="hr", title=f"old {i}") for i in range(3)]
        for seq, e in enumerate(old, 1):  # as governance wrote them then: content over event::text
            prev = await owner.fetchval(
                "INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, recorded_at, event, team_seq, prev_hash, hash)"
                " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11::jsonb, $12, $13,"
                "  sha256($13 || convert_to(audit_content($5, $12, $1, $2, $3, $4, $6, $7, $8, $9, $10, now(), $11::jsonb), 'UTF8')) RETURNING hash",
                *audit.row(0, e)[1:-1], seq, prev,
            )
        assert await migrate(owner, "governance", MIGRATIONS) == ["0007_audit_as_received.sql"]
        writer = await connect_as_governance(database_url, "governance", max_size=2)
        try:
            new = [codec.decode_envelope(codec.encode(e), type(e)) for e in (ticket(team="hr", title=f"new {i}") for i in range(3))]
            async with writer.acquire() as conn:
                assert await record(conn, new) == 3
                result = await verify(conn)
                assert result.ok, result.first_break
                assert {t.team: t.verified_through for t in result.teams} == {"hr": 6}
                kept = [r["received"] for r in await conn.fetch("SELECT received FROM audit_events ORDER BY team_seq")]
                assert kept == [None, None, None, *(e.text for e in new)]
                await superuser.execute("UPDATE governance.audit_events SET event = jsonb_set(event, '{data,title}', '\"edited\"') WHERE team_seq = 2")
                broken = (await verify(conn)).first_break
                assert broken is not None and (broken.team_seq, broken.event_id) == (2, old[1].id) and "content changed" in broken.problem
        finally:
            await writer.close()
    finally:
        await owner.close()


async def test_every_event_type_and_odd_text_hash_the_same_in_python_and_in_postgresql(writer: asyncpg.Pool) -> None:
    """Governance hashes in Python what PostgreSQL hashes in SQL (CONTENT_SQL): every event type,
    quotes, backslashes, control characters and non-ASCII in any column, numbers jsonb prints its
    own way (1e-07, -0.0), a time without a zone."""
    from datetime import datetime as dt

    from contracts.events import TicketTriaged
    from tests.unit.test_contracts import one_of_each

    events = one_of_each()
    triaged = next(e for e in events if isinstance(e, TicketTriaged))
    odd = [
        ticket(title='Ünïcode "quoted" \\ back\nslash\ttab \x01\x7f — 漢字 😀').model_copy(update={"source": '/up"stream/ü\\x', "subject": "T-é\n1"}),
        triaged.model_copy(update={"id": "odd-numbers", "data": triaged.data.model_copy(update={"confidence": 1e-07})}),
        triaged.model_copy(update={"id": "negative-zero", "data": triaged.data.model_copy(update={"confidence": -0.0})}),
        ticket(team="hr").model_copy(update={"time": dt(2026, 11, 25, 9, 30, 0, 123456)}),  # naive: asyncpg takes it as local time
    ]
    async with writer.acquire() as conn:
        assert await record(conn, events + odd) == len(events) + len(odd)
        rows = await conn.fetch(f"SELECT event_id, prev_hash, hash, sha256(prev_hash || convert_to({chain.CONTENT_SQL}, 'UTF8')) AS in_sql FROM audit_events")
        result = await verify(conn)
    assert len(rows) == len(events) + len(odd)
    assert [r["event_id"] for r in rows if bytes(r["hash"]) != bytes(r["in_sql"])] == []
    assert result.ok, result.first_break


async def test_were_python_and_postgresql_to_disagree_the_batch_is_chained_in_sql(writer: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disagreement is found before the commit (each team's new head is re-hashed in SQL) and costs
    speed, not a false break: the batch is written again, hashed by PostgreSQL."""
    prepare = audit._prepare

    def drifting(events):  # noqa: ANN001, ANN202
        return [p if i != len(events) - 1 else audit._Prepared(p.event, p.actor, p.text, p.before, p.middle.replace(b", 1, ", b", 2, "), p.after) for i, p in enumerate(prepare(events))]

    monkeypatch.setattr(audit, "_prepare", drifting)
    async with writer.acquire() as conn:
        await record(conn, [ticket(team="hr") for _ in range(3)])
        assert await record(conn, [ticket(team="hr") for _ in range(4)]) == 4
        result = await verify(conn)
        assert await conn.fetchval("SELECT max(team_seq) FROM audit_events") == 7
    assert result.ok, result.first_break
