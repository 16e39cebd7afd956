"""Memory on the running stack, over Kafka only: resolutions and corrections written from events,
recall as request/reply within one team, a correction superseding the fact it corrects, and
`workforce memory forget --requester` acted on by memory and audited by governance."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from contracts import topics
from contracts.envelope import Actor
from contracts.events import Reroute, Resolution, TicketRerouted, TicketResolved
from deploy.coworkers import Follower
from deploy.memory import MemoryDesk
from deploy.stack import ROOT
from tests.conftest import ticket
from tests.e2e.conftest import unique_team

DPO = Actor.human("dpo.office")


def resolved(team: str, title: str, fix: str, requester: str) -> TicketResolved:
    created = ticket(team=team, title=title, requester=requester)
    return created.caused(TicketResolved, Resolution(ticket_id=created.data.ticket_id, ticket=created.data, resolution=fix), source="/upstream/tests", actor=Actor.human("agent.smith"))


async def test_memory_remembers_recalls_per_team_supersedes_corrections_and_forgets_on_request(kafka, db) -> None:  # noqa: ANN001
    team, other = unique_team("mem"), unique_team("mem")
    ana, bo = f"ana-{uuid.uuid4().hex[:6]}", f"bo-{uuid.uuid4().hex[:6]}"
    desk = MemoryDesk(kafka.bootstrap, DPO)
    mine = resolved(team, "VPN drops every few minutes", "Reissued the VPN certificate.", ana)
    theirs = resolved(team, "VPN will not connect from the hotel", "Switched the VPN to TCP 443.", bo)
    elsewhere = resolved(other, "VPN drops every few minutes", "Told them to call IT.", ana)
    base = ticket(team=team, title="laptop fan loud, screen flickers", requester=bo)
    wrong = base.caused(TicketRerouted, Reroute(ticket_id=base.data.ticket_id, ticket=base.data, category="Software"), source="/upstream/tests", actor=Actor.human("priya.raman"), ordinal=1)
    right = base.caused(TicketRerouted, Reroute(ticket_id=base.data.ticket_id, ticket=base.data, category="Hardware", reason="fans are hardware"), source="/upstream/tests", actor=Actor.human("priya.raman"), ordinal=2)
    right = right.model_copy(update={"time": wrong.time + timedelta(seconds=5)})
    flows = {e.correlation_id for e in (mine, theirs, elsewhere, wrong)}
    async with Follower(kafka.bootstrap, topics.MEMORY_RECORDED.name) as recorded:
        kafka.send(mine, theirs, elsewhere, wrong)
        seen: set[str] = set()
        while seen != flows:
            seen.add((await recorded.wait_for(lambda e: e.correlation_id in flows - seen, 120)).correlation_id)
        kafka.send(right)
        await recorded.wait_for(lambda e: e.causation_id == right.id, 60)

    answer = await desk.recall(team, "my vpn keeps dropping", requester_id=ana, token_budget=300)
    texts = [i.text for i in answer.data.items]
    assert texts and "Reissued the VPN certificate." in texts[0], "ana's own resolution first"
    assert any("TCP 443" in t for t in texts) and not any("call IT" in t for t in texts), "only this team's memories"
    assert answer.data.tokens <= 300
    fans = await desk.recall(team, "laptop fan noisy and display flickering", token_budget=300)
    routes = [t for t in (i.text for i in fans.data.items) if "A person routed this" in t]
    assert routes == ["laptop fan loud, screen flickers\nA person routed this to Hardware (fans are hardware)."], "the correction superseded the wrong route"

    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "WORKFORCE_USER": "dpo.office"}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "deploy.cli", "memory", "forget", "--requester", ana, "--reason", "erasure request #42"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"forgot 4 memories of requester {ana}" in done.stdout, "in each team: the shared resolution and her own copy of it"
    after = await desk.recall(team, "my vpn keeps dropping", requester_id=ana, token_budget=300)
    assert not any("Reissued the VPN certificate." in i.text for i in after.data.items)
    assert any("TCP 443" in i.text for i in after.data.items), "other requesters' memories stay"
    for _ in range(100):  # governance audited the request and memory's answer
        rows = await db.fetch("SELECT type, actor, event->'data'->>'deleted' AS deleted FROM governance.audit_events WHERE subject = $1 AND type LIKE 'memory.%' ORDER BY seq", ana)
        if len(rows) >= 2:
            break
        await asyncio.sleep(0.1)
    assert sorted((r["type"], r["actor"], r["deleted"]) for r in rows) == [("memory.erasure.requested", "human:dpo.office", None), ("memory.forgotten", "system:memory", "4")]
    assert datetime.now(UTC) - mine.time < timedelta(minutes=10)


async def test_an_escalated_ticket_gets_a_handoff_recall_and_a_package_with_facts_and_a_next_action(kafka) -> None:  # noqa: ANN001
    from deploy.handoff import complete, package

    team = unique_team("handoff")
    words = f"qzxv blorft wugga {uuid.uuid4().hex[:4]}"  # nonsense: triage escalates it (unreadable, or not sure enough)
    desk = MemoryDesk(kafka.bootstrap, DPO)
    seen_before = resolved(team, words, "It was a keyboard set to the wrong layout; switched it back.", "cy.diaz")
    created = ticket(team=team, title=words, requester="ana.silva")
    async with Follower(kafka.bootstrap, topics.MEMORY_RECORDED.name, topics.TICKET_ESCALATED.name, topics.MEMORY_RECALLED.name) as follow:
        kafka.send(seen_before)
        await follow.wait_for(lambda e: e.causation_id == seen_before.id, 120)
        kafka.send(created)
        escalated = await follow.wait_for(lambda e: e.type == "ticket.escalated" and e.correlation_id == created.data.ticket_id, 120)
        recalled = await follow.wait_for(lambda e: e.type == "memory.recall" and e.data.request_id == f"handoff:{escalated.id}", 120)
    assert escalated.data.reason_code in {"unreadable", "low_confidence"}
    handoff = package([created, escalated, recalled])  # triage asked memory as it escalated: nobody had to
    assert handoff.why and handoff.tried and handoff.transcript[0].text == created.data.text
    assert any(f.startswith("priority: ") for f in handoff.facts) and handoff.next_action.startswith(("Read the ticket", "Confirm whether"))
    assert handoff.recall and "wrong layout" in handoff.recall[0].text, "the person sees how the same thing was solved before"
    assert (await complete(desk, [created, escalated, recalled])) == handoff, "a desk with the answer in hand does not ask again"


async def test_a_failed_skills_handoff_from_the_tickets_own_events_has_every_field_and_the_coworker_keeps_the_lesson(kafka) -> None:  # noqa: ANN001
    """Triage routes a password reset from someone the directory does not know; the skill stops before
    any step (identity_mismatch) and escalates; memory answers the recall the skill asked for. The
    package is built from those events alone."""
    from deploy.handoff import package

    team = unique_team("handoff-skill")
    desk = MemoryDesk(kafka.bootstrap, DPO)
    seen_before = resolved(team, "I forgot my password and Okta says my account does not exist", "The account was never created in Okta: the hire was not finished in Workday. Created it and sent the activation email.", "bo.chen")
    created = ticket(team=team, title="I forgot my password and cannot log in to Okta", requester=f"ghost.{uuid.uuid4().hex[:6]}")
    flow = created.data.ticket_id
    names = [topics.MEMORY_RECORDED.name, topics.MEMORY_RECALLED.name, topics.TICKET_TRIAGED.name, topics.SKILL_REQUESTED.name, topics.SKILL_STEP.name,
             topics.SKILL_FAILED.name, topics.TICKET_ESCALATED.name, topics.TICKET_QUESTION.name, topics.TICKET_ANSWERED.name]
    async with Follower(kafka.bootstrap, *names) as follow:
        kafka.send(seen_before)
        await follow.wait_for(lambda e: e.causation_id == seen_before.id, 120)
        kafka.send(created)
        escalated = await follow.wait_for(lambda e: e.type == "ticket.escalated" and e.correlation_id == flow, 180)
        await follow.wait_for(lambda e: e.type == "memory.recall" and e.data.request_id == f"handoff:{escalated.id}", 120)
        failed = next(e for e in follow.seen if e.type == "skill.failed" and e.correlation_id == flow)
        lesson = await follow.wait_for(lambda e: e.type == "memory.recorded" and e.causation_id == failed.id, 120)
        events = [created, *(e for e in follow.seen if e.correlation_id == flow)]
    assert failed.data.error_code == "identity_mismatch" and lesson.data.scope == "coworker", "the coworker remembers why it stopped"
    assert not [e for e in events if e.type == "skill.step"], "nothing was done for someone the directory does not know"
    handoff = package(events)
    assert handoff.ticket == created.data and handoff.transcript[0].text == created.data.text
    assert "could not complete password-reset" in handoff.why and "is anyone the directory (okta) knows" in handoff.why
    assert [a.outcome for a in handoff.tried] == ["failed"] and handoff.tried[0].what == "look the requester up in the directory (okta)"
    assert "failed: identity_mismatch before any step ran" in handoff.facts and any(f.startswith("skill: password-reset, run by ") for f in handoff.facts)
    assert handoff.next_action.startswith("Find out who really asked before doing anything")
    # the coworker's lesson from this very failure may be stored before memory answers, and rank first
    assert any("never created in Okta" in m.text for m in handoff.recall), "the person sees how the same thing was solved before"
    assert all("bo.chen" not in m.text for m in handoff.recall), "another requester's name stays in their own memory"


async def test_workforce_memory_ingest_sends_documents_that_memory_keeps_as_the_teams_knowledge(kafka, tmp_path) -> None:  # noqa: ANN001
    team, other = unique_team("kb"), unique_team("kb")
    (tmp_path / "vpn.md").write_text("# VPN runbook\n\nWhen the VPN drops every few minutes, reissue the VPN certificate from the self-service portal.\n\nThe admin password: hunter2 is not for users.")
    (tmp_path / "printers.html").write_text("<html><head><title>Printers</title></head><body><p>A jammed printer on floor 3: open tray B and pull the sheet out.</p></body></html>")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "WORKFORCE_USER": "priya.raman"}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "deploy.cli", "memory", "ingest", str(tmp_path), "--team", team],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"sent 2 chunks of 2 documents to memory for team {team}" in done.stdout
    desk = MemoryDesk(kafka.bootstrap, DPO)
    for _ in range(60):  # memory stores the chunks as it reads them
        answer = await desk.recall(team, "my vpn keeps dropping", token_budget=300)
        if len(answer.data.items) == 2:
            break
        await asyncio.sleep(0.5)
    texts = [i.text for i in answer.data.items]
    assert "reissue the VPN certificate" in texts[0] and {i.scope for i in answer.data.items} == {"team"}
    assert not any("hunter2" in t for t in texts), "redacted before it was sent"
    assert (await desk.recall(other, "my vpn keeps dropping")).data.items == [], "another team does not see it"


async def test_a_forty_turn_conversation_reaches_memory_as_events_and_its_working_context_at_turn_40_still_has_turn_2(kafka) -> None:  # noqa: ANN001
    """The requester's answers and the coworker's questions go over Kafka like any; `workforce memory
    recall --ticket --context 400` prints the context memory builds: under 400 tokens, with turn 2's fact."""
    from contracts.events import Answer, Question, TicketAnswered, TicketQuestion
    from tests.integration.test_memory_context import turns

    team = unique_team("conversation")
    created = ticket(team=team, title="VPN keeps dropping", requester="ana.silva")
    flow = created.data.ticket_id
    said = turns()
    events = []
    for n, turn in enumerate(said):
        if turn.actor.kind == "human":
            event = created.caused(TicketAnswered, Answer(ticket_id=flow, text=turn.text), source="/upstream/tests", actor=turn.actor, ordinal=n)
        else:
            asked = Question(ticket_id=flow, category="Hardware", skill="laptop-troubleshoot", field=f"q{n}", question=turn.text, to=created.data.requester)
            event = created.caused(TicketQuestion, asked, source="/services/skills", actor=turn.actor, ordinal=n)
        events.append(event.model_copy(update={"time": datetime.now(UTC) - timedelta(minutes=40 - n)}))
    desk = MemoryDesk(kafka.bootstrap, DPO)
    async with Follower(kafka.bootstrap, topics.MEMORY_RECORDED.name) as follow:
        for event in events:
            kafka.send(event)
        for event in events:
            await follow.wait_for(lambda e, cause=event.id: e.causation_id == cause, 120)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "WORKFORCE_USER": "priya.raman"}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "deploy.cli", "memory", "recall", said[-1].text, "--team", team, "--ticket", flow, "--context", "400", "--budget", "50"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout.split(f"working context of {flow}")[1]
    tokens = int(shown.split(" tokens)")[0].rsplit(", ", 1)[1].split("/")[0])
    assert "(40 turns in memory" in shown and 0 < tokens <= 400
    assert "LT-4471" in shown and "4.17" in shown, "turn 2's fact is in the working context at turn 40"
    assert "ana.silva" not in shown


