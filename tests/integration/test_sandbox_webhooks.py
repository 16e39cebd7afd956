"""The simulated Jira, ServiceNow and Zendesk send their webhooks as the vendors do: to a receiver
registered through the administration API, after the change committed, in the vendor's payload
shape, signed the vendor's way (checked here with ``hmac`` directly, not with the simulator's code),
retried after a 500 under the same delivery id, every attempt recorded; a receiver that is down
neither slows nor fails the API call; a subscription survives a restart of the simulator."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from deploy.sandbox import server
from deploy.sandbox.running import Running, running

SECRET = "whsec-4f1c2a"  # what the administrator typed into the vendor's webhook form
REQUESTER = "priya.raman@acme.example"
AGENT = "atom-bot@acme.example"
CALLER = "priya.sharma@acme.example"  # one of the organisation's people: ServiceNow's sys_user has her name


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries a fraction of a second apart (a vendor waits minutes), three tries in all."""
    monkeypatch.setenv("SANDBOX_WEBHOOK_BACKOFF_S", "0.2")
    monkeypatch.setenv("SANDBOX_WEBHOOK_POLL_S", "0.1")
    monkeypatch.setenv("SANDBOX_WEBHOOK_ATTEMPTS", "3")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint on a loopback port: records every request; ``fail[path]`` answers that many 500s first."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, {k.lower(): v for k, v in request.headers.items()}, await request.read()))
        if self.fail.get(request.path, 0) > 0:
            self.fail[request.path] -= 1
            return web.Response(status=500, text="receiver is having a bad day")
        return web.Response(status=200)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


async def subscribe(simulator: Running, system: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    async with simulator.admin as admin:
        made = await admin.post("/webhooks", json={"system": system, "url": url, "secret": SECRET, **({"events": events} if events else {})})
        assert made.status_code == 201, made.text
        return made.json()


async def deliveries(simulator: Running, system: str) -> list[dict[str, Any]]:
    async with simulator.admin as admin:
        return (await admin.get("/webhooks/deliveries", params={"system": system})).json()


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()`` (a value or an awaitable) once it is truthy, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {value!r}")
        await asyncio.sleep(0.05)


async def settled(simulator: Running, system: str, count: int) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        found = await deliveries(simulator, system)
        return found if len(found) >= count and all(d["status"] != "pending" for d in found) else None

    return await eventually(done)


def hub_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


# -- Jira -----------------------------------------------------------------------------------------


async def test_jira_sends_issue_created_and_comment_created_signed_with_x_hub_signature_and_retries_a_500(simulator: Running, receiver: Receiver) -> None:
    await subscribe(simulator, "jira", f"{receiver.url}/jira", ["jira:issue_created", "comment_created"])
    receiver.fail["/jira"] = 1  # the first delivery is answered 500, then accepted
    token = await simulator.token("jira", REQUESTER, ["issues.read", "issues.create", "issues.comment"])
    description = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "It says my password expired."}]}]}
    async with httpx.AsyncClient(base_url=simulator.urls()["jira"], auth=(REQUESTER, token), timeout=10) as jira:
        created = await jira.post("/rest/api/3/issue", json={"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": "Cannot sign in",
                                                                        "description": description, "priority": {"name": "High"}, "labels": ["access"]}})
        assert created.status_code == 201
        issue = created.json()
        shown = (await jira.get(f"/rest/api/3/issue/{issue['key']}")).json()
        await eventually(lambda: len(receiver.at("/jira")) >= 2)  # the 500, then the retry
        comment = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Still locked out."}]}]}
        assert (await jira.post(f"/rest/api/3/issue/{issue['id']}/comment", json={"body": comment})).status_code == 201

    sent = await settled(simulator, "jira", 2)
    assert [(d["event"], d["status"], d["attempts"]) for d in sent] == [("jira:issue_created", "delivered", 2), ("comment_created", "delivered", 1)]
    assert [t["status"] for t in sent[0]["tries"]] == [500, 200]

    first, retry, commented = receiver.at("/jira")
    for request in (first, retry, commented):
        assert hmac.compare_digest(request.headers["x-hub-signature"], hub_signature(request.body))
    assert first.body == retry.body and first.headers["x-atlassian-webhook-identifier"] == retry.headers["x-atlassian-webhook-identifier"]
    assert "x-atlassian-webhook-retry" not in first.headers and retry.headers["x-atlassian-webhook-retry"] == "1"
    assert commented.headers["x-atlassian-webhook-identifier"] != first.headers["x-atlassian-webhook-identifier"]

    payload = first.json
    assert (payload["webhookEvent"], payload["issue_event_type_name"]) == ("jira:issue_created", "issue_created")
    assert isinstance(payload["timestamp"], int) and payload["user"]["emailAddress"] == REQUESTER
    assert payload["issue"] == shown  # the issue as GET returned it then
    fields = payload["issue"]["fields"]
    assert (fields["summary"], fields["description"], fields["priority"]["name"], fields["labels"]) == ("Cannot sign in", description, "High", ["access"])
    assert fields["reporter"]["emailAddress"] == REQUESTER and fields["reporter"]["accountId"]
    assert (fields["project"]["key"], fields["status"]["name"]) == ("IT", "To Do")

    payload = commented.json
    assert payload["webhookEvent"] == "comment_created" and isinstance(payload["timestamp"], int)
    assert payload["comment"]["body"] == comment and payload["comment"]["author"]["emailAddress"] == REQUESTER and payload["comment"]["jsdPublic"] is True
    assert payload["comment"]["created"]
    assert (payload["issue"]["id"], payload["issue"]["key"], payload["issue"]["fields"]["summary"]) == (issue["id"], issue["key"], "Cannot sign in")


