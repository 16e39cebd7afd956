"""The demo's second half: one ticket opened in each simulated ticketing system as its users open
them (Jira and ServiceNow by the requester through the REST API, Zendesk by an agent for the
requester), arriving by the system's own signed webhook; then the ticket as that system shows it
now, with what the workforce wrote on it."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import httpx

from deploy import report

#: What each system's requester writes (people the simulated directory knows).
TICKETS = {
    "jira": ("john.miller@acme.example", "Password expired, cannot sign in", "Okta says my password expired and the reset page does not work."),
    "servicenow": ("priya.sharma@acme.example", "Account locked out", "My account is locked after too many failed login attempts this morning."),
    "zendesk": ("linda.brown@acme.example", "Coffee machine leaking", "The coffee machine in the 3rd floor kitchen is leaking water all over the floor."),
}
SCOPES = {"jira": ["issues.read", "issues.create", "issues.comment"], "servicenow": ["incident.read", "incident.write"], "zendesk": ["tickets:read", "tickets:write"]}


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@dataclass
class Opened:
    system: str
    ticket_id: str  # ours: Jira's key, ServiceNow's number, ZD-<id>
    path: str  # the ticket in the system's REST API
    requester: str
    title: str


class DeskDemo:
    def __init__(self, simulator_url: str, admin_token: str) -> None:
        self.url, self.admin_token = simulator_url.rstrip("/"), admin_token
        self.tag = uuid.uuid4().hex[:6]

    async def _token(self, client: httpx.AsyncClient, system: str, user: str) -> str:
        response = await client.post(f"{self.url}/_sandbox/tokens", headers={"Authorization": f"Bearer {self.admin_token}"},
                                     json={"system": system, "coworker": user, "version": 1, "scopes": SCOPES[system]})
        response.raise_for_status()
        return response.json()["token"]

    async def auth(self, client: httpx.AsyncClient, system: str, requester: str) -> dict[str, str]:
        if system == "zendesk":  # end users do not call Zendesk's API: an agent opens it for them
            return _basic("atom-bot@acme.example/token", await self._token(client, system, "desk-demo"))
        return _basic(requester, await self._token(client, system, requester))

    async def open(self, client: httpx.AsyncClient, system: str) -> Opened:
        requester, title, text = TICKETS[system]
        title = f"{title} ({self.tag})"
        headers = await self.auth(client, system, requester)
        if system == "jira":
            made = await client.post(f"{self.url}/jira/rest/api/3/issue", headers=headers, json={"fields": {
                "project": {"key": "IT"}, "issuetype": {"name": "Task"}, "summary": title,
                "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}}})
            made.raise_for_status()
            return Opened(system, made.json()["key"], f"/jira/rest/api/3/issue/{made.json()['key']}", requester, title)
        if system == "servicenow":
            made = await client.post(f"{self.url}/servicenow/api/now/table/incident", headers=headers, json={"short_description": title, "description": text, "caller_id": requester})
            made.raise_for_status()
            record = made.json()["result"]
            return Opened(system, record["number"], f"/servicenow/api/now/table/incident/{record['sys_id']}", requester, title)
        made = await client.post(f"{self.url}/zendesk/api/v2/tickets.json", headers=headers, json={"ticket": {
            "subject": title, "comment": {"body": text}, "requester": {"email": requester, "name": requester.split("@")[0].replace(".", " ").title()}, "tags": ["hr"]}})
        made.raise_for_status()
        ticket = made.json()["ticket"]
        return Opened(system, f"ZD-{ticket['id']}", f"/zendesk/api/v2/tickets/{ticket['id']}", requester, title)

    async def shown(self, client: httpx.AsyncClient, opened: Opened) -> list[str]:
        """The ticket as the system shows it now: its state, and what the workforce wrote there."""
        headers = await self.auth(client, opened.system, opened.requester)
        if opened.system == "jira":
            issue = (await client.get(f"{self.url}{opened.path}", headers=headers)).json()
            comments = (await client.get(f"{self.url}{opened.path}/comment", headers=headers)).json()["comments"]
            lines = [f"status {issue['fields']['status']['name']}"]
            lines += [f"comment by {c['author'].get('emailAddress') or c['author']['displayName']}: {_text(c['body'])}" for c in comments]
            return lines
        if opened.system == "servicenow":
            record = (await client.get(f"{self.url}{opened.path}", headers=headers)).json()["result"]
            journal = (await client.get(f"{self.url}/servicenow/api/now/table/sys_journal_field", headers=headers,
                                        params={"sysparm_query": f"element_id={record['sys_id']}"})).json()["result"]
            lines = [f"state {record['state']}, close code {record.get('close_code') or '-'}, assignment group {record.get('assignment_group') or '-'}"]
            lines += [f"{e['element'].replace('_', ' ')} by {e['sys_created_by']}: {_short(e['value'])}" for e in journal]
            return lines
        ticket = (await client.get(f"{self.url}{opened.path}.json", headers=headers)).json()["ticket"]
        comments = (await client.get(f"{self.url}{opened.path}/comments.json", headers=headers)).json()["comments"]
        lines = [f"status {ticket['status']}, group {ticket.get('group_id') or '-'}"]
        lines += [f"{'public comment' if c['public'] else 'internal note'}: {_short(c['body'])}" for c in comments[1:]]
        return lines


def _text(adf: object) -> str:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(str(node.get("text", "")))
            for child in node.get("content", []) or []:
                walk(child)

    walk(adf)
    return _short(" ".join(found))


def _short(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


async def _written(conn: asyncpg.Connection, ticket_id: str, timeout_s: float) -> None:
    """Wait until what the workforce did on the ticket is written back upstream (or failed visibly)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await conn.fetchval("SELECT count(*) FROM governance.audit_events WHERE correlation_id = $1 AND type IN ('ticket.written_back', 'ticket.write_back_failed')", ticket_id):
            return
        await asyncio.sleep(0.5)


async def run(simulator_url: str, admin_token: str, conn: asyncpg.Connection, *, echo: Callable[[str], None] = print, timeout_s: float = 120) -> dict[str, report.TicketStory]:
    demo = DeskDemo(simulator_url, admin_token)
    echo("")
    echo("from the service desk, by webhook (the simulated Jira, ServiceNow and Zendesk)")
    async with httpx.AsyncClient(timeout=30) as client:
        opened = [await demo.open(client, system) for system in TICKETS]
        found = await report.wait_for(conn, [o.ticket_id for o in opened], timeout_s=timeout_s)
        for o in opened:
            await _written(conn, o.ticket_id, timeout_s=30)
        found = await report.stories(conn, [o.ticket_id for o in opened])
        for o in opened:
            echo("")
            echo(f"{o.ticket_id}  [{o.system}]  {o.title!r}  from {o.requester}")
            for line in found[o.ticket_id].lines():
                echo(f"    {line}")
            echo(f"    on {o.system}:")
            for line in await demo.shown(client, o):
                echo(f"        {line}")
    return found
