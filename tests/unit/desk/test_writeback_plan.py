"""What writing one of our events back plans on the upstream ticket: the steps a person there would
see happen, in order, each with a stable number."""

from __future__ import annotations

from contracts.envelope import Actor
from contracts.events import (
    Attempt,
    Candidate,
    Child,
    Escalation,
    Handoff,
    Question,
    Requester,
    Resolution,
    Split,
    Ticket,
    TicketCreated,
    TicketEscalated,
    TicketQuestion,
    TicketResolved,
    TicketSplit,
)
from services.desk.config import DeskConfig
from services.desk.writeback import plan as planning
from services.desk.writeback.notes import marker
from services.desk.writeback.plan import UpstreamTicket, plan

REQUESTER = Requester(id="ana.silva", email="ana.silva@acme.example")


def created(upstream: str, ticket_id: str = "T-1", title: str = "VPN drops every hour", description: str = "Since Monday, on the office wifi.") -> TicketCreated:
    ticket = Ticket(ticket_id=ticket_id, title=title, description=description, requester=REQUESTER)
    return TicketCreated.create(ticket, source="/services/desk", team="it-support", actor=Actor.system("desk"), correlation_id=ticket_id, subject=ticket_id, upstream=upstream)


def question_event(origin: TicketCreated, text: str = "Which laptop are you on (the asset tag on its base)?") -> TicketQuestion:
    data = Question(ticket_id=origin.data.ticket_id, category="network", skill="vpn-fix", field="asset_tag", question=text, to=REQUESTER)
    return origin.caused(TicketQuestion, data, source="/services/skills", actor=Actor.coworker("jordan"))


def resolved_event(origin: TicketCreated, text: str = "Reset your VPN profile; the drops stopped.") -> TicketResolved:
    data = Resolution(ticket_id=origin.data.ticket_id, ticket=origin.data, resolution=text, skill="vpn-fix")
    return origin.caused(TicketResolved, data, source="/services/skills", actor=Actor.coworker("jordan"))


def escalated_event(origin: TicketCreated, queue: str = "it-desk") -> TicketEscalated:
    handoff = Handoff(
        ticket=origin.data,
        why="The VPN gateway logs show the account locked by policy; unlocking needs a person.",
        tried=[Attempt(what="okta users.read", outcome="succeeded", detail="account active"), Attempt(what="vpn profile reset", outcome="failed", detail="gateway refused")],
        candidates=[Candidate(skill="vpn-fix", coworker="jordan", score=0.42)],
        facts=["device: LT-2231"],
        next_action="Unlock the VPN account on the gateway, then ask Ana to reconnect.",
    )
    data = Escalation(ticket_id=origin.data.ticket_id, reason_code="skill_failed", reason="The VPN fix failed at the gateway.", queue=queue, handoff=handoff, category="network", priority="P3")
    return origin.caused(TicketEscalated, data, source="/services/triage", actor=Actor.system("triage"))


def split_event(origin: TicketCreated) -> TicketSplit:
    children = [Child(ticket_id=f"{origin.data.ticket_id}-1", title="Reset my password", skill="password-reset"),
                Child(ticket_id=f"{origin.data.ticket_id}-2", title="Order a second monitor", skill="hardware-order")]
    data = Split(ticket_id=origin.data.ticket_id, category="mixed", children=children, reason="two unrelated requests")
    return origin.caused(TicketSplit, data, source="/services/triage", actor=Actor.system("triage"))


CONFIG = DeskConfig.model_validate({"escalation_groups": {"it-desk": {"jira_assignee": "5b10ac8d82e05b22cc7d4ef5", "jira_label": "it-desk",
                                                                      "servicenow_group": "8a5055c9c61122780043563ef53438e3", "zendesk_group_id": 360001}}})
JIRA = UpstreamTicket("jira", "10042", "IT-7", project="IT")
ZENDESK = UpstreamTicket("zendesk", "35436", "35436", requester_id="9001")