async def test_knowledge_answer_asks_memory_over_kafka_and_answers_from_the_teams_ingested_runbook_when_no_page_does(kafka, tmp_path) -> None:  # noqa: ANN001
    from contracts import codec
    from contracts.events import SkillRequest, SkillRequested

    team = unique_team("kb-skill")
    (tmp_path / "outlook.md").write_text(
        "# Outlook crashes when it opens\n\nWhen Outlook crashes as soon as it opens, start it in safe mode: press Win+R and run outlook.exe /safe. "
        "Then open File > Options > Add-ins and turn the COM add-ins off one by one until it starts normally."
    )
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "WORKFORCE_USER": "priya.raman"}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "deploy.cli", "memory", "ingest", str(tmp_path), "--team", team], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    desk = MemoryDesk(kafka.bootstrap, DPO)
    for _ in range(60):  # memory stores the chunk as it reads it
        if (await desk.recall(team, "outlook crashes", token_budget=300)).data.items:
            break
        await asyncio.sleep(0.5)
    states = [codec.decode(r.value) for r in await kafka.read(topics.COWORKER_STATE.name)]
    version = [s for s in states if s.data.coworker == "atom"][-1].data.active_version
    created = ticket(team=team, title="my outlook crashes when I open it", requester="ana.silva")
    flow = created.data.ticket_id
    requested = created.caused(SkillRequested, SkillRequest(ticket_id=flow, skill="knowledge-answer", coworker="atom", coworker_version=version, ticket=created.data, confidence=0.9),
                               source="/services/triage", actor=Actor.coworker("atom"))
    async with Follower(kafka.bootstrap, topics.MEMORY_RECALL_REQUESTED.name, topics.MEMORY_RECALLED.name, topics.TICKET_RESOLVED.name, topics.TICKET_ESCALATED.name) as follow:
        kafka.send(requested)
        outcome = await follow.wait_for(lambda e: e.type in {"ticket.resolved", "ticket.escalated"} and e.correlation_id == flow, 120)
    asked = next(e for e in follow.seen if e.type == "memory.recall.requested" and e.correlation_id == flow)
    answered = next(e for e in follow.seen if e.type == "memory.recall" and e.causation_id == asked.id)
    assert asked.data.request_id == f"skill:{requested.id}" and answered.data.items, "the skill asked memory, and memory answered, over Kafka"
    assert outcome.type == "ticket.resolved", outcome.data
    assert "outlook.exe /safe" in outcome.data.resolution and "team knowledge" in outcome.data.resolution