async def test_jira_sends_issue_updated_with_the_changelog_of_a_transition_and_an_assignment(simulator: Running, receiver: Receiver) -> None:
    await subscribe(simulator, "jira", f"{receiver.url}/updates", ["jira:issue_updated"])
    token = await simulator.token("jira", AGENT, ["issues.read", "issues.create", "issues.comment", "issues.transition", "issues.assign"])
    async with httpx.AsyncClient(base_url=simulator.urls()["jira"], auth=(AGENT, token), timeout=10) as jira:
        issue = (await jira.post("/rest/api/3/issue", json={"fields": {"project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": "Badge reader"}})).json()
        await jira.post(f"/rest/api/3/issue/{issue['id']}/comment", json={"body": {"type": "doc", "version": 1, "content": []}})  # refused: empty, nothing sent
        assert (await jira.post(f"/rest/api/3/issue/{issue['id']}/transitions", json={"transition": {"id": "31"}})).status_code == 204
        [person] = (await jira.get("/rest/api/3/user/search", params={"query": REQUESTER})).json()
        assert (await jira.put(f"/rest/api/3/issue/{issue['id']}", json={"fields": {"assignee": {"accountId": person["accountId"]}}})).status_code == 204
    await settled(simulator, "jira", 2)
    moved, assigned = receiver.at("/updates")
    assert all(hmac.compare_digest(r.headers["x-hub-signature"], hub_signature(r.body)) for r in (moved, assigned))
    assert moved.json["webhookEvent"] == "jira:issue_updated" and moved.json["issue"]["fields"]["status"]["name"] == "Done"
    assert [(i["field"], i["fromString"], i["toString"]) for i in moved.json["changelog"]["items"]] == [("status", "To Do", "Done")]
    assert [(i["field"], i["toString"]) for i in assigned.json["changelog"]["items"]] == [("assignee", REQUESTER)]
    assert assigned.json["issue"]["fields"]["assignee"]["accountId"] == person["accountId"]


# -- ServiceNow -----------------------------------------------------------------------------------


