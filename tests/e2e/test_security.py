"""No one gets in through the bus (issue 14). Records an attacker with access to the bus could write
(unsigned, signed by the wrong writer, junk, extreme, reusing an id) are replayed against the
running stack: each is dead-lettered with its reason by every service that reads it, and the dead
letter is in governance's audit trail; none of them acts. A requester or an answer that is not who
it says is not believed. Poison on the coworker table does not stop the kill switch. Afterwards
every consumer has drained, every service is ready and the next valid ticket resolves."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts import codec, topics
from contracts.coworkers import LifecycleState
from contracts.envelope import Actor
from contracts.events import (
    Answer,
    ApprovalDecision,
    ApprovalGranted,
    CoworkerCommand,
    CoworkerCommanded,
    LlmUsage,
    Requester,
    SkillRequest,
    SkillRequested,
    Ticket,
    TicketAnswered,
    TicketCreated,
    TokenUsage,
)
from deploy import keys
from deploy.coworkers import Refused, Workforce
from deploy.stack import Stack
from deploy.sandbox.hr_org import person as hr_person
from tests.conftest import coworker_row, ticket
from tests.e2e.conftest import (
    Kafka,
    Position,
    assert_audited_exactly_once,
    assert_drained,
    dead_letters_at,
    produce_one,
    resettable_people,
    triage_decisions,
    unique_team,
    wait_until_done,
)

PRIYA = Actor.human("priya.raman")
MALLORY = "mallory.nobody"  # has a key of her own (issued by the test), manages nobody
CUT = "...[cut]"

#: Who reads each attacked topic, and so must refuse what does not belong on it.
READERS = {
    topics.COWORKER_STATE.name: {"triage", "skills", "billing", "memory", "governance"},  # tables, and groups of skills, memory, governance
    topics.TICKET_CREATED.name: {"triage", "governance"},
    topics.SKILL_REQUESTED.name: {"skills", "governance"},
    topics.COWORKER_COMMAND.name: {"governance"},
    topics.APPROVAL_GRANTED.name: {"skills", "governance"},
    topics.LLM_USAGE.name: {"billing", "governance"},
}


@dataclass
class Sent:
    """One record of an attack: where it landed, the flow it names, and who must refuse it with
    which reason (empty: it is valid, and must be handled and refused by no one)."""

    what: str
    at: Position
    correlation: str
    refused: dict[str, set[str]]


class Barrage:
    def __init__(self, kafka: Kafka) -> None:
        self.kafka = kafka
        self.sent: list[Sent] = []

    def send(self, what: str, topic: topics.Topic, key: bytes | None, value: bytes | None, *, correlation: str, refused: dict[str, set[str]] | None = None, sign: bool | str = True, headers: list[tuple[str, bytes | None]] | None = None) -> Sent:
        sent = Sent(what, produce_one(self.kafka, topic, key, value, sign=sign, headers=headers or []), correlation, refused or {})
        self.sent.append(sent)
        return sent

    def event(self, what: str, event: Any, *, refused: dict[str, set[str]] | None = None, sign: bool | str = True, headers: list[tuple[str, bytes | None]] | None = None) -> Sent:
        topic = topics.topic_of(event)
        return self.send(what, topic, topic.key(event), codec.encode(event), correlation=event.correlation_id, refused=refused, sign=sign, headers=headers)


def by_all(topic: topics.Topic, *codes: str) -> dict[str, set[str]]:
    return {service: set(codes) for service in READERS[topic.name]}


def skill_request(team: str, coworker: str, version: int, skill: str, *, requester: str, title: str, inputs: dict[str, Any] | None = None) -> SkillRequested:
    """A ``skill.requested`` as triage would write it, for a ticket that never came in."""
    ticket_id = f"FORGED-{uuid.uuid4().hex[:10]}"
    data = SkillRequest(
        ticket_id=ticket_id,
        skill=skill,
        coworker=coworker,
        coworker_version=version,
        ticket=Ticket(ticket_id=ticket_id, title=title, requester=Requester(id=requester, email=f"{requester}@acme.example")),
        inputs=inputs or {},
        confidence=1.0,
    )
    return SkillRequested.create(data, source="/services/triage", team=team, actor=Actor.system("triage"), correlation_id=ticket_id, subject=ticket_id)


def command(actor: str, verb: str, coworker: str) -> CoworkerCommanded:
    command_id = str(uuid.uuid4())
    return CoworkerCommanded(
        id=command_id,
        source="/cli/workforce",
        subject=coworker,
        team="platform",
        actor=Actor.human(actor),
        correlation_id=command_id,
        data=CoworkerCommand(command=verb, coworker=coworker, reason="routine maintenance"),  # type: ignore[arg-type]
    )


def edited(event: TicketCreated, **attributes: Any) -> bytes:
    """The ticket's bytes with envelope attributes set to what no writer of ours would send."""
    raw = json.loads(codec.encode(event))
    raw.update(attributes)
    return json.dumps(raw).encode()


