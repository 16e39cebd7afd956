"""Our question, resolution, escalation and split on the requester's own ticket, in the simulator's
Jira, ServiceNow and Zendesk, read back through each vendor's own API the way an agent's screen
would show them: once each, however often the write-back is retried or interrupted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts.events import TicketWriteBackFailed, TicketWrittenBack
from services.desk.config import DeskConfig
from services.desk.writeback.clients import Clients
from runtime.vendor.adf import to_text as text_of
from services.desk.writeback.notes import marker
from services.desk.writeback.plan import UpstreamTicket
from services.desk.writeback.run import WriteBacks
from tests.unit.desk.test_writeback_plan import created, escalated_event, question_event, resolved_event, split_event

SN_USER, ZD_AGENT, JIRA_USER = "workforce.integration", "atom-bot@acme.example", "atom-bot@acme.example"
JIRA_SCOPES = ["issues.read", "issues.create", "issues.link", "issues.comment", "issues.edit", "issues.transition", "issues.assign"]
SN_GROUP = "8a5055c9c61122780043563ef53438e3"
SYSTEMS = ("servicenow", "zendesk", "jira")


def config(base: str, *, zendesk_group: int | None = None, jira_assignee: str | None = None) -> DeskConfig:
    """The desk wired to the simulator at ``base``, its credentials in *_API_TOKEN."""

    def system(name: str, user: str) -> dict[str, Any]:
        return {"webhook": {"secret_env": f"{name.upper()}_WEBHOOK_SECRET"}, "api": {"url": f"{base}/{name}", "user": user, "token_env": f"{name.upper()}_API_TOKEN"}}

    return DeskConfig.model_validate({
        "systems": {"jira": system("jira", JIRA_USER), "servicenow": system("servicenow", SN_USER), "zendesk": system("zendesk", ZD_AGENT)},
        "escalation_groups": {"it-desk": {"servicenow_group": SN_GROUP, "zendesk_group_id": zendesk_group, "jira_assignee": jira_assignee, "jira_label": "it-desk"}},
    })



@dataclass
class Desk:
    """The simulator's three desks as their administrator and agents see them, and our write-back."""

    simulator: Any
    pool: Any
    http: httpx.AsyncClient
    env: dict[str, str]
    config: DeskConfig

    def writebacks(self, **overrides: Any) -> WriteBacks:
        config = overrides.pop("config", self.config)
        env = overrides.pop("env", self.env)
        return WriteBacks(self.pool, Clients(config, self.http, env=env), config, backoff_s=0.05, cap_s=3.0, **overrides)

    def vendor(self, system: str) -> httpx.AsyncClient:
        """The vendor's API as an agent's own client reaches it (not ours)."""
        auth = {"jira": (JIRA_USER, self.env["JIRA_API_TOKEN"]), "servicenow": (SN_USER, self.env["SERVICENOW_API_TOKEN"]),
                "zendesk": (f"{ZD_AGENT}/token", self.env["ZENDESK_API_TOKEN"])}[system]
        return httpx.AsyncClient(base_url=f"{self.simulator.url}/{system}", auth=auth, timeout=30, headers={"Accept": "application/json"})

    async def open_ticket(self, system: str, title: str = "VPN drops every hour") -> UpstreamTicket:
        async with self.vendor(system) as api:
            if system == "servicenow":
                made = await api.post("/api/now/table/incident", json={"short_description": title, "description": "Since Monday."})
                assert made.status_code == 201, made.text
                incident = made.json()["result"]
                return UpstreamTicket("servicenow", incident["sys_id"], incident["number"])
            if system == "zendesk":
                made = await api.post("/api/v2/tickets.json", json={"ticket": {"subject": title, "comment": {"body": "Since Monday."}, "requester": {"email": "priya.raman@acme.example"}}})
                assert made.status_code == 201, made.text
                ticket = made.json()["ticket"]
                return UpstreamTicket("zendesk", str(ticket["id"]), str(ticket["id"]), requester_id=str(ticket["requester_id"]))
            made = await api.post("/rest/api/3/issue", json={"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": title,
                                                                         "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Since Monday."}]}]}}})
            assert made.status_code == 201, made.text
            return UpstreamTicket("jira", made.json()["id"], made.json()["key"], project="IT")

    async def comments(self, ticket: UpstreamTicket) -> list[tuple[str, bool | None]]:
        """The ticket's comments as (text, public), oldest first (Jira: JSM's ``jsdPublic``)."""
        async with self.vendor(ticket.system) as api:
            if ticket.system == "servicenow":
                found = await api.get("/api/now/table/sys_journal_field", params={"sysparm_query": f"element_id={ticket.native_id}^ORDERBYsys_created_on"})
                return [(e["value"], e["element"] == "comments") for e in found.json()["result"]]
            if ticket.system == "zendesk":
                found = await api.get(f"/api/v2/tickets/{ticket.native_id}/comments.json")
                return [(c["body"], c["public"]) for c in found.json()["comments"][1:]]  # the first is the description
            found = await api.get(f"/rest/api/3/issue/{ticket.key}/comment")
            return [(text_of(c["body"]), c.get("jsdPublic")) for c in found.json()["comments"]]

    async def record(self, ticket: UpstreamTicket) -> dict[str, Any]:
        async with self.vendor(ticket.system) as api:
            if ticket.system == "servicenow":
                return (await api.get(f"/api/now/table/incident/{ticket.native_id}", params={"sysparm_exclude_reference_link": "true"})).json()["result"]
            if ticket.system == "zendesk":
                return (await api.get(f"/api/v2/tickets/{ticket.native_id}.json")).json()["ticket"]
            return (await api.get(f"/rest/api/3/issue/{ticket.key}")).json()

    async def children(self, ticket: UpstreamTicket) -> list[str]:
        """The tickets split from ``ticket``, as the vendor links them: ServiceNow's child incidents
        (``parent_incident``), Jira's "Relates" links, Zendesk's other tickets naming it."""
        async with self.vendor(ticket.system) as api:
            if ticket.system == "servicenow":
                found = await api.get("/api/now/table/incident", params={"sysparm_query": f"parent_incident={ticket.native_id}"})
                return sorted(c["short_description"] for c in found.json()["result"])
            if ticket.system == "zendesk":
                found = (await api.get("/api/v2/tickets.json")).json()["tickets"]
                return sorted(t["subject"] for t in found if f"Split from Zendesk ticket #{ticket.key}" in t["description"])
            links = (await api.get(f"/rest/api/3/issue/{ticket.key}")).json()["fields"]["issuelinks"]
            keys = [link.get("inwardIssue", link.get("outwardIssue"))["key"] for link in links if link["type"]["name"] == "Relates"]
            return sorted([(await api.get(f"/rest/api/3/issue/{key}")).json()["fields"]["summary"] for key in keys])