async def test_servicenow_sends_its_business_rule_body_on_insert_and_on_update_signed_and_keyed_by_mod_count(simulator: Running, receiver: Receiver) -> None:
    await subscribe(simulator, "servicenow", f"{receiver.url}/servicenow")
    incidents = server.urls(simulator.url, server.UPSTREAM)["servicenow"] + "/api/now/table/incident"
    requester, agent = await simulator.token("servicenow", CALLER, []), await simulator.token("servicenow", "workforce.integration", [])
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(incidents, auth=(CALLER, requester), json={
            "short_description": "VPN drops every hour", "description": "Since the update.", "urgency": "2", "impact": "2", "category": "network",
            "assignment_group": "8a5055c9c61122780043563ef53438e3", "caller_id": CALLER})
        assert created.status_code == 201
        sys_id = created.json()["result"]["sys_id"]
        await http.patch(f"{incidents}/{sys_id}", auth=("workforce.integration", agent), json={"work_notes": "Looking at the tunnel logs."})
        await http.patch(f"{incidents}/{sys_id}", auth=(CALLER, requester), json={"comments": "It happened again at 10:02."})

    sent = await settled(simulator, "servicenow", 3)
    assert [(d["event"], d["status"]) for d in sent] == [("insert", "delivered"), ("update", "delivered"), ("update", "delivered")]
    inserted, noted, commented = receiver.at("/servicenow")
    for request, count in ((inserted, "0"), (noted, "1"), (commented, "2")):
        assert hmac.compare_digest(request.headers["x-workforce-signature"], hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest())
        assert request.headers["x-workforce-delivery"] == f"{sys_id}:{count}"
    # the fields, in the order, of the business rule the administrator installs (deploy/desk/servicenow_business_rule.js)
    assert list(inserted.json) == ["operation", "table", "sys_id", "number", "short_description", "description", "caller_id", "caller_email", "caller_name",
                                   "urgency", "impact", "priority", "category", "assignment_group", "state", "contact_type", "comments", "sys_updated_by",
                                   "updated_by_email", "sys_mod_count", "sys_created_on"]
    assert inserted.json == {
        "operation": "insert", "table": "incident", "sys_id": sys_id, "number": "INC0010001", "short_description": "VPN drops every hour",
        "description": "Since the update.", "caller_id": CALLER, "caller_email": CALLER, "caller_name": "Priya Sharma", "urgency": "2", "impact": "2", "priority": "3",
        "category": "network", "assignment_group": "8a5055c9c61122780043563ef53438e3", "state": "1", "contact_type": "phone", "comments": "",
        "sys_updated_by": CALLER, "updated_by_email": CALLER, "sys_mod_count": "0", "sys_created_on": created.json()["result"]["sys_created_on"]}
    assert (noted.json["operation"], noted.json["comments"], noted.json["sys_updated_by"]) == ("update", "", "workforce.integration")
    assert (commented.json["comments"], commented.json["sys_updated_by"], commented.json["sys_mod_count"]) == ("It happened again at 10:02.", CALLER, "2")


# -- Zendesk --------------------------------------------------------------------------------------