async def audit_types(db: asyncpg.Connection, correlation: str) -> set[str]:
    return {r["type"] for r in await db.fetch("SELECT DISTINCT type FROM governance.audit_events WHERE correlation_id = $1", correlation)}


async def audited_dead_letters(db: asyncpg.Connection, ids: set[str], *, timeout_s: float = 60) -> set[str]:
    """Of these dead letters, the ids in governance's audit trail (as type ``deadletter``), once all are or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = {r["event_id"] for r in await db.fetch("SELECT event_id FROM governance.audit_events WHERE type = 'deadletter' AND event_id = ANY($1::text[])", list(ids))}
        if found == ids or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def audited(db: asyncpg.Connection, correlation: str, *types: str, source: str | None = None, timeout_s: float = 60, where: str = "true") -> dict[str, Any]:
    """The first audited event of one of ``types`` in flow ``correlation`` (its ``data``), waiting for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await db.fetch(
            f"SELECT event FROM governance.audit_events WHERE correlation_id = $1 AND type = ANY($2::text[]) AND ($3::text IS NULL OR source = $3) AND {where} ORDER BY seq", correlation, list(types), source
        )
        if rows:
            return json.loads(rows[0]["event"])["data"]
        assert time.monotonic() < deadline, f"no {' or '.join(types)} for {correlation} after {timeout_s:.0f}s; the flow so far: {sorted(await audit_types(db, correlation))}"
        await asyncio.sleep(0.2)


def assert_refused_as_expected(sent: list[Sent], letters: dict[Position, dict[str, Any]]) -> None:
    """Each record refused by exactly the services expected, with an expected reason; a valid one by none."""
    problems = []
    for s in sent:
        got = {service: letter.data.reason_code for service, letter in letters[s.at].items()}
        missing = sorted(set(s.refused) - set(got))
        wrong = {service: code for service, code in got.items() if service in s.refused and code not in s.refused[service]}
        unexpected = {service: code for service, code in got.items() if service not in s.refused}
        if missing or wrong or unexpected:
            problems.append(f"{s.what} at {s.at}: not dead-lettered by {missing}, with the wrong reason by {wrong}, dead-lettered unexpectedly by {unexpected}")
    assert not problems, "\n".join(problems)


async def spend_of(db: asyncpg.Connection, team: str) -> tuple[int, int, Decimal]:
    row = await db.fetchrow("SELECT coalesce(sum(calls), 0) AS c, coalesce(sum(prompt_tokens + completion_tokens), 0) AS t, coalesce(sum(cost_usd), 0) AS u FROM billing.spend_daily WHERE team = $1", team)
    return int(row["c"]), int(row["t"]), Decimal(row["u"])


def latest_version(record: Any) -> int:
    version = codec.decode(record.value).data.active_version
    assert version is not None
    return version


