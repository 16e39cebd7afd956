"""The event language: what producers and consumers can rely on, without a broker."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contracts import codec, topics
from contracts.envelope import Actor, derived_event_id
from contracts.events import (
    EVENT_TYPES,
    Answer,
    CategoryScore,
    Child,
    Question,
    Reroute,
    Split,
    TicketAnswered,
    TicketQuestion,
    TicketRerouted,
    TicketSplit,
    TicketWriteBackFailed,
    TicketWrittenBack,
    WriteBack,
    WriteBackFailure,
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequest,
    ApprovalRequested,
    BudgetState,
    BudgetStatus,
    CommandRejection,
    CoworkerChange,
    CoworkerChanged,
    CoworkerCommand,
    CoworkerCommanded,
    CoworkerRejected,
    CoworkerState,
    CoworkerStated,
    Delegation,
    MemoryErasure,
    MemoryForgotten,
    PolicyAllowed,
    PolicyDecision,
    PolicyDenied,
    Attempt,
    BudgetAlert,
    BudgetThreshold,
    Candidate,
    DeadLetter,
    DeadLettered,
    Escalation,
    Handoff,
    LlmUsage,
    MemoryRecord,
    MemoryRecorded,
    Resolution,
    SkillCompleted,
    SkillFailed,
    SkillFailure,
    SkillOutcome,
    SkillRequest,
    SkillRequested,
    SkillStep,
    StepRecord,
    TicketCreated,
    TicketEscalated,
    TicketResolved,
    TicketTriaged,
    TokenUsage,
    TriageDecision,
    Turn,
)
from deploy.coworkers import example_workforce
from tests.conftest import ticket

SOURCE = "/services/tests"
JORDAN = example_workforce()["jordan"]


def one_of_each() -> list:
    created = ticket("T-1")
    t = created.data
    c = [Candidate(skill="password-reset", coworker="jordan", score=0.8)]
    handoff = Handoff(ticket=t, why="why", transcript=[Turn(actor=Actor.human("ana"), text="help", at=created.time)], tried=[Attempt(what="x", outcome="failed")], candidates=c)
    return [
        created,
        created.caused(TicketTriaged, TriageDecision(ticket_id="T-1", category="Access", coworker="jordan", coworker_version=1, skill="password-reset", confidence=0.8, priority="P3", priority_reason="one person blocked", method="m", model="x", model_version="1", categories=[CategoryScore(category="Access", probability=0.8)], candidates=c, inputs={"app": "okta"}), source=SOURCE),
        created.caused(TicketEscalated, Escalation(ticket_id="T-1", reason_code="low_confidence", reason="r", queue="service-desk", handoff=handoff), source=SOURCE),
        created.caused(TicketResolved, Resolution(ticket_id="T-1", ticket=t, resolution="done", skill="password-reset"), source=SOURCE),
        created.caused(TicketSplit, Split(ticket_id="T-1", category="HR Support", children=[Child(ticket_id="T-1-1", title="HR record", skill="hr-onboarding-us"), Child(ticket_id="T-1-2", title="badge", skill="badge-access")], reason="onboarding is made of others"), source=SOURCE),
        created.caused(TicketQuestion, Question(ticket_id="T-1", category="Access", skill="app-access", field="app", question="Which application?", to=t.requester), source=SOURCE),
        created.caused(TicketAnswered, Answer(ticket_id="T-1", text="Salesforce"), source=SOURCE),
        created.caused(TicketWrittenBack, WriteBack(ticket_id="T-1", upstream="jira:10042", cause_type="ticket.resolved", cause_id="e1", actions=["comment 10100 (public)", "transition 31 (Done)"]), source=SOURCE),
        created.caused(TicketWriteBackFailed, WriteBackFailure(ticket_id="T-1", upstream="zendesk:35436", cause_type="ticket.question", cause_id="e2", reason_code="refused", reason="422 RecordInvalid"), source=SOURCE),
        created.caused(TicketRerouted, Reroute(ticket_id="T-1", ticket=t, category="Hardware", skill="laptop-troubleshoot", reason="wrong queue"), source=SOURCE),
        created.caused(SkillRequested, SkillRequest(ticket_id="T-1", skill="password-reset", coworker="jordan", coworker_version=2, delegation=Delegation(chain=["it-support-workspace-manager"]), ticket=t, inputs={"user": "a"}, confidence=0.8), source=SOURCE),
        created.caused(SkillStep, StepRecord(ticket_id="T-1", skill="password-reset", coworker="jordan", step=1, name="find-user", system="okta", operation="users.read", idempotency_key="k", status="done", outputs={"n": 1}), source=SOURCE),
        created.caused(SkillCompleted, SkillOutcome(ticket_id="T-1", skill="password-reset", coworker="jordan", steps=2, summary="s"), source=SOURCE),
        created.caused(SkillFailed, SkillFailure(ticket_id="T-1", skill="password-reset", coworker="jordan", failed_step=1, error_code="user_not_found", reason="r"), source=SOURCE),
        created.caused(LlmUsage, TokenUsage(purpose="triage.embed", model="all-MiniLM-L6-v2", provider="local", prompt_tokens=12, cost_usd=Decimal("0.0000012")), source=SOURCE),
        created.caused(MemoryRecorded, MemoryRecord(memory_id="m1", scope="ticket", ticket_id="T-1", collection="memories", embedding_model="x", dimensions=384), source=SOURCE),
        created.caused(BudgetAlert, BudgetThreshold(budget="team:it-support", period="2026-11", threshold_pct=80, spent_usd=Decimal(8), limit_usd=Decimal(10)), source=SOURCE),
        created.caused(MemoryForgotten, MemoryErasure(scope="coworker", subject="jordan", deleted=3, reason="offboarded"), source=SOURCE),
        *memory_examples(created),
        created.caused(BudgetState, BudgetStatus(budget="coworker:jordan", period="2026-11", spent_usd=Decimal("1.5"), limit_usd=Decimal(250)), source=SOURCE),
        *billing_examples(created),
        created.caused(CoworkerCommanded, CoworkerCommand(command="apply", coworker="jordan", manifest=JORDAN), source=SOURCE),
        created.caused(CoworkerChanged, CoworkerChange(command="publish", coworker="jordan", from_state="draft", to_state="active", version=1, active_version=1), source=SOURCE),
        created.caused(CoworkerRejected, CommandRejection(command="resume", coworker="jordan", reason="coworker 'jordan' is active"), source=SOURCE),
        created.caused(CoworkerStated, CoworkerState(coworker="jordan", revision=2, state="active", active_version=1, active=JORDAN, changed_at=created.time), source=SOURCE),
        created.caused(PolicyAllowed, PolicyDecision(decision_id="d1", ticket_id="T-1", coworker="jordan", coworker_version=1, skill="password-reset", step=1, system="okta", scope="users.read", allowed=True, rule="holds-scope", reason="ok"), source=SOURCE),
        created.caused(PolicyDenied, PolicyDecision(decision_id="d2", ticket_id="T-1", coworker="jordan", skill="app-access", allowed=False, rule="holds-skill", reason="no"), source=SOURCE),
        policy_changed_example(),
        created.caused(ApprovalRequested, ApprovalRequest(approval_id="a1", ticket_id="T-1", coworker="jordan", coworker_version=1, skill="password-reset", step=2, system="okta", operation="users.reset_password", action="reset", approver="priya.raman"), source=SOURCE),
        created.caused(ApprovalGranted, ApprovalDecision(approval_id="a1", ticket_id="T-1", coworker="jordan", skill="password-reset", step=2), source=SOURCE, actor=Actor.human("priya.raman")),
        created.caused(ApprovalRejected, ApprovalDecision(approval_id="a2", ticket_id="T-1", coworker="jordan", skill="password-reset", step=2, comment="not now"), source=SOURCE, actor=Actor.human("priya.raman")),
        created.caused(DeadLettered, DeadLetter(reason_code="not_json", reason="r", service="triage", source_topic="ticket.created", partition=0, offset=7, key=b"k", original=b"\xff\x00garbage", original_size=9, original_sha256="0" * 64), source=SOURCE),
    ]


def policy_changed_example():  # noqa: ANN201
    from contracts.events import PolicyChange, PolicyChanged

    change = PolicyChange(previous_version="1", previous_sha256="a" * 64, version="2", sha256="b" * 64, path="deploy/workforce/policy.yaml", text="version: '2'\n", diff="-version: '1'\n+version: '2'\n")
    return PolicyChanged.create(change, source="/services/skills", team="platform", actor=Actor.system("skills"), correlation_id="policy", subject="policy")


def memory_examples(created) -> list:  # noqa: ANN001
    from contracts.events import ErasureRequest, KnowledgeChunk, MemoryErasureRequested, MemoryKnowledgeIngested, MemoryRecalled, MemoryRecallRequested, RecalledMemory, RecallRequest, RecallResult

    item = RecalledMemory(memory_id="m1", scope="ticket", text="vpn down\nResolution: reissued the certificate", score=0.71, similarity=0.65, tokens=9, valid_from=created.time, ticket_id="T-0")
    return [
        created.caused(MemoryRecallRequested, RecallRequest(request_id="r1", text="vpn keeps dropping", ticket_id="T-1", requester_id="ana.silva", coworker="jordan", token_budget=400), source=SOURCE),
        created.caused(MemoryRecalled, RecallResult(request_id="r1", ticket_id="T-1", items=[item], tokens=9, token_budget=400, embedding_model="all-MiniLM-L6-v2"), source=SOURCE),
        created.caused(MemoryErasureRequested, ErasureRequest(scope="requester", subject="ana.silva", reason="right to be forgotten"), source=SOURCE, actor=Actor.human("dpo")),
        created.caused(MemoryKnowledgeIngested, KnowledgeChunk(document_id="d1", source="runbooks/vpn.md", title="VPN", chunk=0, chunks=1, text="Reissue the certificate.", sha256="c" * 64), source=SOURCE),
    ]


def billing_examples(created) -> list:  # noqa: ANN001
    from datetime import timedelta

    from contracts.events import BudgetLeaseGranted, BudgetLeaseRequested, BudgetLeaseReturned, LeaseGrant, LeaseRequest, LeaseReturn, Price, SpendLine, SpendReport, SpendSummary

    price = Price(usd_per_input_token=Decimal("0.00000015"), usd_per_output_token=Decimal("0.0000006"), usd_per_cached_input_token=Decimal("0.000000075"))
    line = SpendLine(name="jordan", cost_usd=Decimal("1.25"), calls=10, tokens=1000)
    return [
        created.caused(BudgetLeaseRequested, LeaseRequest(lease_id="l1", holder="triage-1", kind="scope", coworker="triage-manager", amount_usd=Decimal("0.5"), models=["gpt-4o-mini"]), source=SOURCE),
        created.caused(BudgetLeaseGranted, LeaseGrant(lease_id="l1", holder="triage-1", kind="scope", budgets=["team:it-support", "coworker:triage-manager"], amount_usd=Decimal("0.5"), expires_at=created.time + timedelta(seconds=60), ticket_cap_usd=Decimal("0.05"), prices={"gpt-4o-mini": price}, price_version="litellm-1"), source=SOURCE),
        created.caused(BudgetLeaseReturned, LeaseReturn(lease_id="l1", holder="triage-1", used_usd=Decimal("0.0123"), calls=3), source=SOURCE),
        created.caused(SpendReport, SpendSummary(team="it-support", period="2026-11", period_start=created.time, period_end=created.time + timedelta(days=30), cost_usd=Decimal("1.25"), calls=10, tokens=1000, top_coworkers=[line], savings_usd=Decimal("-0.5")), source=SOURCE),
    ]


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: e.type)
def test_every_event_type_survives_the_wire_unchanged(event) -> None:
    decoded = codec.decode(codec.encode(event))
    assert type(decoded) is type(event)
    assert decoded == event


def test_there_is_an_example_and_a_topic_for_every_event_type() -> None:
    assert {type(e) for e in one_of_each()} == set(EVENT_TYPES)
    assert {t.event for t in topics.ALL} == set(EVENT_TYPES)


def test_the_upstream_ticket_travels_on_every_event_of_its_flow_and_is_absent_otherwise() -> None:
    created = ticket("T-7").model_copy(update={"upstream": "servicenow:9d385017c611228701d22104cc95c371"})
    question = created.caused(TicketQuestion, Question(ticket_id="T-7", category="Access", skill="app-access", field="app", question="Which application?", to=created.data.requester), source=SOURCE)
    answered = question.caused(TicketAnswered, Answer(ticket_id="T-7", text="Salesforce"), source=SOURCE)
    assert answered.upstream == question.upstream == "servicenow:9d385017c611228701d22104cc95c371"
    assert json.loads(codec.encode(answered))["upstream"] == "servicenow:9d385017c611228701d22104cc95c371"
    assert codec.decode(codec.encode(answered)) == answered
    assert "upstream" not in json.loads(codec.encode(ticket("T-8")))
    with pytest.raises(ValueError, match="upstream"):
        created.model_copy(update={"upstream": None}).model_validate({**json.loads(codec.encode(created)), "upstream": "no system here"})


def test_the_wire_format_uses_cloudevents_attribute_names() -> None:
    raw = json.loads(codec.encode(ticket("T-9")))
    assert raw["specversion"] == "1.0"
    assert raw["type"] == "ticket.created"
    assert raw["correlationid"] == "T-9"
    assert raw["actor"] == "system:tests"
    assert raw["schemaversion"] == 1
    # CloudEvents: attribute names are lower-case alphanumerics only
    assert all(name.isalnum() and name.islower() for name in raw if name != "data")


def test_money_travels_as_an_exact_decimal_string() -> None:
    usage = next(e for e in one_of_each() if isinstance(e, LlmUsage))
    raw = json.loads(codec.encode(usage))
    assert raw["data"]["cost_usd"] == "0.0000012"
    assert codec.decode(codec.encode(usage)).data.cost_usd == Decimal("0.0000012")


def test_a_dead_letter_keeps_the_original_bytes_exactly() -> None:
    dead = one_of_each()[-1]
    assert codec.decode(codec.encode(dead)).data.original == b"\xff\x00garbage"


def test_an_event_caused_by_another_carries_the_flow_and_a_repeatable_id() -> None:
    created = ticket("T-2")
    first = created.caused(TicketResolved, Resolution(ticket_id="T-2", ticket=created.data, resolution="r"), source=SOURCE)
    again = created.caused(TicketResolved, Resolution(ticket_id="T-2", ticket=created.data, resolution="r"), source=SOURCE)
    assert first.id == again.id == derived_event_id(created.id, "ticket.resolved")
    assert first.causation_id == created.id
    assert first.correlation_id == "T-2" and first.team == created.team
    other = created.caused(TicketResolved, Resolution(ticket_id="T-2", ticket=created.data, resolution="r"), source=SOURCE, ordinal=1)
    assert other.id != first.id


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"{not json", "not_json", "not JSON"),
        (b"", "not_json", "no value"),
        (b"[1, 2, 3]", "schema", "not an object"),
        (b'{"type": "ticket.exploded", "id": "x"}', "unknown_type", "unknown event type 'ticket.exploded'"),
        (b'{"id": "x"}', "schema", "no 'type'"),
        (b'{"type": "ticket.created", "specversion": "1.0", "id": "x", "data": {}}', "schema", "data.ticket_id: Field required"),
    ],
)
def test_an_unreadable_record_is_refused_with_a_code_and_a_reason(raw: bytes, code: str, words: str) -> None:
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(raw)
    assert refused.value.code == code
    assert words in refused.value.reason


def test_unknown_fields_are_refused_not_ignored() -> None:
    raw = json.loads(codec.encode(ticket("T-3")))
    raw["data"]["requester"]["is_admin"] = True
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(json.dumps(raw).encode())
    assert "data.requester.is_admin: Extra inputs are not permitted" in refused.value.reason


def test_an_oversized_record_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(b"x" * 300_000)
    assert refused.value.code == "oversized"
    assert "300,000 bytes" in refused.value.reason


def test_an_oversized_ticket_text_fails_its_schema() -> None:
    raw = json.loads(codec.encode(ticket("T-4")))
    raw["data"]["description"] = "a" * 20_001
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(json.dumps(raw).encode())
    assert refused.value.code == "schema"
    assert "data.description" in refused.value.reason


def test_a_topic_only_takes_its_own_event_type() -> None:
    triaged = one_of_each()[1]
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode_as(codec.encode(triaged), TicketCreated)
    assert refused.value.code == "wrong_topic"
    assert refused.value.event_id == triaged.id


def test_an_actor_must_say_what_kind_it_is() -> None:
    raw = json.loads(codec.encode(ticket("T-5")))
    raw["actor"] = "jordan"
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(json.dumps(raw).encode())
    assert "actor" in refused.value.reason and "kind:id" in refused.value.reason


def test_ticket_flows_are_keyed_by_ticket_and_money_by_team() -> None:
    events = one_of_each()
    for event in events:
        topic = topics.topic_of(event)
        expected = event.team if topic.key_by is topics.KeyBy.team else event.correlation_id
        assert topic.key(event) == expected.encode()
    assert topics.LLM_USAGE.key_by is topics.KeyBy.team
    assert topics.TICKET_CREATED.key_by is topics.KeyBy.ticket


def test_a_nul_character_is_refused_at_the_door_but_a_written_backslash_u0000_is_text() -> None:
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(codec.encode(ticket(title="binary\x00junk")))
    assert (refused.value.code, refused.value.event_type) == ("schema", "ticket.created")
    assert "NUL character" in refused.value.reason
    assert codec.decode(codec.encode(ticket(title="C:\\u0000 is a path"))).data.title == "C:\\u0000 is a path"


def test_a_ticket_with_an_empty_title_is_refused_by_its_schema() -> None:
    raw = json.loads(codec.encode(ticket("T-6")))
    raw["data"]["title"] = ""
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(json.dumps(raw).encode())
    assert refused.value.code == "schema" and "data.title: String should have at least 1 character" in refused.value.reason


@pytest.mark.parametrize(("field", "value"), [("schemaversion", 2**31), ("time", "0001-01-01T00:00:00Z"), ("time", "9999-12-31T23:59:59Z")])
def test_a_value_the_audit_could_not_store_is_refused_at_the_edge_by_every_consumer(field: str, value: object) -> None:
    """Such an event was acted on by its consumer but dead-lettered by governance: an action with no audit record."""
    from contracts import codec
    from tests.conftest import ticket as make

    raw = json.loads(codec.encode(make()))
    raw[field] = value
    with pytest.raises(codec.DecodeError) as refused:
        codec.decode(json.dumps(raw).encode())
    assert refused.value.code == "schema" and field in refused.value.reason