@pytest.fixture
async def desk(simulator: Any, service_database: Any) -> Any:
    database = await service_database("desk")
    env = {"SERVICENOW_API_TOKEN": await simulator.token("servicenow", SN_USER, []), "ZENDESK_API_TOKEN": await simulator.token("zendesk", "atom", []),
           "JIRA_API_TOKEN": await simulator.token("jira", "atom", JIRA_SCOPES)}
    async with httpx.AsyncClient(timeout=30) as http:
        desk = Desk(simulator, database.pool, http, env, config(simulator.url))
        async with desk.vendor("jira") as jira:  # the human desk's agent, as the administrator would look them up
            [agent] = (await jira.get("/rest/api/3/user/search", params={"query": "acme.example", "maxResults": 1})).json()[:1]
        desk.config = config(simulator.url, zendesk_group=360001, jira_assignee=agent["accountId"])
        yield desk


def ours(ticket: UpstreamTicket) -> Any:
    return created(ticket.ref, ticket_id=f"T-{ticket.system}-{ticket.native_id[:12]}")


@pytest.mark.parametrize("system", SYSTEMS)
async def test_a_question_is_a_public_comment_the_requester_sees(desk: Desk, system: str) -> None:
    ticket = await desk.open_ticket(system)
    event = question_event(ours(ticket))
    result = await desk.writebacks().write(event, ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    assert result.id != event.id and result.causation_id == event.id and result.upstream == ticket.ref
    [(text, public)] = await desk.comments(ticket)
    assert text.startswith("Which laptop are you on") and text.endswith(marker(event.id))
    assert public is True
    assert result.data.actions[0].startswith("public comment on ")


async def test_a_resolution_on_servicenow_is_a_comment_and_state_6_with_its_close_code_and_notes(desk: Desk) -> None:
    ticket = await desk.open_ticket("servicenow")
    event = resolved_event(ours(ticket))
    result = await desk.writebacks().write(event, ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    incident = await desk.record(ticket)
    assert (incident["state"], incident["close_code"], incident["close_notes"]) == ("6", "Solved (Permanently)", "Reset your VPN profile; the drops stopped.")
    assert [(t.split("\n")[0], p) for t, p in await desk.comments(ticket)] == [("Resolved: Reset your VPN profile; the drops stopped.", True)]


async def test_a_resolution_on_zendesk_is_a_public_comment_and_status_solved(desk: Desk) -> None:
    ticket = await desk.open_ticket("zendesk")
    result = await desk.writebacks().write(resolved_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    assert (await desk.record(ticket))["status"] == "solved"
    assert [p for _, p in await desk.comments(ticket)] == [True]
    assert result.data.actions[1] == f"resolved Zendesk ticket #{ticket.key}: status solved"


async def test_a_resolution_on_jira_is_a_comment_and_the_done_transition(desk: Desk) -> None:
    ticket = await desk.open_ticket("jira")
    result = await desk.writebacks().write(resolved_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    status = (await desk.record(ticket))["fields"]["status"]
    assert (status["name"], status["statusCategory"]["key"]) == ("Done", "done")
    assert [p for _, p in await desk.comments(ticket)] == [True]
    assert result.data.actions[1].startswith(f"resolved {ticket}: transition Done")


async def test_a_resolution_on_a_jira_workflow_without_done_takes_its_transition_to_a_done_status(desk: Desk) -> None:
    async with desk.vendor("jira") as api:
        made = await api.post("/rest/api/3/issue", json={"fields": {"project": {"key": "INC"}, "issuetype": {"name": "Incident"}, "summary": "VPN down",
                                                                     "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Since Monday."}]}]}}})
        assert made.status_code == 201, made.text
    ticket = UpstreamTicket("jira", made.json()["id"], made.json()["key"], project="INC", issue_type="Incident")
    result = await desk.writebacks().write(resolved_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    status = (await desk.record(ticket))["fields"]["status"]
    assert status["statusCategory"]["key"] == "done" and status["name"] in ("Resolved", "Closed"), status


async def test_an_escalation_is_an_internal_handoff_note_and_a_reassignment_on_servicenow_and_zendesk(desk: Desk) -> None:
    for system, check in (("servicenow", lambda r: r["assignment_group"] == SN_GROUP), ("zendesk", lambda r: r["group_id"] == 360001)):
        ticket = await desk.open_ticket(system)
        result = await desk.writebacks().write(escalated_event(ours(ticket)), ticket)
        assert isinstance(result, TicketWrittenBack), result.data
        [(note, public)] = await desk.comments(ticket)
        assert public is False
        assert "What was tried\n- okta users.read: succeeded" in note and "What to do first\nUnlock the VPN account" in note
        assert check(await desk.record(ticket)), system
        assert result.data.actions[1].startswith(f"reassigned {ticket} to ") and result.data.actions[1].endswith((SN_GROUP, "group 360001"))


async def test_an_escalation_on_jira_is_an_internal_note_with_the_assignee_and_label(desk: Desk) -> None:
    ticket = await desk.open_ticket("jira")
    result = await desk.writebacks().write(escalated_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    [(note, public)] = await desk.comments(ticket)
    group = desk.config.escalation_group("it-desk")
    assert public is False and f"Reassigned to assignee {group.jira_assignee} and label it-desk." in note
    fields = (await desk.record(ticket))["fields"]
    assert "it-desk" in fields["labels"] and fields["assignee"]["accountId"] == group.jira_assignee


async def test_a_split_on_servicenow_makes_child_incidents_of_the_parent(desk: Desk) -> None:
    ticket = await desk.open_ticket("servicenow", "Password and a monitor")
    result = await desk.writebacks().write(split_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    async with desk.vendor("servicenow") as api:
        children = (await api.get("/api/now/table/incident", params={"sysparm_query": f"parent_incident={ticket.native_id}", "sysparm_exclude_reference_link": "true"})).json()["result"]
    assert sorted(c["short_description"] for c in children) == ["Order a second monitor", "Reset my password"]
    [(note, public)] = await desk.comments(ticket)
    assert public is False and all(c["number"] in note for c in children)


async def test_a_split_on_zendesk_makes_tickets_for_the_same_requester_that_name_the_parent(desk: Desk) -> None:
    ticket = await desk.open_ticket("zendesk", "Password and a monitor")
    result = await desk.writebacks().write(split_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    async with desk.vendor("zendesk") as api:
        tickets = (await api.get("/api/v2/tickets.json")).json()["tickets"]
    children = [t for t in tickets if t["id"] != int(ticket.native_id)]
    assert sorted(t["subject"] for t in children) == ["Order a second monitor", "Reset my password"]
    assert all(t["requester_id"] == int(ticket.requester_id) and f"Split from Zendesk ticket #{ticket.key}" in t["description"] for t in children)
    [(note, _)] = await desk.comments(ticket)
    assert all(f"#{t['id']}" in note for t in children)


async def test_a_split_on_jira_makes_issues_related_to_the_parent(desk: Desk) -> None:
    ticket = await desk.open_ticket("jira", "Password and a monitor")
    event = split_event(ours(ticket))
    writebacks = desk.writebacks()
    result = await writebacks.write(event, ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    links = (await desk.record(ticket))["fields"]["issuelinks"]
    keys = sorted(link.get("inwardIssue", link.get("outwardIssue"))["key"] for link in links)
    assert len(keys) == 2 and all(link["type"]["name"] == "Relates" for link in links)
    [(note, _)] = await desk.comments(ticket)
    assert all(key in note for key in keys)
    # The parts are known by the issue id their own webhooks will carry, and by their key.
    parts = await writebacks.children(event.id, ticket)
    assert sorted(p.key for p in parts) == keys
    for part in parts:
        assert (await desk.record(part))["id"] == part.native_id and part.project == "IT"


@pytest.mark.parametrize("system", SYSTEMS)
async def test_the_same_event_written_twice_posts_one_comment(desk: Desk, system: str) -> None:
    ticket = await desk.open_ticket(system)
    event = question_event(ours(ticket))
    first = await desk.writebacks().write(event, ticket)
    again = await desk.writebacks().write(event, ticket)
    assert again == first
    assert len(await desk.comments(ticket)) == 1


class CrashAfterTheVendorAnswered(WriteBacks):
    """Dies after the vendor made the comment and before the outcome was recorded."""

    async def _record_done(self, event_id: str, index: int, ref: str, action: str, tries: int) -> None:
        raise SystemExit("crashed before recording the outcome")


@pytest.mark.parametrize("system", SYSTEMS)
async def test_a_write_back_interrupted_after_the_vendor_answered_posts_one_comment_when_run_again(desk: Desk, system: str) -> None:
    ticket = await desk.open_ticket(system)
    event = question_event(ours(ticket))
    crashing = CrashAfterTheVendorAnswered(desk.pool, Clients(desk.config, desk.http, env=desk.env), desk.config)
    with pytest.raises(SystemExit):
        await crashing.write(event, ticket)
    assert len(await desk.comments(ticket)) == 1
    assert await desk.pool.fetchval("SELECT state FROM writeback_ops WHERE event_id = $1", event.id) == "intent"
    result = await desk.writebacks().write(event, ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    assert len(await desk.comments(ticket)) == 1
    assert "(found, made by an earlier try)" in result.data.actions[0]


@pytest.mark.parametrize("system", SYSTEMS)
async def test_an_interrupted_split_makes_each_child_once(desk: Desk, system: str) -> None:
    ticket = await desk.open_ticket(system, "Password and a monitor")
    event = split_event(ours(ticket))
    with pytest.raises(SystemExit):
        await CrashAfterTheVendorAnswered(desk.pool, Clients(desk.config, desk.http, env=desk.env), desk.config).write(event, ticket)
    assert await desk.children(ticket) == ["Reset my password"]
    result = await desk.writebacks().write(event, ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    assert await desk.children(ticket) == ["Order a second monitor", "Reset my password"]
    assert len(await desk.comments(ticket)) == 1


async def test_a_rate_limit_with_retry_after_is_waited_out_then_the_comment_is_posted(desk: Desk) -> None:
    ticket = await desk.open_ticket("zendesk")
    await desk.simulator.hook("faults", system="zendesk", status=429, times=1, retry_after=1, method="PUT")
    result = await desk.writebacks().write(question_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWrittenBack), result.data
    assert result.data.attempts == 2
    assert len(await desk.comments(ticket)) == 1


async def test_retries_run_out_into_a_visible_failure(desk: Desk) -> None:
    ticket = await desk.open_ticket("servicenow")
    await desk.simulator.hook("faults", system="servicenow", status=503, times=3, method="PATCH")
    result = await desk.writebacks(attempts=3).write(question_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWriteBackFailed)
    assert (result.data.reason_code, result.data.attempts, result.data.done) == ("unreachable", 3, [])


async def test_a_ticket_that_does_not_exist_fails_visibly_as_not_found(desk: Desk) -> None:
    ticket = UpstreamTicket("zendesk", "999999", "999999")
    result = await desk.writebacks().write(question_event(created(ticket.ref)), ticket)
    assert isinstance(result, TicketWriteBackFailed)
    assert result.data.reason_code == "not_found" and result.data.reason.startswith("Zendesk ticket #999999: 404")
    assert result.upstream == "zendesk:999999" and result.causation_id is not None


async def test_a_refusal_fails_visibly_and_says_what_was_already_done(desk: Desk) -> None:
    ticket = await desk.open_ticket("jira")
    reader = await desk.simulator.token("jira", "atom", ["issues.read"])
    result = await desk.writebacks(env={**desk.env, "JIRA_API_TOKEN": reader}).write(question_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWriteBackFailed)
    assert result.data.reason_code == "refused" and "403" in result.data.reason and "issues.comment" in result.data.reason
    assert await desk.comments(ticket) == []


async def test_a_data_policy_refusal_after_the_comment_names_the_comment_as_done(desk: Desk) -> None:
    ticket = await desk.open_ticket("servicenow")
    bad = desk.config.model_copy(update={"systems": {**desk.config.systems, "servicenow": desk.config.systems["servicenow"].model_copy(
        update={"resolve": desk.config.systems["servicenow"].resolve.model_copy(update={"servicenow_close_code": ""})})}})
    result = await desk.writebacks(config=bad).write(resolved_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWriteBackFailed)
    assert result.data.reason_code == "refused" and "Data Policy Exception" in result.data.reason
    assert result.data.done and result.data.done[0].startswith("public comment on ServiceNow incident")


async def test_a_missing_credential_fails_visibly_as_not_configured(desk: Desk) -> None:
    ticket = await desk.open_ticket("zendesk")
    result = await desk.writebacks(env={}).write(question_event(ours(ticket)), ticket)
    assert isinstance(result, TicketWriteBackFailed)
    assert result.data.reason_code == "not_configured" and "ZENDESK_API_TOKEN is not set" in result.data.reason


async def test_zendesk_user_email_is_read_for_the_intake(desk: Desk) -> None:
    ticket = await desk.open_ticket("zendesk")
    assert await Clients(desk.config, desk.http, env=desk.env).zendesk().user_email(ticket.requester_id) == "priya.raman@acme.example"