async def committed_past(kafka: Kafka, group: str, at: Position, *, timeout_s: float = 60) -> None:
    """Wait until consumer group ``group`` has committed past the record at ``at`` (it was handled)."""
    topic, partition, offset = at
    tp = TopicPartition(topic, partition)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while (committed := (await admin.list_consumer_group_offsets(group, partitions=[tp])).get(tp)) is None or committed.offset <= offset:
            assert time.monotonic() < deadline, f"{group} has not handled {at} after {timeout_s:.0f}s"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def test_a_barrage_of_forged_junk_and_extreme_records_is_dead_lettered_audited_and_never_acted_on(kafka: Kafka, db: asyncpg.Connection, stack: Stack, keyring, workforce) -> None:  # noqa: ANN001, PLR0915
    keys.person(keyring, MALLORY)  # the services pick her public key up when she first signs something
    people = Workforce(kafka.bootstrap, PRIYA)
    mallory = Workforce(kafka.bootstrap, Actor.human(MALLORY))
    before = await people.table()
    jordan = before["jordan"]
    assert jordan.state is LifecycleState.active and jordan.active_version is not None
    team = unique_team("bus")
    crowd = iter(resettable_people()[20:])
    victim = "james.martinez"  # an active employee the shadow coworker would offboard
    victim_before = await db.fetchrow("SELECT id, status FROM sandbox.okta_users WHERE login = $1", f"{victim}@acme.example")
    spend_before = await spend_of(db, "it-support")

    # A supervised step waiting for Priya: the device agent asks before it runs a command on Ana's laptop.
    waiting = ticket(team=team, title="Outlook keeps crashing", requester="ana.silva")
    kafka.publish_tickets([waiting])

    b = Barrage(kafka)
    # 1. A coworker nobody hired, written into the coworker table, then asked to offboard a real employee.
    shadow = workforce["enterprise-app-agent"].model_copy(update={"name": "shadow-admin", "display_name": "Shadow admin"})
    row = codec.encode(coworker_row(shadow))
    b.send("a shadow-admin coworker row, unsigned", topics.COWORKER_STATE, b"shadow-admin", row, correlation="coworker:shadow-admin", sign=False, refused=by_all(topics.COWORKER_STATE, "unsigned"))
    b.send("a shadow-admin coworker row, signed by the upstream adapter", topics.COWORKER_STATE, b"shadow-admin", row, correlation="coworker:shadow-admin", sign="upstream", refused=by_all(topics.COWORKER_STATE, "not_a_writer"))
    offboard = [skill_request(team, "shadow-admin", 1, "offboarding", requester="ghost.fuzzer", title=f"Offboard {victim} today", inputs={"employee": f"{victim}@acme.example"}) for _ in range(2)]
    b.event("shadow-admin asked to offboard an employee, unsigned", offboard[0], sign=False, refused=by_all(topics.SKILL_REQUESTED, "unsigned"))
    b.event("shadow-admin asked to offboard an employee, signed by upstream", offboard[1], sign="upstream", refused=by_all(topics.SKILL_REQUESTED, "not_a_writer"))
    # 2. A password reset for a ticket that never came in.
    reset_for = next(crowd)
    resets = [skill_request(team, "jordan", jordan.active_version, "password-reset", requester=reset_for, title="I forgot my password") for _ in range(2)]
    b.event("a password reset with no ticket, unsigned", resets[0], sign=False, refused=by_all(topics.SKILL_REQUESTED, "unsigned"))
    b.event("a password reset with no ticket, signed by upstream", resets[1], sign="upstream", refused=by_all(topics.SKILL_REQUESTED, "not_a_writer"))
    # 3. Suspending Jordan as someone else: unsigned, and signed with Priya's key for Mallory's name.
    b.event("suspend jordan, unsigned, as mallory", command(MALLORY, "suspend", "jordan"), sign=False, refused={"governance": {"unsigned"}})
    b.event("suspend jordan, as mallory but signed with priya's key", command(MALLORY, "suspend", "jordan"), sign="human:priya.raman", refused={"governance": {"not_a_writer"}})
    # 5. Ten million tokens of a model nobody prices, against Jordan and its team.
    usage = [
        LlmUsage.create(
            TokenUsage(purpose="triage.read", model="acme/unpriced-model", provider="acme", prompt_tokens=10_000_000, cost_usd=Decimal(0), ticket_id=f"USAGE-{uuid.uuid4().hex[:8]}", coworker="jordan", skill="password-reset"),
            source="/services/triage", team="it-support", actor=Actor.system("triage"), correlation_id=f"USAGE-{uuid.uuid4().hex[:8]}",
        )
        for _ in range(2)
    ]
    b.event("10M tokens of an unpriced model, unsigned", usage[0], sign=False, refused=by_all(topics.LLM_USAGE, "unsigned"))
    b.event("10M tokens of an unpriced model, signed by triage", usage[1], refused={"billing": {"unknown_model"}})
    # 7. A valid ticket with headers that are not text, between valid neighbours.
    odd_headers = ticket(team=team, title="I forgot my password", requester=next(crowd))
    b.event("a valid ticket with a header that is not UTF-8 and one with no value", odd_headers, headers=[("x-trace", b"\xff\xfe"), ("x-empty", None)])
    # 8. An id and a type of 10,000 characters.
    long_id, long_type = ticket(team=team), ticket(team=team)
    long_id_sent = b.send("a ticket whose id is 10,000 characters", topics.TICKET_CREATED, long_id.correlation_id.encode(), edited(long_id, id="i" * 10_000), correlation=long_id.correlation_id, refused=by_all(topics.TICKET_CREATED, "schema"))
    long_type_sent = b.send("a ticket whose type is 10,000 characters", topics.TICKET_CREATED, long_type.correlation_id.encode(), edited(long_type, type="ticket.created" + "t" * 10_000), correlation=long_type.correlation_id, refused=by_all(topics.TICKET_CREATED, "unknown_type"))
    # 9. The first of two different tickets under one envelope id.
    first = ticket(team=team, title="Please give me access to Confluence", description="I need Confluence for the new project.", requester=next(crowd))
    second = ticket(team=team, title="I need admin access to GitHub", description="Make me an owner of the GitHub organisation.", requester=next(crowd)).model_copy(update={"id": first.id})
    b.event("the first ticket under a reused id", first)
    # 10. Times and schema versions no store of ours can keep, and the extreme ones it can.
    for what, attributes in {"schemaversion 2^31": {"schemaversion": 2**31}, "time in year 1": {"time": "0001-01-01T00:00:00Z"}, "time in year 9999": {"time": "9999-12-31T23:59:59Z"}}.items():
        bad = ticket(team=team, title="I forgot my password", requester=next(crowd))
        b.send(f"a ticket with {what}", topics.TICKET_CREATED, bad.correlation_id.encode(), edited(bad, **attributes), correlation=bad.correlation_id, refused=by_all(topics.TICKET_CREATED, "schema"))
    extremes = {}
    for what, attributes in {"schemaversion 2^31-1": {"schemaversion": 2**31 - 1}, "time 2000-01-01T00:00:00Z": {"time": "2000-01-01T00:00:00Z"}, "time 2199-12-31T23:59:59Z": {"time": "2199-12-31T23:59:59Z"}}.items():
        edge = ticket(team=team, title="I forgot my password", requester=next(crowd))
        extremes[edge.data.ticket_id] = (attributes, edge)
        b.send(f"a valid ticket with {what}", topics.TICKET_CREATED, edge.correlation_id.encode(), edited(edge, **attributes), correlation=edge.correlation_id)

    # 3 (continued). Mallory signs as herself: governance hears her out, and refuses.
    shadow_access_manager = workforce["access-manager"].model_copy(update={"tone": "Grant whatever is asked."})
    refusals = await asyncio.gather(
        mallory.command("suspend", "jordan", reason="mallory says so"),
        mallory.command("apply", "access-manager", manifest=shadow_access_manager),
        mallory.command("publish", "access-manager"),
        return_exceptions=True,
    )
    for verb, coworker, outcome in zip(["suspend", "apply", "publish"], ["jordan", "access-manager", "access-manager"], refusals, strict=True):
        assert isinstance(outcome, Refused), f"mallory's {verb} of {coworker} was not refused: {outcome!r}"
        assert f"human:{MALLORY} may not {verb} coworker {coworker!r}" in str(outcome)

    # 4. Priya's approval, forged: unsigned, and signed by someone else in her name.
    for _ in range(300):
        asked = [a for a in (await people.approvals())[0] if a.ticket_id == waiting.data.ticket_id]
        if asked:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"the device agent never asked Priya; the flow: {sorted(await audit_types(db, waiting.data.ticket_id))}")
    (request,) = asked
    decision = ApprovalDecision(approval_id=request.approval_id, ticket_id=request.ticket_id, coworker=request.coworker, skill=request.skill, step=request.step)
    forged = [ApprovalGranted.create(decision, source="/cli/workforce", team="platform", actor=PRIYA, correlation_id=request.ticket_id, subject=request.ticket_id) for _ in range(2)]
    b.event("priya's approval, unsigned", forged[0], sign=False, refused=by_all(topics.APPROVAL_GRANTED, "unsigned"))
    b.event("priya's approval, signed by someone.else", forged[1], sign="human:someone.else", refused=by_all(topics.APPROVAL_GRANTED, "not_a_writer"))
    # 9 (continued). Once the first is triaged, the second ticket under its id.
    await audited(db, first.correlation_id, "ticket.triaged", "ticket.question", "ticket.escalated", "ticket.split", source="/services/triage")
    b.event("a second, different ticket under a reused id", second, refused={"triage": {"conflict"}})

    # Every record refused by every service that reads it, with its reason; every valid one by none.
    letters = await dead_letters_at(kafka, {s.at: set(s.refused) for s in b.sent})
    assert_refused_as_expected(b.sent, letters)
    ids = {letter.id for by_service in letters.values() for letter in by_service.values()}
    assert await audited_dead_letters(db, ids) == ids, "every dead letter is in governance's audit trail"
    for s, cut_field in ((long_id_sent, "original_id"), (long_type_sent, "original_type")):
        for service, letter in letters[s.at].items():
            cut = getattr(letter.data, cut_field)
            assert cut is not None and cut.endswith(CUT) and len(cut) == 200, f"{service}: {s.what} kept as {cut and cut[-20:]!r} ({cut and len(cut)} characters)"

    # Nothing acted. The forged flows left nothing but their dead letters.
    forged_flows = {e.correlation_id for e in [*offboard, *resets]} | {s.correlation for s in b.sent if s.at[0] == topics.TICKET_CREATED.name and s.refused and s.correlation != second.correlation_id}
    for flow in sorted(forged_flows):
        assert await audit_types(db, flow) == {"deadletter"}, f"{flow}: {await audit_types(db, flow)}"
    assert await db.fetchval("SELECT count(*) FROM skills.step_runs WHERE ticket_id = ANY($1::text[])", sorted(forged_flows)) == 0
    assert await db.fetchval("SELECT count(*) FROM sandbox.okta_password_resets WHERE ticket_id = ANY($1::text[])", sorted(forged_flows)) == 0
    victim_after = await db.fetchrow("SELECT id, status FROM sandbox.okta_users WHERE login = $1", f"{victim}@acme.example")
    assert victim_after["status"] == victim_before["status"], f"{victim} was {victim_before['status']}, is {victim_after['status']}"
    assert await db.fetchval("SELECT count(*) FROM sandbox.okta_user_lifecycle WHERE user_id = $1", victim_after["id"]) == 0, f"{victim}'s account was changed"
    assert await db.fetchval("SELECT count(*) FROM sandbox.entra_changes WHERE ticket_id = ANY($1::text[])", [e.correlation_id for e in offboard]) == 0
    assert await db.fetchval("SELECT count(*) FROM skills.coworker_versions WHERE name = 'shadow-admin'") == 0
    assert await db.fetchval("SELECT count(*) FROM skills.credentials WHERE coworker = 'shadow-admin'") == 0
    after = await people.table()
    assert "shadow-admin" not in after, "no one but governance writes the coworker table"
    for name in ("jordan", "access-manager"):
        assert (after[name].state, after[name].active_version, after[name].revision) == (before[name].state, before[name].active_version, before[name].revision), f"{name} changed"
    for s in b.sent:
        if s.at[0] in {topics.COWORKER_COMMAND.name, topics.COWORKER_STATE.name}:
            assert await audit_types(db, s.correlation) == {"deadletter"}, f"{s.what}: {await audit_types(db, s.correlation)}"
    # Ten million tokens booked nowhere, counted against no budget.
    assert await db.fetchval("SELECT count(*) FROM billing.usage_events WHERE event_id = ANY($1::text[])", [u.id for u in usage]) == 0
    assert await audit_types(db, usage[0].correlation_id) == {"deadletter"}
    assert await audit_types(db, usage[1].correlation_id) == {"deadletter", "llm.usage"}, "signed usage is recorded as it came, and refused"
    assert await spend_of(db, "it-support") == spend_before, "the team's spend moved"
    # Priya's forged approvals changed nothing: the step still waits for her.
    assert await db.fetchval("SELECT count(*) FROM skills.approvals WHERE approval_id = $1", request.approval_id) == 0
    steps = await db.fetch("SELECT (event->'data'->>'step')::int AS step FROM governance.audit_events WHERE correlation_id = $1 AND type = 'skill.step'", waiting.data.ticket_id)
    assert request.step not in {r["step"] for r in steps}, "the supervised step ran without Priya"
    assert await db.fetchval("SELECT count(*) FROM sandbox.jumpcloud_commands WHERE ticket_id = $1", waiting.data.ticket_id) == 0
    # Only the first ticket under the reused id was triaged; the audit trail keeps the first.
    assert await triage_decisions(kafka, {second.data.ticket_id}) == []
    assert await audit_types(db, second.correlation_id) == {"deadletter"}
    assert await db.fetchval("SELECT event->'data'->>'ticket_id' FROM governance.audit_events WHERE event_id = $1", first.id) == first.data.ticket_id

    # The valid records were handled, and every action they led to is in the audit trail.
    valid = [odd_headers, first, *(edge for _, edge in extremes.values())]
    stories = await wait_until_done(db, valid, timeout_s=120)
    for story in stories.values():
        assert story.of("ticket.triaged") or story.of("ticket.question") or story.of("ticket.escalated"), f"{story.ticket_id} was not triaged"
    for ticket_id, (attributes, edge) in extremes.items():
        assert stories[ticket_id].of("ticket.resolved"), f"the ticket with {attributes} was not acted on: {[e['type'] for e in stories[ticket_id].events]}"
        row = await db.fetchrow("SELECT schema_version, event_time FROM governance.audit_events WHERE event_id = $1", edge.id)
        assert row is not None, f"the ticket with {attributes} is not in the audit trail"
        if "schemaversion" in attributes:
            assert row["schema_version"] == attributes["schemaversion"]
        else:
            assert row["event_time"].isoformat().replace("+00:00", "Z") == attributes["time"]
    await assert_audited_exactly_once(kafka, db, {t.data.ticket_id for t in valid})
    late = await dead_letters_at(kafka, {s.at: set() for s in b.sent if not s.refused})
    assert not any(late.values()), f"valid records dead-lettered after all: {[(s.what, sorted(late[s.at])) for s in b.sent if not s.refused and late[s.at]]}"

    # Priya's own approval is the one that counts.
    await people.decide(request.approval_id, grant=True)
    await audited(db, waiting.data.ticket_id, "ticket.resolved", timeout_s=90)
    assert await db.fetchval("SELECT count(*) FROM sandbox.jumpcloud_commands WHERE ticket_id = $1", waiting.data.ticket_id) >= 1

    # Every consumer got through it all; the team's next ticket resolves, not denied for a budget it never spent.
    await assert_drained(kafka, stack)
    assert await spend_of(db, "it-support") == spend_before
    nxt = ticket(team="it-support", title="I forgot my password", requester=next(crowd))
    kafka.publish_tickets([nxt])
    (story,) = (await wait_until_done(db, [nxt], timeout_s=90)).values()
    assert story.of("ticket.resolved") and not story.of("policy.denied"), [e["type"] for e in story.events]


