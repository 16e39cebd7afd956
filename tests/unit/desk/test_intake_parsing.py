"""From a vendor's documented webhook payload to the event we publish: parsing each system's
shape (tests/fixtures/webhooks/), refusing what is not one, and the mapping rules (team, requester,
derived ids, what is skipped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import ActorKind, derived_event_id
from contracts.events import TicketAnswered, TicketCreated
from services.desk.config import DeskConfig
from services.desk.intake import PARSERS
from services.desk.intake.events import Skip, Unmappable, to_event
from services.desk.intake.inbound import Inbound, Malformed, Unprocessable
from services.triage.pending import not_the_requester

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

CONFIG = DeskConfig.model_validate({
    "systems": {
        "jira": {"webhook": {"secret_env": "X"}, "integration_user": "557058:workforce-bot"},
        "servicenow": {"webhook": {"secret_env": "X"}, "integration_user": "workforce-desk"},
        "zendesk": {"webhook": {"secret_env": "X"}, "integration_user": "900001"},
    },
    "teams": [
        {"system": "jira", "tag": "hr", "team": "hr"},
        {"system": "jira", "project": "IT", "team": "it-support"},
        {"system": "servicenow", "assignment_group": "hr service desk", "team": "hr"},
        {"system": "zendesk", "brand": "360002", "team": "hr"},
    ],
    "default_team": "general",
    "users": {"jira": {"5b10ac8d82e05b22cc7d4ef5": "ana.silva@acme.example"}, "zendesk": {"20978392": "ana.silva@acme.example"}},
    "directory_domain": "acme.example",
})


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def payload(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def parse(system: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> Inbound:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PARSERS[system](data, headers or {})


# --- parsing the documented payloads ----------------------------------------------------------


def test_a_jira_issue_created_reads_as_a_new_ticket_with_its_adf_description_as_text() -> None:
    inbound = parse("jira", raw("jira_issue_created.json"), {"X-Atlassian-Webhook-Identifier": "d-1"})
    assert (inbound.kind, inbound.native_id, inbound.key, inbound.delivery_id) == ("created", "10042", "IT-42", "d-1")
    assert inbound.title == "VPN drops every few minutes"
    assert inbound.description.startswith("Since this morning the VPN client disconnects every 5 minutes.\nI am working from home.")
    assert "- Laptop: ACME-LT-0042" in inbound.description
    assert (inbound.requester.email, inbound.requester.user_id) == ("ana.silva@acme.example", "5b10ac8d82e05b22cc7d4ef5")
    assert (inbound.project, inbound.labels, inbound.priority) == ("IT", ["vpn", "remote"], "High")


def test_a_jira_comment_created_reads_as_a_comment_by_its_author() -> None:
    inbound = parse("jira", raw("jira_comment_created.json"), {"X-Atlassian-Webhook-Identifier": "d-2"})
    assert (inbound.kind, inbound.key, inbound.project) == ("comment", "IT-42", "IT")
    assert inbound.comment is not None
    assert (inbound.comment.id, inbound.comment.author.user_id, inbound.comment.public) == ("10100", "5b10ac8d82e05b22cc7d4ef5", True)
    assert inbound.comment.text == "The laptop tag is ACME-LT-0042, and it happens on home Wi-Fi only."


def test_a_jira_event_we_do_not_take_in_is_ignored_not_refused() -> None:
    inbound = parse("jira", payload("jira_issue_created.json") | {"webhookEvent": "jira:issue_updated"})
    assert (inbound.kind, inbound.event) == ("ignored", "jira:issue_updated")


def test_a_servicenow_insert_reads_as_a_new_ticket() -> None:
    inbound = parse("servicenow", raw("servicenow_incident_insert.json"))
    assert (inbound.kind, inbound.key, inbound.native_id) == ("created", "INC0010001", "9d385017c611228701d22104cc95c371")
    assert inbound.delivery_id == "9d385017c611228701d22104cc95c371:0"
    assert (inbound.requester.email, inbound.assignment_group, inbound.category, inbound.channel) == ("john.miller@acme.example", "Service Desk", "hardware", "portal")
    assert inbound.opened_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_a_servicenow_update_with_a_comment_reads_as_a_comment_and_the_rule_may_name_the_delivery() -> None:
    inbound = parse("servicenow", raw("servicenow_incident_comment.json"), {"X-Workforce-Delivery": "sn-77"})
    assert (inbound.kind, inbound.delivery_id) == ("comment", "sn-77")
    assert inbound.comment is not None and inbound.comment.author.user_id == "john.miller"
    assert inbound.comment.text.startswith("Yes, other people on the floor")


def test_a_servicenow_update_without_a_comment_is_ignored() -> None:
    assert parse("servicenow", payload("servicenow_incident_comment.json") | {"comments": ""}).kind == "ignored"


def test_a_zendesk_ticket_created_reads_as_a_new_ticket_named_zd_id() -> None:
    inbound = parse("zendesk", raw("zendesk_ticket_created.json"))
    assert (inbound.kind, inbound.native_id, inbound.key) == ("created", "35436", "ZD-35436")
    assert inbound.delivery_id == "3f1c7a52-9d0e-4b7a-8c55-1e2d3c4b5a60"
    assert (inbound.requester.user_id, inbound.requester.email, inbound.brand, inbound.channel) == ("20978392", None, "360001", "portal")
    assert inbound.labels == ["outlook", "desktop"]


def test_a_zendesk_comment_added_reads_as_a_comment_with_numeric_ids_as_strings() -> None:
    inbound = parse("zendesk", raw("zendesk_comment_added.json"))
    assert inbound.comment is not None
    assert (inbound.kind, inbound.comment.id, inbound.comment.author.user_id, inbound.comment.staff) == ("comment", "40001", "20978392", False)


def test_vendors_fields_we_do_not_know_are_allowed() -> None:
    assert parse("zendesk", payload("zendesk_ticket_created.json") | {"brand_new_field": {"x": 1}}).kind == "created"


# --- refusing what is not a payload -----------------------------------------------------------


@pytest.mark.parametrize("system", ["jira", "servicenow", "zendesk"])
@pytest.mark.parametrize("body, says", [(b"<xml/>", "not JSON"), (b"[1, 2]", "not an object"), (b"\xff\xfe{}", "not UTF-8"), (b"", "not JSON")])
def test_a_body_that_is_not_a_json_object_is_malformed(system: str, body: bytes, says: str) -> None:
    with pytest.raises(Malformed, match=says):
        PARSERS[system](body, {})


def test_a_jira_issue_without_a_key_is_unprocessable_and_names_the_field() -> None:
    data = payload("jira_issue_created.json")
    del data["issue"]["key"]
    with pytest.raises(Unprocessable, match=r"issue\.key: Field required"):
        parse("jira", data)


def test_a_jira_issue_without_a_summary_is_unprocessable() -> None:
    data = payload("jira_issue_created.json")
    data["issue"]["fields"]["summary"] = ""
    with pytest.raises(Unprocessable, match=r"issue\.fields\.summary"):
        parse("jira", data)


def test_a_jira_payload_without_webhook_event_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="webhookEvent"):
        parse("jira", {"issue": {}})


def test_a_servicenow_payload_with_a_bad_sys_id_or_operation_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="sys_id"):
        parse("servicenow", payload("servicenow_incident_insert.json") | {"sys_id": "not-a-sys-id"})
    with pytest.raises(Unprocessable, match="operation"):
        parse("servicenow", payload("servicenow_incident_insert.json") | {"operation": "delete"})


def test_a_zendesk_comment_event_without_its_comment_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match=r"event\.comment"):
        parse("zendesk", payload("zendesk_comment_added.json") | {"event": {}})


def test_a_payload_with_a_lone_surrogate_is_unprocessable() -> None:
    body = raw("zendesk_ticket_created.json").replace(b"Outlook keeps crashing", b"Outlook \\ud800 crashing")
    with pytest.raises(Unprocessable, match="invalid Unicode"):
        PARSERS["zendesk"](body, {})


# --- mapping: ids, requester, team ------------------------------------------------------------


async def event_of(system: str, name: str, *, asked: bool = False, lookup: Any = None, config: DeskConfig = CONFIG, **changes: Any) -> Any:
    inbound = parse(system, payload(name), {"X-Atlassian-Webhook-Identifier": "d"}).model_copy(update=changes)
    return await to_event(inbound, config, now=NOW, asked=asked, lookup=lookup)


async def test_a_new_jira_ticket_becomes_ticket_created_for_its_team_with_its_upstream_reference() -> None:
    event = await event_of("jira", "jira_issue_created.json")
    assert isinstance(event, TicketCreated)
    assert (event.team, event.subject, event.correlation_id, event.upstream) == ("it-support", "IT-42", "IT-42", "jira:10042")
    assert (event.source, str(event.actor)) == ("/upstream/jira", "system:jira")
    assert event.id == derived_event_id("jira:10042", "ticket.created")
    assert (event.data.requester.id, event.data.requester.email, event.data.requester.name) == ("ana.silva", "ana.silva@acme.example", "Ana Silva")
    assert event.data.title == "VPN drops every few minutes"


async def test_redeliveries_of_the_same_creation_publish_the_same_event_id_whatever_the_delivery_id() -> None:
    first = parse("jira", raw("jira_issue_created.json"), {"X-Atlassian-Webhook-Identifier": "a"})
    again = parse("jira", raw("jira_issue_created.json"), {"X-Atlassian-Webhook-Identifier": "b"})
    ids = {(await to_event(i, CONFIG, now=NOW)).id for i in (first, again)}
    assert len(ids) == 1


async def test_a_requesters_comment_on_a_ticket_that_asked_becomes_an_answer_triage_accepts() -> None:
    event = await event_of("zendesk", "zendesk_comment_added.json", asked=True)
    assert isinstance(event, TicketAnswered)
    assert event.id == derived_event_id("zendesk:35436", "ticket.answered", "40001")
    assert (event.actor.kind, event.actor.id, event.data.ticket_id) == (ActorKind.human, "ana.silva", "ZD-35436")
    assert event.data.text.startswith("It is Outlook 16.0.17928")
    created = await event_of("zendesk", "zendesk_ticket_created.json")
    assert not_the_requester(event, created.data.requester) is None


async def test_two_comments_on_one_ticket_are_two_answers() -> None:
    one = await event_of("jira", "jira_comment_created.json", asked=True)
    inbound = parse("jira", raw("jira_comment_created.json"))
    other = await to_event(inbound.model_copy(update={"comment": inbound.comment.model_copy(update={"id": "10101"})}), CONFIG, now=NOW, asked=True)  # type: ignore[union-attr]
    assert one.id != other.id


async def test_a_comment_by_our_integration_user_is_our_own_write_back_and_skipped() -> None:
    inbound = parse("servicenow", payload("servicenow_incident_comment.json") | {"sys_updated_by": "workforce-desk", "updated_by_email": ""})
    skip = await to_event(inbound, CONFIG, now=NOW, asked=True)
    assert isinstance(skip, Skip) and "our own" in skip.reason


async def test_an_internal_comment_is_skipped() -> None:
    data = payload("zendesk_comment_added.json")
    data["event"]["comment"]["is_public"] = False
    skip = await to_event(parse("zendesk", data), CONFIG, now=NOW, asked=True)
    assert isinstance(skip, Skip) and "internal" in skip.reason


async def test_an_agents_comment_is_not_an_answer() -> None:
    data = payload("zendesk_comment_added.json")
    data["event"]["comment"]["author"] = {"id": 777, "is_staff": True, "name": "Agent"}
    assert isinstance(await to_event(parse("zendesk", data), CONFIG, now=NOW, asked=True), Skip)


async def test_a_comment_on_a_ticket_with_no_question_waiting_is_skipped() -> None:
    skip = await event_of("jira", "jira_comment_created.json", asked=False)
    assert isinstance(skip, Skip) and skip.reason == "no question is waiting on IT-42"


async def test_an_event_type_we_do_not_take_in_is_skipped() -> None:
    inbound = parse("jira", payload("jira_issue_created.json") | {"webhookEvent": "worklog_created"})
    assert isinstance(await to_event(inbound, CONFIG, now=NOW), Skip)


async def test_a_requester_without_email_is_found_through_the_configured_user_map() -> None:
    event = await event_of("zendesk", "zendesk_ticket_created.json")
    assert event.data.requester.email == "ana.silva@acme.example"


async def test_a_requester_unknown_to_the_map_is_looked_up() -> None:
    asked: list[tuple[str, str]] = []

    async def lookup(system: str, user_id: str) -> str | None:
        asked.append((system, user_id))
        return "linda.brown@acme.example"

    config = CONFIG.model_copy(update={"users": {}})
    event = await event_of("zendesk", "zendesk_ticket_created.json", lookup=lookup, config=config)
    assert asked == [("zendesk", "20978392")] and event.data.requester.id == "linda.brown"


async def test_a_requester_nobody_knows_is_unmappable() -> None:
    async def lookup(system: str, user_id: str) -> str | None:
        return None

    with pytest.raises(Unmappable, match=r"the requester \(zendesk user 20978392\) has no email"):
        await event_of("zendesk", "zendesk_ticket_created.json", lookup=lookup, config=CONFIG.model_copy(update={"users": {}}))


async def test_a_requester_outside_our_directory_is_refused() -> None:
    data = payload("servicenow_incident_insert.json") | {"caller_email": "mallory@evil.example"}
    with pytest.raises(Unmappable, match="outside our directory"):
        await to_event(parse("servicenow", data), CONFIG, now=NOW)


async def test_the_first_matching_team_rule_wins_and_tags_match_any_label() -> None:
    assert (await event_of("jira", "jira_issue_created.json", labels=["HR", "vpn"])).team == "hr"
    assert (await event_of("jira", "jira_issue_created.json")).team == "it-support"


async def test_team_rules_match_assignment_group_and_brand_case_insensitively() -> None:
    assert (await event_of("servicenow", "servicenow_incident_insert.json", assignment_group="HR Service Desk")).team == "hr"
    assert (await event_of("zendesk", "zendesk_ticket_created.json", brand="360002")).team == "hr"
    assert (await event_of("zendesk", "zendesk_ticket_created.json")).team == "general"


async def test_no_matching_rule_and_no_default_team_is_unmappable() -> None:
    config = CONFIG.model_copy(update={"default_team": None})
    with pytest.raises(Unmappable, match="no team rule matches servicenow ticket INC0010001"):
        await event_of("servicenow", "servicenow_incident_insert.json", config=config)


async def test_ticket_text_is_cut_to_the_contract_limits_and_loses_its_nul_characters() -> None:
    event = await event_of("jira", "jira_issue_created.json", title="x" * 600, description="a\x00b" + "c" * 30_000)
    assert len(event.data.title) == 500
    assert event.data.description.startswith("abc") and len(event.data.description) == 20_000


async def test_a_ticket_without_a_title_takes_the_first_line_of_its_description() -> None:
    event = await event_of("zendesk", "zendesk_ticket_created.json", title="")
    assert event.data.title == "Since the update my Outlook closes itself when I open the calendar."


async def test_the_zendesk_channel_comes_from_via() -> None:
    data = payload("zendesk_ticket_created.json")
    data["detail"]["via"] = {"channel": "email"}
    assert (await to_event(parse("zendesk", data), CONFIG, now=NOW)).data.channel == "email"
