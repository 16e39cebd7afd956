"""Incident triage: record what the requester reports as a Jira incident with its priority, link it
to the incidents still open for the same service, and page that service's on-call engineer in Slack.

If a later step fails the incident stays: it happened, and deleting the record would hide a report
someone made. What is undone is the impression that it is being handled: the incident gets a
comment saying Workforce stopped before paging anyone and the ticket went to the service desk.
Links to related incidents are facts and stay too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest, Ticket
from services.skills.connectors.jira import Jira, Query
from services.skills.connectors.slack import Slack
from services.skills.failures import refused
from services.skills.skill import Skill, Step, StepContext, StepFailed

PROJECT = "INC"
CHANNEL = "it-incidents"
#: The words people use for a service, and the label its incidents carry in Jira.
SERVICES = {
    "vpn": "vpn", "globalprotect": "vpn", "email": "email", "mail": "email", "outlook": "email", "exchange": "email",
    "wifi": "wifi", "wi-fi": "wifi", "wireless": "wifi", "network": "network", "internet": "network", "sso": "sso",
    "single sign-on": "sso", "okta": "sso", "sap": "sap", "salesforce": "salesforce", "jira": "jira", "confluence": "confluence",
    "zoom": "zoom", "teams": "teams", "sharepoint": "sharepoint", "workday": "workday", "payroll": "payroll",
    "printer": "printing", "printing": "printing",
}

# ITIL: priority = impact x urgency, read from the reporter's words.
WIDE = re.compile(r"\b(everyone|everybody|all (users|staff|employees)|whole (company|office)|entire (company|office)|company[- ]wide|nobody|no one|many (users|people)|customers)\b")
SOME = re.compile(r"\b(team|department|office|floor|several|colleagues|we)\b")
DOWN = re.compile(r"\b(down|outage|not reachable|unreachable|unavailable|cannot (connect|work|log ?in|access)|can't (connect|work)|stopped working|breach|not working)\b")
DEGRADED = re.compile(r"\b(slow|intermittent\w*|drops?|dropping|sometimes|delay\w*|timeouts?|times out|errors?)\b")
MATRIX = {(2, 2): "Highest", (2, 1): "High", (1, 2): "High", (1, 1): "Medium", (2, 0): "Medium", (0, 2): "Medium"}
LEVELS = ("Highest", "High", "Medium", "Low")


def priority(ticket: Ticket) -> tuple[str, str]:
    """Jira priority and why, from impact (how many are affected) and urgency (down or degraded)."""
    text = ticket.text.lower()
    impact = 2 if WIDE.search(text) else 1 if SOME.search(text) else 0
    urgency = 2 if DOWN.search(text) else 1 if DEGRADED.search(text) else 0
    level = MATRIX.get((impact, urgency), "Low")
    why = f"impact {('one person', 'a team', 'many people')[impact]}, urgency {('low', 'degraded', 'down')[urgency]}"
    if ticket.requester.vip and level != "Highest":
        level, why = LEVELS[LEVELS.index(level) - 1], f"{why}; raised one level: VIP requester"
    return level, why


def service_label(said: str) -> str:
    """The Jira label for the service the requester named ("the VPN" -> vpn)."""
    text = f" {said.lower()} "
    for word, label in sorted(SERVICES.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(word)}\b", text):
            return label
    return re.sub(r"[^a-z0-9]+", "-", said.lower()).strip("-")[:40] or "unknown-service"


def _requester(request: SkillRequest) -> str:
    return request.ticket.requester.email or request.ticket.requester.id


async def find_related(ctx: StepContext) -> dict[str, Any]:
    jira: Jira = ctx.system
    label = service_label(str(ctx.inputs["service"]))
    with refused("Jira", f"searching the open {label} incidents", default="jira_rejected", coworker=ctx.request.coworker):
        found = await jira.search(Query(project=PROJECT, labels=(label,), open_only=True, max_results=20))
    return {"service": label, "related": [{"key": i.key, "summary": i.summary, "status": i.status, "priority": i.priority} for i in found]}


async def create_incident(ctx: StepContext) -> dict[str, Any]:
    jira: Jira = ctx.system
    ticket, service = ctx.request.ticket, ctx.earlier["find-related"]["service"]
    level, why = priority(ticket)
    description = (
        f"{ticket.description or ticket.title}\n\n"
        f"Reported by {_requester(ctx.request)} in ticket {ticket.ticket_id}. Service: {service}. Priority {level}: {why}."
    )
    with refused("Jira", f"creating the incident in {PROJECT}", default="jira_rejected", coworker=ctx.request.coworker):
        issue = await jira.create_issue(
            project=PROJECT, issue_type="Incident", summary=" ".join(ticket.title.split())[:255], description=description,
            priority=level, labels=[service], idempotency_key=ctx.idempotency_key, ticket_id=ticket.ticket_id,
        )
    return {"key": issue.key, "id": issue.id, "priority": issue.priority, "status": issue.status, "priority_reason": why}


async def comment_not_handled(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The compensation: keep the incident, say on it that nobody was paged by Workforce."""
    jira: Jira = ctx.system
    body = (
        f"Workforce recorded this incident from ticket {ctx.request.ticket_id} but stopped before paging the on-call engineer "
        "(linking related incidents or notifying Slack did not complete). The ticket went to the service desk; "
        "please make sure someone is working on it. The incident is kept: it was reported."
    )
    with refused("Jira", f"commenting on {outputs['key']} that nobody was paged", default="comment_refused", coworker=ctx.request.coworker):
        comment = await jira.add_comment(outputs["key"], body, idempotency_key=ctx.idempotency_key)
    return {"kept": outputs["key"], "comment_id": comment.id}