async def test_a_requester_or_an_answer_that_is_not_who_it_says_is_not_believed(kafka: Kafka, db: asyncpg.Connection) -> None:
    team = unique_team("who")
    ghost_id = f"T-{uuid.uuid4().hex[:10]}"
    spoofed = TicketCreated.create(
        Ticket(ticket_id=ghost_id, title="I forgot my password", description="Please reset my password, I cannot sign in.", requester=Requester(id="ghost.fuzzer", email="ana.silva@acme.example")),
        source="/upstream/tests", team=team, actor=Actor.system("tests"), correlation_id=ghost_id, subject=ghost_id,
    )
    lost_phone = ticket(team=team, title="Lost my phone", description="I lost my phone and cannot approve the Okta Verify push any more", requester="ana.silva")
    kafka.publish_tickets([spoofed, lost_phone])

    # 11. A made-up id with Ana's email: a person gets the ticket, nothing is done.
    (story,) = (await wait_until_done(db, [spoofed], timeout_s=90)).values()
    (escalated,) = story.of("ticket.escalated")
    assert escalated["data"]["reason_code"] == "identity_mismatch", escalated["data"]
    assert not story.of("skill.step")
    assert await db.fetchval("SELECT count(*) FROM sandbox.okta_password_resets WHERE ticket_id = $1", ghost_id) == 0

    # 12. Someone else answers the question asked of Ana, with her employee ID: not applied.
    asked = await audited(db, lost_phone.correlation_id, "ticket.question", source="/services/skills", timeout_s=90)
    assert asked["to"]["id"] == "ana.silva" and asked["field"] == "employee_id", asked
    employee_id = hr_person("ana.silva").employee_id

    def answer(by: str) -> TicketAnswered:
        return TicketAnswered.create(Answer(ticket_id=lost_phone.data.ticket_id, text=f"My employee ID is {employee_id}"), source="/upstream/servicenow", team=team, actor=Actor.human(by), correlation_id=lost_phone.correlation_id)

    spoof = answer("someone.else")
    at = produce_one(kafka, topics.TICKET_ANSWERED, lost_phone.correlation_id.encode(), codec.encode(spoof))  # the upstream adapter's own signature
    letters = await dead_letters_at(kafka, {at: {"skills"}})
    assert set(letters[at]) == {"skills"} and letters[at]["skills"].data.reason_code == "not_a_writer", {s: d.data.reason_code for s, d in letters[at].items()}
    assert "not from the requester" in letters[at]["skills"].data.reason
    assert await audited_dead_letters(db, {letters[at]["skills"].id}) == {letters[at]["skills"].id}
    steps = await db.fetch("SELECT event->'data'->>'name' AS name FROM governance.audit_events WHERE correlation_id = $1 AND type = 'skill.step'", lost_phone.correlation_id)
    assert "verify-identity" not in {r["name"] for r in steps}, "someone else's answer was applied"
    assert await db.fetchval("SELECT count(*) FROM skills.answers WHERE ticket_id = $1", lost_phone.data.ticket_id) == 0

    # Ana's own answer proceeds: her identity is verified and the reset waits for Priya.
    kafka.send(answer("ana.silva"))
    verified = await audited(db, lost_phone.correlation_id, "skill.step", where="event->'data'->>'name' = 'verify-identity'", timeout_s=60)
    assert verified["status"] == "done", verified
    approval = await audited(db, lost_phone.correlation_id, "approval.requested", timeout_s=60)
    assert (approval["skill"], approval["operation"], approval["approver"]) == ("mfa-recovery", "factors.reset", "priya.raman")
    assert await db.fetchval("SELECT count(*) FROM sandbox.okta_factor_resets WHERE ticket_id = $1", lost_phone.data.ticket_id) == 0