def test_a_question_is_one_public_comment_ending_in_its_marker() -> None:
    event = question_event(created("zendesk:35436"))
    [op] = plan(event, ZENDESK, CONFIG)
    assert (op.index, op.kind, op.public) == (0, "comment", True)
    assert "asset tag" in op.text and op.text.endswith(marker(event.id))


def test_a_resolution_is_a_public_comment_then_the_state_change() -> None:
    event = resolved_event(created("jira:10042"))
    ops = plan(event, JIRA, CONFIG)
    assert [(o.index, o.kind, o.public) for o in ops] == [(0, "comment", True), (1, "resolve", False)]
    assert "Reset your VPN profile" in ops[0].text and ops[1].text == "Reset your VPN profile; the drops stopped."


def test_an_escalation_is_an_internal_handoff_note_then_the_reassignment_to_the_configured_group() -> None:
    event = escalated_event(created("jira:10042"))
    ops = plan(event, JIRA, CONFIG)
    assert [(o.index, o.kind, o.public) for o in ops] == [(0, "comment", False), (1, "reassign", False)]
    assert ops[1].group == CONFIG.escalation_group("it-desk")
    assert "Reassigned to assignee 5b10ac8d82e05b22cc7d4ef5 and label it-desk." in ops[0].text


def test_an_escalation_to_a_queue_with_no_group_says_so_in_the_note_and_reassigns_nothing() -> None:
    event = escalated_event(created("zendesk:35436"), queue="hr-desk")
    ops = plan(event, ZENDESK, CONFIG)
    assert [o.kind for o in ops] == ["comment"]
    assert "No zendesk group is configured for queue 'hr-desk': assign this ticket by hand." in ops[0].text


def test_the_catch_all_group_takes_a_queue_not_named() -> None:
    config = DeskConfig.model_validate({"escalation_groups": {"*": {"zendesk_group_id": 7}}})
    ops = plan(escalated_event(created("zendesk:35436"), queue="hr-desk"), ZENDESK, config)
    assert [o.kind for o in ops] == ["comment", "reassign"] and ops[1].group.zendesk_group_id == 7


def test_a_split_creates_one_linked_ticket_per_child_then_notes_them_on_the_parent() -> None:
    event = split_event(created("jira:10042"))
    ops = plan(event, JIRA, CONFIG)
    assert [(o.index, o.kind) for o in ops] == [(0, "create_child"), (1, "create_child"), (2, "comment")]
    assert [o.title for o in ops[:2]] == ["Reset my password", "Order a second monitor"]
    assert ops[0].text.endswith(marker(event.id, 0)) and ops[1].text.endswith(marker(event.id, 1))
    assert "Split from Jira issue IT-7" in ops[0].text
    assert ops[2].public is False and len(ops[2].children) == 2 and ops[2].text.endswith(marker(event.id))


def test_the_same_event_always_plans_the_same_steps() -> None:
    event = escalated_event(created("jira:10042"))
    assert plan(event, JIRA, CONFIG) == plan(event, JIRA, CONFIG)


def test_an_event_that_is_not_written_back_plans_nothing() -> None:
    assert plan(created("jira:10042"), JIRA, CONFIG) == []


def test_group_names_per_system() -> None:
    group = CONFIG.escalation_group("it-desk")
    assert planning.group_name(group, "servicenow") == "group 8a5055c9c61122780043563ef53438e3"
    assert planning.group_name(group, "zendesk") == "group 360001"
    assert planning.group_name(None, "jira") is None


def test_an_upstream_ticket_is_read_from_an_events_reference() -> None:
    ticket = UpstreamTicket.of("jira:10042", key="IT-7", project="IT")
    assert (ticket.system, ticket.native_id, ticket.key, ticket.ref, str(ticket)) == ("jira", "10042", "IT-7", "jira:10042", "Jira issue IT-7")
    assert UpstreamTicket.of("zendesk:35436").key == "35436"
    try:
        UpstreamTicket.of("github:1")
    except ValueError as exc:
        assert "github:1" in str(exc)
    else:
        raise AssertionError("an unknown system was taken")