async def test_zendesk_sends_ticket_created_and_comment_added_signed_over_timestamp_and_body(simulator: Running, receiver: Receiver) -> None:
    hook = await subscribe(simulator, "zendesk", f"{receiver.url}/zendesk", ["zen:event-type:ticket.created", "zen:event-type:ticket.comment_added"])
    token = await simulator.token("zendesk", "atom", [])
    base = server.urls(simulator.url, server.UPSTREAM)["zendesk"]
    async with httpx.AsyncClient(base_url=base, auth=(f"{AGENT}/token", token), timeout=10) as zendesk:
        created = await zendesk.post("/api/v2/tickets.json", json={"ticket": {
            "subject": "Printer on floor 2 jams", "comment": {"body": "Every second page."}, "priority": "high", "tags": ["printing"],
            "requester": {"name": "Priya Raman", "email": REQUESTER}}})
        ticket = created.json()["ticket"]
        await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"comment": {"body": "Tried another tray, same.", "author_id": ticket["requester_id"]}}})
        await zendesk.put(f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})  # not subscribed to: nothing sent

    sent = await settled(simulator, "zendesk", 2)
    assert [(d["event"], d["status"]) for d in sent] == [("zen:event-type:ticket.created", "delivered"), ("zen:event-type:ticket.comment_added", "delivered")]
    opened, commented = receiver.at("/zendesk")
    for request in (opened, commented):
        stamp = request.headers["x-zendesk-webhook-signature-timestamp"]
        expected = base64.b64encode(hmac.new(SECRET.encode(), stamp.encode() + request.body, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(request.headers["x-zendesk-webhook-signature"], expected)
        assert request.headers["x-zendesk-webhook-id"] and str(hook["id"]) in request.headers["x-zendesk-webhook-id"]
    event = opened.json
    assert (event["type"], event["zendesk_event_version"], event["subject"]) == ("zen:event-type:ticket.created", "2022-11-06", f"zen:ticket:{ticket['id']}")
    assert isinstance(event["account_id"], int) and event["id"] and event["time"].endswith("Z")
    detail = event["detail"]
    assert (detail["id"], detail["subject"], detail["description"], detail["requester_id"]) == (str(ticket["id"]), "Printer on floor 2 jams", "Every second page.", str(ticket["requester_id"]))
    assert (detail["priority"], detail["status"], detail["tags"], detail["via"]) == ("HIGH", "NEW", ["printing"], {"channel": "web_service"})
    assert detail["brand_id"] and detail["created_at"]

    event = commented.json
    assert event["type"] == "zen:event-type:ticket.comment_added" and event["detail"]["id"] == str(ticket["id"])
    comment = event["event"]["comment"]
    assert (comment["body"], comment["is_public"]) == ("Tried another tray, same.", True)
    assert comment["author"] == {"id": str(ticket["requester_id"]), "is_staff": False, "name": "Priya Raman"} and comment["id"]
    assert opened.json["id"] != commented.json["id"]


# -- delivery ---------------------------------------------------------------------------------------


async def test_a_receiver_that_is_down_neither_slows_nor_fails_the_change_and_each_attempt_is_recorded(simulator: Running, receiver: Receiver) -> None:
    await subscribe(simulator, "zendesk", "http://127.0.0.1:9/nobody-listens")  # port 9 (discard): connection refused
    await subscribe(simulator, "zendesk", f"{receiver.url}/slow-but-fine")
    receiver.fail["/slow-but-fine"] = 5  # more 500s than the simulator tries
    token = await simulator.token("zendesk", "atom", [])
    base = server.urls(simulator.url, server.UPSTREAM)["zendesk"]
    async with httpx.AsyncClient(base_url=base, auth=(f"{AGENT}/token", token), timeout=10) as zendesk:
        started = time.perf_counter()
        created = await zendesk.post("/api/v2/tickets.json", json={"ticket": {"subject": "Monitor flickers", "comment": {"body": "Since Friday."}}})
        assert created.status_code == 201 and time.perf_counter() - started < 2
    sent = await settled(simulator, "zendesk", 2)
    assert [(d["status"], d["attempts"]) for d in sent] == [("failed", 3), ("failed", 3)]
    refused, answered = sent
    assert all(t["status"] is None and "Connect" in t["error"] for t in refused["tries"])
    assert [t["status"] for t in answered["tries"]] == [500, 500, 500]
    assert len(receiver.at("/slow-but-fine")) == 3


async def test_a_deleted_subscription_gets_nothing_and_an_unknown_event_is_refused(simulator: Running, receiver: Receiver) -> None:
    hook = await subscribe(simulator, "servicenow", f"{receiver.url}/gone")
    async with simulator.admin as admin:
        assert (await admin.delete(f"/webhooks/{hook['id']}")).status_code == 204
        assert (await admin.delete(f"/webhooks/{hook['id']}")).status_code == 404
        assert (await admin.get("/webhooks")).json() == []
        bad = await admin.post("/webhooks", json={"system": "servicenow", "url": receiver.url, "secret": SECRET, "events": ["incident.deleted"]})
        assert bad.status_code == 400 and "incident.deleted" in bad.json()["error"]
    async with httpx.AsyncClient() as anyone:
        assert (await anyone.get(f"{simulator.url}/_sandbox/webhooks")).status_code == 401
    token = await simulator.token("servicenow", "workforce.integration", [])
    incidents = server.urls(simulator.url, server.UPSTREAM)["servicenow"] + "/api/now/table/incident"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(incidents, auth=("workforce.integration", token), json={"short_description": "Nobody hears this"})).status_code == 201
    await asyncio.sleep(0.5)
    assert receiver.received == [] and await deliveries(simulator, "servicenow") == []


async def test_a_subscription_survives_a_restart_of_the_simulator(database_url: str, receiver: Receiver) -> None:
    async with running(database_url, employees=10) as first:
        hook = await subscribe(first, "servicenow", f"{receiver.url}/after-restart")
    async with running(database_url, employees=None) as second:
        async with second.admin as admin:
            listed = (await admin.get("/webhooks")).json()
        assert [(h["id"], h["system"], h["url"]) for h in listed] == [(hook["id"], "servicenow", f"{receiver.url}/after-restart")]
        assert "secret" not in listed[0]
        token = await second.token("servicenow", "workforce.integration", [])
        incidents = server.urls(second.url, server.UPSTREAM)["servicenow"] + "/api/now/table/incident"
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.post(incidents, auth=("workforce.integration", token), json={"short_description": "After the restart"})).status_code == 201
        [sent] = await settled(second, "servicenow", 1)
        assert sent["status"] == "delivered"
    [request] = receiver.at("/after-restart")
    assert request.json["short_description"] == "After the restart"
    assert hmac.compare_digest(request.headers["x-workforce-signature"], hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest())
