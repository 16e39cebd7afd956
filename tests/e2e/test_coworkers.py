"""Coworkers on the running stack: a lifecycle driven by people through events, the kill switch,
supervised work that waits for the manager, and versions swapping while tickets flow."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.coworkers import Autonomy, LifecycleState
from contracts.envelope import Actor
from deploy.coworkers import Refused, Workforce
from tests.conftest import ticket
from tests.e2e.conftest import PASSWORD_TEXTS, mixed_tickets, resettable_people, unique_team, wait_until_done

MANAGER = Actor.human("priya.raman")


@pytest.fixture
def people(kafka) -> Workforce:  # noqa: ANN001
    return Workforce(kafka.bootstrap, MANAGER)


async def test_a_coworkers_whole_lifecycle_is_driven_by_people_and_recorded(people: Workforce, workforce, db) -> None:  # noqa: ANN001
    name = f"temp-{uuid.uuid4().hex[:6]}"
    manifest = workforce["atom"].model_copy(update={"name": name, "display_name": "Temp", "manager": workforce["jordan"].manager})  # Priya's: only she (or an administrator) may drive it

    applied = await people.command("apply", name, manifest=manifest)
    assert (applied.data.to_state, applied.data.version) == (LifecycleState.draft, 1)
    published = await people.command("publish", name)
    assert (published.data.from_state, published.data.to_state, published.data.active_version) == (LifecycleState.draft, LifecycleState.active, 1)
    edited = await people.command("apply", name, manifest=manifest.model_copy(update={"tone": "terse"}))
    assert (edited.data.to_state, edited.data.version, edited.data.active_version) == (LifecycleState.active, 2, 1), "an edit is a draft beside the live version"
    assert (await people.command("apply", name, manifest=manifest.model_copy(update={"tone": "terse"}))).data.version == 2, "the same manifest again is no new version"
    assert (await people.command("publish", name)).data.active_version == 2
    assert (await people.command("suspend", name, reason="maintenance")).data.to_state is LifecycleState.suspended
    await people.command("apply", name, manifest=manifest)  # a draft may be prepared while suspended...
    with pytest.raises(Refused, match="is suspended; resume it before publishing"):
        await people.command("publish", name)  # ...but not published
    assert (await people.command("resume", name)).data.to_state is LifecycleState.active
    assert (await people.command("offboard", name)).data.to_state is LifecycleState.offboarded
    with pytest.raises(Refused, match="is offboarded; an offboarded coworker cannot be resumed"):
        await people.command("resume", name)

    table = await people.table()
    assert table[name].state is LifecycleState.offboarded
    for _ in range(600):  # (a minute: memory may still be joining its groups) offboarding applied its memory policy (delete), and said so
        forgotten = await db.fetchval("SELECT event->'data'->>'deleted' FROM governance.audit_events WHERE type = 'memory.forgotten' AND subject = $1", name)
        if forgotten is not None:
            break
        await asyncio.sleep(0.1)
    assert forgotten == "0"
    audited = await db.fetch("SELECT type, actor, event->'data'->>'command' AS command FROM governance.audit_events WHERE subject = $1 AND type LIKE 'coworker.%' ORDER BY seq", name)
    commands = [(r["type"], r["command"]) for r in audited if r["type"] == "coworker.command"]
    assert [c for _, c in commands] == ["apply", "publish", "apply", "apply", "publish", "suspend", "apply", "publish", "resume", "offboard", "resume"]
    assert all(r["actor"] == "human:priya.raman" for r in audited if r["type"] == "coworker.command")
    assert sum(r["type"] == "coworker.rejected" for r in audited) == 2


async def test_a_coworker_without_a_manager_stays_a_draft(kafka, workforce) -> None:  # noqa: ANN001
    admin = Workforce(kafka.bootstrap, Actor.human("workforce.admin"))  # nobody manages it: an administrator drafts it
    name = f"temp-{uuid.uuid4().hex[:6]}"
    await admin.command("apply", name, manifest=workforce["atom"].model_copy(update={"name": name, "manager": None}))
    with pytest.raises(Refused, match="without a named human manager cannot be activated"):
        await admin.command("publish", name)


async def test_only_a_coworkers_manager_or_an_administrator_commands_it(people: Workforce, kafka, workforce) -> None:  # noqa: ANN001
    name = f"temp-{uuid.uuid4().hex[:6]}"
    theirs = workforce["atom"].model_copy(update={"name": name})  # Maria Gonzalez manages it
    with pytest.raises(Refused, match=f"human:priya.raman may not create coworker '{name}'"):
        await people.command("apply", name, manifest=theirs)
    admin = Workforce(kafka.bootstrap, Actor.human("workforce.admin"))
    await admin.command("apply", name, manifest=theirs)
    with pytest.raises(Refused, match="it has its manager human:maria.gonzalez; only they or a workforce administrator may"):
        await people.command("publish", name)
    assert (await admin.command("publish", name)).data.to_state is LifecycleState.active
    await admin.command("offboard", name)


async def test_suspension_is_a_kill_switch_and_resuming_brings_the_coworker_back(people: Workforce, kafka, db) -> None:  # noqa: ANN001
    team = unique_team("kill-switch")
    await people.command("suspend", "jordan", reason="incident review")
    try:
        await people.wait_until(lambda t: t["jordan"].state is LifecycleState.suspended)
        await asyncio.sleep(0.5)  # triage and skills read the same table
        while_suspended = [ticket(team=team, title="I forgot my password", requester="ana.silva") for _ in range(3)]
        kafka.publish_tickets(while_suspended)
        stories = await wait_until_done(db, while_suspended)
        for story in stories.values():
            assert not story.of("skill.step"), "a suspended coworker takes no new work"
            (escalated,) = story.of("ticket.escalated")
            assert escalated["data"]["reason_code"] == "out_of_scope"
    finally:
        await people.command("resume", "jordan")
    await people.wait_until(lambda t: t["jordan"].state is LifecycleState.active)
    await asyncio.sleep(0.5)
    after = [ticket(team=team, title="I forgot my password", requester="ana.silva")]
    kafka.publish_tickets(after)
    (story,) = (await wait_until_done(db, after)).values()
    assert story.of("ticket.resolved")


async def test_supervised_work_waits_for_the_manager_and_a_suspension_mid_flight_stops_it(people: Workforce, workforce, kafka, db) -> None:  # noqa: ANN001
    original = workforce["jordan"]
    supervised = original.model_copy(update={"autonomy": {"password-reset": Autonomy.supervised}})
    await people.bring_up([supervised])
    try:
        await asyncio.sleep(1)
        team = unique_team("supervised")
        approved = ticket(team=team, title="I forgot my password", requester="ana.silva")
        stopped = ticket(team=team, title="I forgot my password", requester=resettable_people()[7])
        kafka.publish_tickets([approved, stopped])

        async def asked(ticket_id: str, step: int):  # noqa: ANN202
            for _ in range(200):
                mine = [a for a in (await people.approvals())[0] if a.ticket_id == ticket_id and a.step == step]
                if mine:
                    return mine[0]
                await asyncio.sleep(0.2)
            raise AssertionError(f"no approval asked for {ticket_id} step {step}")

        # Looking the user up changes nothing and runs at once; the reset (destructive) waits for Priya.
        await people.decide((await asked(approved.data.ticket_id, 2)).approval_id, grant=True)
        waiting = await asked(stopped.data.ticket_id, 2)
        await people.command("suspend", "jordan", reason="stop mid-flight")
        await people.wait_until(lambda t: t["jordan"].state is LifecycleState.suspended)
        await asyncio.sleep(0.5)
        await people.decide(waiting.approval_id, grant=True)

        for _ in range(600):  # a waiting approval counts as "done" for now: wait for what came after it
            stories = await wait_until_done(db, [approved, stopped])
            if stories[approved.data.ticket_id].of("memory.recorded") and stories[stopped.data.ticket_id].of("ticket.escalated"):
                break
            await asyncio.sleep(0.2)
        assert stories[approved.data.ticket_id].of("ticket.resolved")
        halted = stories[stopped.data.ticket_id]
        assert [s["data"]["step"] for s in halted.of("skill.step")] == [1], "step 2 never ran"
        assert any(d["data"]["rule"] == "coworker-active" for d in halted.of("policy.denied"))
        resets = await db.fetchval("SELECT count(*) FROM sandbox.okta_password_resets WHERE ticket_id = $1", stopped.data.ticket_id)
        assert resets == 0
    finally:
        await people.command("resume", "jordan")
        await people.bring_up([original])
        await people.wait_until(lambda t: t["jordan"].state is LifecycleState.active and t["jordan"].active == original)


async def test_versions_swap_under_load_and_each_ticket_finishes_on_the_version_it_started_on(people: Workforce, workforce, kafka, db) -> None:  # noqa: ANN001
    original = workforce["jordan"]
    team = unique_team("versions")
    templates = {title for title, _ in PASSWORD_TEXTS}
    tickets = [t for t in mixed_tickets(240, [team]) if t.data.title in templates]
    first, second = tickets[: len(tickets) // 2], tickets[len(tickets) // 2 :]
    kafka.publish_tickets(first)
    deadline = asyncio.get_running_loop().time() + 120
    # Swap as soon as the first half is under way, so that some of it is still in flight on the old
    # version (waiting for all of it to be routed let a fast run finish it before the swap).
    while await db.fetchval("SELECT count(*) FROM governance.audit_events WHERE type = 'skill.requested' AND correlation_id = ANY($1::text[])", [t.data.ticket_id for t in first]) < 5:
        assert asyncio.get_running_loop().time() < deadline, "the first half was never routed to jordan"
        await asyncio.sleep(0.05)
    # A new version goes live while skills still works through the first half; the second half
    # is routed to the new version.
    newer = original.model_copy(update={"tone": "Brisk."})
    await people.bring_up([newer])
    await people.wait_until(lambda t: t["jordan"].active == newer)
    await asyncio.sleep(0.5)  # triage reads the same table
    kafka.publish_tickets(second)
    try:
        await wait_until_done(db, tickets)
        ids = {t.data.ticket_id for t in tickets}
        requests = await db.fetch(
            "SELECT correlation_id, (event->'data'->>'coworker_version')::int AS v FROM governance.audit_events WHERE type = 'skill.requested' AND correlation_id = ANY($1::text[])",
            list(ids),
        )
        decisions = await db.fetch(
            "SELECT correlation_id, (event->'data'->>'coworker_version')::int AS v FROM governance.audit_events WHERE type LIKE 'policy.%' AND correlation_id = ANY($1::text[])",
            list(ids),
        )
        started_on = {r["correlation_id"]: r["v"] for r in requests}
        assert len(set(started_on.values())) == 2, "tickets started on both versions"
        assert all(started_on[d["correlation_id"]] == d["v"] for d in decisions), "no ticket changed version mid-way"
        went_live = await db.fetchval("SELECT max(event_time) FROM governance.audit_events WHERE type = 'coworker.changed' AND subject = 'jordan' AND event->'data'->>'command' = 'publish'")
        late = await db.fetchval(
            "SELECT count(*) FROM governance.audit_events WHERE type LIKE 'policy.%' AND correlation_id = ANY($1::text[]) AND event_time > $2"
            " AND (event->'data'->>'coworker_version')::int = $3",
            [t.data.ticket_id for t in first],
            went_live,
            min(started_on.values()),
        )
        assert late > 0, "some tickets of the first half were still taking steps on the old version after the new one went live"
    finally:
        await people.bring_up([original])
