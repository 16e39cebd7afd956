"""The service desk plugged in (issue 16): tickets made in the simulated Jira, ServiceNow and Zendesk
reach the workforce by the systems' own signed webhooks, and what the workforce did is on the
requester's ticket there, read back through each system's REST API as its agents would read it.

Replays, forged signatures, stale timestamps and junk are sent by plain httpx, as any sender would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from typer.testing import CliRunner

from deploy.cli import app
from deploy.desk.local import webhook_secrets
from deploy.stack import Stack
from tests.e2e.conftest import resettable_people

pytestmark = pytest.mark.timeout(600)


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


async def _token(stack: Stack, system: str, user: str, scopes: list[str]) -> str:
    assert stack.simulator is not None
    async with httpx.AsyncClient(base_url=f"{stack.simulator.url}/_sandbox", headers={"Authorization": f"Bearer {stack.simulator.admin_token}"}) as admin:
        response = await admin.post("/tokens", json={"system": system, "coworker": user, "version": 1, "scopes": scopes})
        response.raise_for_status()
        return response.json()["token"]


async def _eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout_s:.0f}s: {what}")
        await asyncio.sleep(0.5)


async def _audited(db: asyncpg.Connection, ticket_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT type, event FROM governance.audit_events WHERE correlation_id = $1 ORDER BY seq", ticket_id)
    return [{"type": r["type"], **json.loads(r["event"])} for r in rows]


def _adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


async def test_a_jira_issue_arrives_by_webhook_and_its_resolution_is_written_on_it(stack: Stack, db: asyncpg.Connection) -> None:
    assert stack.simulator is not None
    requester = f"{resettable_people()[3]}@acme.example"
    token = await _token(stack, "jira", requester, ["issues.read", "issues.create", "issues.comment"])
    async with httpx.AsyncClient(base_url=f"{stack.simulator.url}/jira", headers=_basic(requester, token), timeout=30) as jira:
        made = await jira.post("/rest/api/3/issue", json={"fields": {
            "project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": "Forgot my password",
            "description": _adf("I forgot my password over the weekend and cannot log in to Okta. Please reset it.")}})
        assert made.status_code == 201, made.text
        key, issue_id = made.json()["key"], made.json()["id"]

        async def done() -> dict[str, Any] | None:
            issue = (await jira.get(f"/rest/api/3/issue/{key}")).json()
            return issue if issue["fields"]["status"]["name"] == "Done" else None

        issue = await _eventually(done, f"{key} moved to Done by the workforce")
        comments = (await jira.get(f"/rest/api/3/issue/{key}/comment")).json()["comments"]
    ours = [c for c in comments if c["author"].get("emailAddress") == "workforce-desk@acme.example"]
    assert len(ours) == 1, comments
    assert "password" in json.dumps(ours[0]["body"]).lower()
    assert issue["fields"]["status"]["statusCategory"]["key"] == "done"
    story = await _audited(db, key)
    created = [e for e in story if e["type"] == "ticket.created"]
    assert len(created) == 1 and created[0]["upstream"] == f"jira:{issue_id}" and created[0]["source"] == "/upstream/jira"
    assert created[0]["data"]["requester"]["email"] == requester and created[0]["team"] == "it-support"
    resolved = [e for e in story if e["type"] == "ticket.resolved"]
    assert resolved and all(e.get("upstream") == f"jira:{issue_id}" for e in story if e["type"] != "deadletter"), "every event of the flow names the upstream issue"
    (written,) = [e for e in story if e["type"] == "ticket.written_back"]
    assert written["data"]["cause_id"] == resolved[0]["id"]


async def test_a_servicenow_incident_asks_the_requester_and_their_comment_resumes_it(stack: Stack, db: asyncpg.Connection) -> None:
    assert stack.simulator is not None
    requester = "ana.silva@acme.example"
    token = await _token(stack, "servicenow", requester, ["incident.read", "incident.write"])
    async with httpx.AsyncClient(base_url=f"{stack.simulator.url}/servicenow/api/now/table", headers=_basic(requester, token), timeout=30) as now:
        made = await now.post("/incident", json={"short_description": "need access", "description": "need access to the git repository for the new project", "caller_id": requester})
        assert made.status_code == 201, made.text
        sys_id, number = made.json()["result"]["sys_id"], made.json()["result"]["number"]

        async def journal(element: str) -> list[dict[str, Any]]:
            rows = (await now.get("/sys_journal_field", params={"sysparm_query": f"element_id={sys_id}^element={element}"})).json()["result"]
            return [r for r in rows if "[workforce:" in r["value"]]

        (question,) = await _eventually(lambda: journal("comments"), f"the workforce's question on {number}")
        assert "application" in question["value"].lower()
        answered = await now.patch(f"/incident/{sys_id}", json={"comments": "It is on GitHub, please."})
        assert answered.status_code == 200, answered.text

    async def triaged_again() -> list[dict[str, Any]]:
        return [e for e in await _audited(db, number) if e["type"] == "ticket.triaged"]

    (triaged,) = await _eventually(triaged_again, f"{number} triaged again with the answer")
    assert (triaged["data"]["skill"], triaged["data"]["inputs"]) == ("app-access", {"app": "github"})
    story = await _audited(db, number)
    (answer,) = [e for e in story if e["type"] == "ticket.answered"]
    assert answer["actor"] == "human:ana.silva" and answer["upstream"] == f"servicenow:{sys_id}"
    assert "GitHub" in answer["data"]["text"]


async def test_a_zendesk_ticket_no_coworker_can_take_reaches_the_human_group_with_the_handoff(stack: Stack, db: asyncpg.Connection) -> None:
    assert stack.simulator is not None
    env = stack.desk.env() if stack.desk is not None else {}
    agent = {"Authorization": "Basic " + base64.b64encode(f"atom-bot@acme.example/token:{env['DESK_ZENDESK_TOKEN']}".encode()).decode()}
    async with httpx.AsyncClient(base_url=f"{stack.simulator.url}/zendesk/api/v2", headers=agent, timeout=30) as zendesk:
        made = await zendesk.post("/tickets.json", json={"ticket": {
            "subject": "Coffee machine leaking", "comment": {"body": "The coffee machine in the 3rd floor kitchen is leaking water all over the floor."},
            "requester": {"name": "Linda Brown", "email": "linda.brown@acme.example"}, "tags": ["hr"]}})
        assert made.status_code == 201, made.text
        ticket_id = made.json()["ticket"]["id"]

        async def noted() -> list[dict[str, Any]]:
            comments = (await zendesk.get(f"/tickets/{ticket_id}/comments.json")).json()["comments"]
            return [c for c in comments if not c["public"] and "[workforce:" in c["body"]]

        (note,) = await _eventually(noted, f"the handoff note on Zendesk #{ticket_id}")
        ticket = (await zendesk.get(f"/tickets/{ticket_id}.json")).json()["ticket"]
    assert ticket["group_id"] == 2, "reassigned to hr-desk's group (deploy/desk/desk.yaml)"
    assert "coffee machine" in note["body"].lower() and "first" in note["body"].lower(), note["body"]
    story = await _audited(db, f"ZD-{ticket_id}")
    (escalated,) = [e for e in story if e["type"] == "ticket.escalated"]
    assert escalated["data"]["queue"] == "hr-desk" and escalated["team"] == "hr"
    assert escalated["data"]["handoff"]["ticket"]["requester"]["email"] == "linda.brown@acme.example", "the requester was looked up in Zendesk"


def _jira_payload(issue_id: str, key: str, email: str) -> bytes:
    return json.dumps({
        "timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_created", "issue_event_type_name": "issue_created",
        "issue": {"id": issue_id, "key": key, "fields": {
            "summary": "Locked out of my account", "description": _adf("My account is locked after too many attempts."),
            "reporter": {"accountId": f"acct-{issue_id}", "emailAddress": email, "displayName": "Someone"},
            "priority": {"name": "Medium"}, "labels": [], "project": {"id": "10001", "key": "IT", "name": "IT Operations"}}},
    }).encode()


async def test_replays_forgeries_stale_and_junk_webhooks_from_an_outside_client(stack: Stack, db: asyncpg.Connection) -> None:
    secrets = webhook_secrets(stack.var)
    issue_id = str(900_000 + uuid.uuid4().int % 99_999)
    key = f"IT-{issue_id}"
    body = _jira_payload(issue_id, key, f"{resettable_people()[5]}@acme.example")
    signed = {"Content-Type": "application/json", "X-Hub-Signature": "sha256=" + hmac.new(secrets["jira"].encode(), body, hashlib.sha256).hexdigest(),
              "X-Atlassian-Webhook-Identifier": f"delivery-{issue_id}"}
    async with httpx.AsyncClient(base_url=stack.desk_url, timeout=30) as client:
        answers = [await client.post("/webhooks/jira", content=body, headers=signed) for _ in range(5)]
        assert [a.status_code for a in answers] == [202, 200, 200, 200, 200], [a.text for a in answers]
        assert {a.json()["event_id"] for a in answers} == {answers[0].json()["event_id"]}
        forged = await client.post("/webhooks/jira", content=body.replace(b"Locked out", b"Promote me"), headers=signed)
        assert forged.status_code == 401
        stamp = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        zbody = json.dumps({"type": "zen:event-type:ticket.created", "id": str(uuid.uuid4()), "detail": {"id": "1", "subject": "x", "requester_id": "1"}}).encode()
        stale = await client.post("/webhooks/zendesk", content=zbody, headers={
            "X-Zendesk-Webhook-Signature": base64.b64encode(hmac.new(secrets["zendesk"].encode(), stamp.encode() + zbody, hashlib.sha256).digest()).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp})
        assert stale.status_code == 401 and "timestamp" in stale.json()["error"].lower()
        junk = b"{not json at all"
        refused = await client.post("/webhooks/jira", content=junk, headers={**signed, "X-Hub-Signature": "sha256=" + hmac.new(secrets["jira"].encode(), junk, hashlib.sha256).hexdigest()})
        assert refused.status_code == 400
        metrics = (await client.get("/metrics")).text

    async def one_ticket() -> list[dict[str, Any]]:
        return [e for e in await _audited(db, key) if e["type"] == "ticket.created"]

    created = await _eventually(one_ticket, f"{key} in the audit")
    await asyncio.sleep(2)
    assert len(await one_ticket()) == len(created) == 1, "five deliveries, one ticket"
    dead = await _eventually(lambda: db.fetch(
        "SELECT event FROM governance.audit_events WHERE type = 'deadletter' AND source = '/services/desk' AND event->'data'->>'source_topic' = 'webhooks/jira'"
        " AND event->'data'->>'original' = $1", base64.urlsafe_b64encode(junk).decode()), "the junk webhook dead-lettered with its body")
    assert json.loads(dead[0]["event"])["data"]["reason_code"] == "not_json"
    assert "x-hub-signature" not in {h.lower() for h in json.loads(dead[0]["event"])["data"]["headers"]}, "a dead letter keeps no signature"
    for outcome in ("published", "duplicate", "unauthorized", "malformed"):
        assert f'outcome="{outcome}"' in metrics, (outcome, metrics[-2000:])
    status = await asyncio.to_thread(CliRunner().invoke, app, ["desk", "status", "--var", str(stack.var)], env={"DATABASE_URL": stack.database_url})
    assert status.exit_code == 0, status.output
    (jira,) = [line.split() for line in status.output.splitlines() if line.startswith("jira ")]
    assert int(jira[6]) >= 4, f"the four replays counted as redelivered: {status.output}"