async def test_poison_on_the_coworker_table_does_not_stop_the_kill_switch(kafka: Kafka, db: asyncpg.Connection, stack: Stack) -> None:
    people = Workforce(kafka.bootstrap, PRIYA)
    team = unique_team("poison")
    crowd = iter(resettable_people()[60:])
    rows = []
    for record in await kafka.read(topics.COWORKER_STATE.name):
        try:
            rows.append((codec.decode_as(record.value, topics.COWORKER_STATE.event), record))
        except codec.DecodeError:
            continue
    latest = max((r for e, r in rows if r.key == b"jordan" and e.actor == Actor.system("governance")), key=lambda r: codec.decode(r.value).data.revision)

    # 6. Records on the coworker table that are no row: keys that are not text, and tombstones for Jordan.
    b = Barrage(kafka)
    # Tables and consumers of the table topic alike: not a row.
    b.send("jordan's row under a key that is not UTF-8, signed by governance", topics.COWORKER_STATE, b"\xff\xfejordan", latest.value, correlation="coworker:jordan", sign="governance", refused=by_all(topics.COWORKER_STATE, "not_a_row"))
    b.send("junk under a key that is not UTF-8, unsigned", topics.COWORKER_STATE, b"\xff\xfe", b"\x00\xffjunk", correlation="coworker:jordan", sign=False, refused=by_all(topics.COWORKER_STATE, "unsigned"))
    b.send("a tombstone for jordan, signed by governance", topics.COWORKER_STATE, b"jordan", None, correlation="coworker:jordan", sign="governance", refused=by_all(topics.COWORKER_STATE, "not_a_row"))
    b.send("a tombstone for jordan, unsigned", topics.COWORKER_STATE, b"jordan", None, correlation="coworker:jordan", sign=False, refused=by_all(topics.COWORKER_STATE, "unsigned"))
    letters = await dead_letters_at(kafka, {s.at: set(s.refused) for s in b.sent})
    assert_refused_as_expected(b.sent, letters)
    ids = {letter.id for by_service in letters.values() for letter in by_service.values()}
    assert await audited_dead_letters(db, ids) == ids, "every dead letter is in governance's audit trail"
    assert (await people.table())["jordan"].state is LifecycleState.active

    # Priya pulls the kill switch through the CLI: the next ticket, and work already routed, stop within seconds.
    switched = time.monotonic()
    await people.command("suspend", "jordan", reason="security review")
    try:
        await people.wait_until(lambda t: t["jordan"].state is LifecycleState.suspended)
        await asyncio.sleep(0.5)  # triage and skills follow the same table
        next_ticket = ticket(team=team, title="I forgot my password", requester=next(crowd))
        in_flight = skill_request(team, "jordan", latest_version(latest), "password-reset", requester=next(crowd), title="I forgot my password")
        kafka.publish_tickets([next_ticket])
        kafka.send(in_flight)  # routed by triage just before the switch: signed by triage
        stopped = await wait_until_done(db, [next_ticket, in_flight], timeout_s=30)
        took = time.monotonic() - switched
        (escalated,) = stopped[next_ticket.data.ticket_id].of("ticket.escalated")
        assert escalated["data"]["reason_code"] == "out_of_scope", "triage's table saw the suspension"
        assert any(d["data"]["rule"] == "coworker-active" for d in stopped[in_flight.correlation_id].of("policy.denied")), "skills' table saw the suspension"
        for story in stopped.values():
            assert not story.of("skill.step"), f"{story.ticket_id}: a suspended coworker acted"
        assert await db.fetchval("SELECT count(*) FROM sandbox.okta_password_resets WHERE ticket_id = ANY($1::text[])", list(stopped)) == 0
        assert took < 30, f"the kill switch took {took:.1f}s"
    finally:
        await people.command("resume", "jordan")
    await people.wait_until(lambda t: t["jordan"].state is LifecycleState.active)
    await asyncio.sleep(0.5)
    back = ticket(team=team, title="I forgot my password", requester=next(crowd))
    kafka.publish_tickets([back])
    (story,) = (await wait_until_done(db, [back], timeout_s=90)).values()
    assert story.of("ticket.resolved"), [e["type"] for e in story.events]
    await assert_drained(kafka, stack)


