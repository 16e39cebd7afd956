"""The running stack's authorisation policy is on record: skills announced the policy file it
started with, governance recorded that announcement in the audit trail, and every decision (and
`workforce audit explain`) names the policy version and file it was taken under."""

from __future__ import annotations

import asyncio
import time

from contracts import codec, topics
from services.skills.policy_file import DEFAULT_POLICY, load_policy
from tests.e2e.conftest import mixed_tickets, unique_team, wait_until_done
from tests.e2e.test_audit import _cli


async def test_the_policy_in_force_is_announced_recorded_and_named_by_every_decision(kafka, db, stack) -> None:  # noqa: ANN001
    shipped = load_policy(DEFAULT_POLICY)
    deadline = time.monotonic() + 90  # skills announces once its consumers have joined their groups
    while not (announced := [codec.decode(r.value) for r in await kafka.read(topics.POLICY_CHANGED.name)]):
        assert time.monotonic() < deadline, "skills never announced the policy file it runs with"
        await asyncio.sleep(0.5)
    current = [e for e in announced if e.data.sha256 == shipped.sha256]
    assert current and announced[-1].data.sha256 == shipped.sha256, "the latest announcement is the policy in force"
    assert len({e.id for e in current}) == 1, "announced once (one event id), however often skills started with it"
    while not await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE event_id = $1", current[-1].id):
        assert time.monotonic() < deadline, "governance never recorded the policy.changed event"
        await asyncio.sleep(0.2)

    team = unique_team("policy")
    tickets = [t for t in mixed_tickets(4, [team]) if t.data.title.lower().startswith(("forgot", "account", "password"))]
    kafka.publish_tickets(tickets)
    stories = await wait_until_done(db, tickets, timeout_s=300)
    ids = [t for t, s in stories.items() if s.of("ticket.resolved")]
    assert ids, "a password reset was resolved"
    rows = await db.fetch(
        "SELECT event->'data'->>'policy_version' AS version, event->'data'->>'policy_sha256' AS sha256 FROM governance.audit_events"
        " WHERE type IN ('policy.allowed', 'policy.denied') AND correlation_id = ANY($1::text[])",
        ids,
    )
    assert rows and {(r["version"], r["sha256"]) for r in rows} == {(shipped.version, shipped.sha256)}
    action = await db.fetchval("SELECT event_id FROM governance.audit_events WHERE type = 'skill.step' AND correlation_id = $1 ORDER BY seq DESC LIMIT 1", ids[0])
    shown = _cli("explain", action, stack=stack)
    assert shown.returncode == 0 and f"policy in force: version {shipped.version}, file sha256 {shipped.sha256[:16]}" in shown.stdout, shown.stdout + shown.stderr
