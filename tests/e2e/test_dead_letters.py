"""Bad input is dead-lettered with its reason and its exact bytes; the services keep going."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

from contracts import codec, topics
from runtime.deadletters import MAX_ORIGINAL_BYTES
from tests.conftest import ticket
from tests.e2e.conftest import unique_team, wait_until_done


async def test_each_kind_of_bad_record_is_dead_lettered_and_the_next_ticket_still_flows(kafka, db, stack) -> None:
    team = unique_team("dl")
    valid = ticket(team=team, title="locked out of my account")
    wrong_schema = json.loads(codec.encode(ticket(team=team)))
    del wrong_schema["data"]["requester"]
    unknown_type = json.loads(codec.encode(ticket(team=team)))
    unknown_type["type"] = "ticket.teleported"
    oversized = json.loads(codec.encode(ticket(team=team)))
    oversized["data"]["description"] = "x" * 400_000
    bad = {
        "not_json": b"{this is not json",
        "schema": json.dumps(wrong_schema).encode(),
        "unknown_type": json.dumps(unknown_type).encode(),
        "oversized": json.dumps(oversized).encode(),
    }
    positions = kafka.produce_with_librdkafka([(b"bad", value) for value in bad.values()] + [(valid.correlation_id.encode(), codec.encode(valid))])

    await wait_until_done(db, [valid])  # the record after the bad ones was processed

    letters = [codec.decode(r.value) for r in await kafka.read(topics.DEADLETTER.name)]
    for (code, original), (partition, offset) in zip(bad.items(), positions, strict=False):
        by_service = {d.data.service: d for d in letters if d.data.source_topic == "ticket.created" and (d.data.partition, d.data.offset) == (partition, offset)}
        # Governance keeps records as received (ADR 0013): a signed envelope whose payload its
        # producer got wrong is audited as it came, and dead-lettered by the service that acts on it.
        refused_by = {"triage"} if code == "schema" else {"triage", "governance"}
        assert refused_by <= set(by_service), f"{code}: dead-lettered by {sorted(by_service)}"
        letter = by_service["triage"].data
        assert letter.reason_code == code
        assert letter.original == original[:MAX_ORIGINAL_BYTES]
        assert (letter.original_size, letter.original_sha256) == (len(original), hashlib.sha256(original).hexdigest())
        assert letter.truncated == (code == "oversized")
        assert letter.key == b"bad"
        assert letter.reason
    deadline = time.monotonic() + 60
    while (kept := await db.fetchval("SELECT received FROM governance.audit_events WHERE event_id = $1", wrong_schema["id"])) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert kept == bad["schema"].decode(), "the audit keeps the record with the wrong payload byte for byte"
    audited = await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE type = 'deadletter' AND event->'data'->>'service' = 'triage' AND (event->'data'->>'offset')::bigint = ANY($1::bigint[])", [o for _, o in positions[:4]])
    assert audited >= 4, "dead letters are themselves audited"
    assert all(p.alive for procs in stack.running.values() for p in procs)


async def test_an_event_on_the_wrong_topic_is_dead_lettered_as_such(kafka, db) -> None:
    team = unique_team("dl")
    stray = ticket(team=team)
    (position,) = kafka.produce_with_librdkafka([(b"k", codec.encode(stray))], topic=topics.LLM_USAGE.name)
    valid = ticket(team=team, title="forgot my password")
    kafka.publish_tickets([valid])
    await wait_until_done(db, [valid])
    for _ in range(60):
        letters = [codec.decode(r.value).data for r in await kafka.read(topics.DEADLETTER.name)]
        mine = [d for d in letters if d.source_topic == "llm.usage" and (d.partition, d.offset) == position and d.service == "billing"]
        if mine:
            break
        await asyncio.sleep(0.5)
    assert mine and mine[0].reason_code == "wrong_topic"
    assert "carries llm.usage events; got a ticket.created event" in mine[0].reason


async def test_a_ticket_with_a_header_that_is_not_text_is_triaged_and_so_are_the_records_beside_it(kafka, db) -> None:  # noqa: ANN001
    """One header that is not UTF-8 (or has no value) used to drop its whole batch unseen."""
    team = unique_team("hdr")
    before = [ticket(team=team, title="locked out of my account") for _ in range(5)]
    odd = ticket(team=team, title="Outlook keeps crashing")
    kafka.produce_with_librdkafka([(t.correlation_id.encode(), codec.encode(t)) for t in before])
    kafka.produce_with_librdkafka([(odd.correlation_id.encode(), codec.encode(odd))], headers=[("x-trace", b"\xff\xfe"), ("x-empty", None)])
    stories = await wait_until_done(db, [*before, odd], timeout_s=120)
    assert set(stories) == {t.data.ticket_id for t in [*before, odd]}
    assert stories[odd.data.ticket_id].of("ticket.triaged"), "the ticket itself is read as any other"
