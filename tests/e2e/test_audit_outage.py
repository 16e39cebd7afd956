"""PostgreSQL goes away under governance while events flow: governance pauses (nothing recorded,
nothing dead-lettered, the process stays up), and when the database is back it resumes where it
was: every event recorded exactly once, the chain whole.

The shared PostgreSQL is not stopped: governance reaches it through a TCP proxy that the test cuts
(every connection reset, new ones refused) and restores.
"""

from __future__ import annotations

import asyncio
import time

from contracts import codec, topics
from tests.e2e.conftest import unique_team
from tests.e2e.test_audit import _cli, alerts
from tests.tcp_proxy import TcpProxy

OUTAGE_S = 8


async def count(db, team: str) -> int:  # noqa: ANN001
    return await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE team = $1", team)


async def test_governance_pauses_through_a_database_outage_and_resumes_without_loss(kafka, db, stack) -> None:  # noqa: ANN001
    team = unique_team("audit-outage")
    events = alerts(team, 24_000)
    before, during = events[:16_000], events[16_000:]  # the second part is published while the database is away
    with TcpProxy.for_postgres(stack.database_url) as proxy:
        for old in stack.running.pop("governance", []):
            old.stop()
        try:
            governance = stack.start_service("governance", env={"DATABASE_URL": proxy.url(stack.database_url)})
        except BaseException:
            for failed in stack.running.pop("governance", []):
                failed.stop()
            stack.start_service("governance")  # whatever happened, the tests after this one get their governance back
            raise
        try:
            kafka.produce_with_librdkafka([(e.correlation_id.encode(), codec.encode(e)) for e in before], topic=topics.BUDGET_ALERT.name)
            deadline = time.monotonic() + 120
            while await count(db, team) < 2_000:
                assert time.monotonic() < deadline, "governance never started on the events"
                await asyncio.sleep(0.01)

            cut_at = time.monotonic()
            assert proxy.cut() > 0, "governance had no connection open to cut"
            kafka.produce_with_librdkafka([(e.correlation_id.encode(), codec.encode(e)) for e in during], topic=topics.BUDGET_ALERT.name)
            await asyncio.sleep(1)  # a commit that raced the cut has landed by now
            paused_at = await count(db, team)
            assert paused_at < len(events), "the outage came too late to test anything"
            while time.monotonic() - cut_at < OUTAGE_S:
                assert governance.alive, f"governance died in the outage:\n{governance.tail(40)}"
                await asyncio.sleep(0.5)
            status = governance.status() or {}
            assert status.get("ready") is False and status.get("checks", {}).get("ready") is False, f"/ready should say the database is away: {status}"
            assert await count(db, team) == paused_at, "nothing can be recorded while the database is away"
            proxy.restore()

            deadline = time.monotonic() + 180
            while (n := await count(db, team)) < len(events):
                assert governance.alive, f"governance died after the outage:\n{governance.tail(40)}"
                assert time.monotonic() < deadline, f"only {n} of {len(events)} recorded after the database came back"
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # anything doubled would arrive by now
            counts = await db.fetchrow("SELECT count(*) AS n, count(DISTINCT event_id) AS ids, max(team_seq) AS top FROM governance.audit_events WHERE team = $1", team)
            assert dict(counts) == {"n": len(events), "ids": len(events), "top": len(events)}
            assert set(await db.fetchval("SELECT array_agg(event_id) FROM governance.audit_events WHERE team = $1", team)) == {e.id for e in events}
            dead = await db.fetchval(
                "SELECT count(*) FROM governance.audit_events WHERE type = 'deadletter' AND event->'data'->>'original_id' = ANY($1::text[])", [e.id for e in events]
            )
            assert dead == 0, "an outage is the infrastructure's fault: no event is dead-lettered for it"
            assert governance.alive and governance.process is not None and governance.process.returncode is None, "the same process paused and resumed"
            log = governance.log.read_text(errors="replace")
            assert "infrastructure fault, retrying" in log, "governance retried the batch the outage interrupted"
            verified = _cli("verify", "--team", team, stack=stack)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert f"ok     {team}: {len(events)} records" in verified.stdout
        finally:
            stack.running["governance"].remove(governance)
            governance.stop()
            stack.start_service("governance")  # the stack's own governance again, for the tests after this one