async def link_related(ctx: StepContext) -> dict[str, Any]:
    jira: Jira = ctx.system
    key = ctx.earlier["create-incident"]["key"]
    linked = []
    for other in ctx.earlier["find-related"]["related"]:
        with refused("Jira", f"linking {key} to {other['key']}", default="jira_rejected", coworker=ctx.request.coworker):
            await jira.link_issues("Relates", inward=key, outward=other["key"])
        linked.append(other["key"])
    return {"key": key, "relates_to": linked}


async def find_oncall(ctx: StepContext) -> dict[str, Any]:
    slack: Slack = ctx.system
    with refused("Slack", f"finding who is on call for #{CHANNEL}", default="notify_failed", coworker=ctx.request.coworker):
        found = await slack.oncall(CHANNEL)
    if not found.members:
        raise StepFailed("no_oncall", f"no one is on call for #{found.channel} (no user group pages there, or its rotation is empty)")
    return {"channel_id": found.channel_id, "channel": found.channel, "group_id": found.group_id, "handle": found.handle, "people": [{"id": m.id, "name": m.name} for m in found.members]}


async def notify_oncall(ctx: StepContext) -> dict[str, Any]:
    slack: Slack = ctx.system
    incident, oncall, related = ctx.earlier["create-incident"], ctx.earlier["find-oncall"], ctx.earlier["link-related"]["relates_to"]
    people = " ".join(f"<@{p['id']}>" for p in oncall["people"])
    text = (
        f"<!subteam^{oncall['group_id']}|@{oncall['handle']}> {people} New incident *{incident['key']}* ({incident['priority']}): "
        f"{ctx.request.ticket.title}\nService: {ctx.earlier['find-related']['service']}. Reported by {_requester(ctx.request)} (ticket {ctx.request.ticket_id})."
        + (f"\nRelated open incidents: {', '.join(related)}." if related else "")
    )
    # Slack's not_in_channel and is_archived (403) refuse the post, not the bot's scopes: notify_failed.
    with refused("Slack", f"posting to #{oncall['channel']}", default="notify_failed", coworker=ctx.request.coworker):
        posted = await slack.post_message(oncall["channel_id"], text, idempotency_key=ctx.idempotency_key)
    return {"channel": oncall["channel"], "ts": posted.ts, "paged": [p["name"] for p in oncall["people"]]}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    incident, linked, paged = outputs["create-incident"], outputs["link-related"]["relates_to"], outputs["notify-oncall"]
    related = f"linked it to the open incidents {', '.join(linked)}" if linked else "found no open incident for the same service"
    return (
        f"Recorded incident {incident['key']} in Jira with priority {incident['priority']} ({incident['priority_reason']}), {related}, "
        f"and paged the on-call engineer ({', '.join(paged['paged'])}) in #{paged['channel']}."
    )


INCIDENT_TRIAGE = Skill(
    name="incident-triage",
    steps=(
        Step("find-related", "jira", "issues.read", find_related, describe=lambda r: {"project": PROJECT, "service": r.inputs.get("service"), "open_only": True}),
        Step("create-incident", "jira", "issues.create", create_incident, compensate=comment_not_handled, describe=lambda r: {"project": PROJECT, "summary": r.ticket.title, "service": r.inputs.get("service")}),
        Step("link-related", "jira", "issues.link", link_related, describe=lambda r: {"link_type": "Relates"}),
        Step("find-oncall", "slack", "channels.read", find_oncall, describe=lambda r: {"channel": CHANNEL}),
        Step("notify-oncall", "slack", "chat.write", notify_oncall, describe=lambda r: {"channel": CHANNEL}),
    ),
    summarise=_summary,
)

SKILLS = (INCIDENT_TRIAGE,)