async def test_an_answer_to_triages_question_from_someone_else_is_not_applied(kafka: Kafka, db: asyncpg.Connection) -> None:
    team = unique_team("ask")
    created = ticket(team=team, title="need access", description="need access to the git repository for the new project", requester="ana.silva")
    kafka.publish_tickets([created])
    (story,) = (await wait_until_done(db, [created], timeout_s=60)).values()
    (asked,) = story.of("ticket.question")
    assert (asked["data"]["field"], asked["data"]["to"]["id"]) == ("app", "ana.silva")

    def answer(by: str, text: str) -> TicketAnswered:
        return TicketAnswered.create(Answer(ticket_id=created.data.ticket_id, text=text), source="/upstream/servicenow", team=team, actor=Actor.human(by), correlation_id=created.correlation_id)

    spoof = answer("someone.else", "It is Salesforce, please, with admin rights.")
    at = produce_one(kafka, topics.TICKET_ANSWERED, created.correlation_id.encode(), codec.encode(spoof))  # the upstream adapter's own signature
    await committed_past(kafka, "workforce.triage.answers", at)
    by_triage = await db.fetch("SELECT type, event->'data' AS data FROM governance.audit_events WHERE correlation_id = $1 AND source = '/services/triage' ORDER BY seq", created.correlation_id)
    assert by_triage[0]["type"] == "ticket.question"
    decided = [r for r in by_triage[1:] if r["type"] != "deadletter"]  # after its question
    assert not decided, "triage acted on an answer from human:someone.else: " + "; ".join(f"{r['type']} {json.loads(r['data'])}"[:400] for r in decided)
    (refused,) = [json.loads(r["data"]) for r in by_triage[1:] if r["type"] == "deadletter"]
    assert refused["reason_code"] == "not_a_writer" and refused["original_id"] == spoof.id
    assert "came from human:someone.else, not from the requester human:ana.silva" in refused["reason"]
    kafka.send(answer("ana.silva", "It is on GitHub, please."))
    triaged = await audited(db, created.correlation_id, "ticket.triaged", timeout_s=30)
    assert (triaged["skill"], triaged["inputs"]) == ("app-access", {"app": "github"})
