"""Purchase requests: log what the requester wants to buy as a Jira purchase issue, for their manager
and procurement to approve there, unless the same request of theirs is already open.

Logging is not buying: nothing is ordered or approved here, so the step is not destructive and a
supervised coworker logs without asking first; the approval that matters (spending money) happens
on the issue, by the people who own it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from services.skills.connectors.jira import Jira, Query
from services.skills.failures import refused
from services.skills.skill import Skill, Step, StepContext

PROJECT = "PUR"
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a pair of": 2}
#: Words for the same item, and the label its requests carry.
ITEMS = {"licence": "software-licence", "license": "software-licence", "software licence": "software-licence", "software license": "software-licence", "dock": "docking-station", "docking station": "docking-station", "screen": "monitor", "monitors": "monitor"}


def item_label(item: str) -> str:
    said = " ".join(re.sub(r"\b(a|an|the|new|some|please)\b", " ", item.lower()).split())
    for word, label in sorted(ITEMS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(word)}\b", said):
            return label
    return re.sub(r"[^a-z0-9]+", "-", said.removesuffix("s")).strip("-")[:40] or "item"


def quantity(text: str, label: str) -> int:
    """How many of ``label``: "two monitors", "3 x headset", "2 licences"; one when the ticket does not say."""
    words = text.lower()
    stem = re.escape(label.split("-")[-1 if label.startswith("software") else 0][:5])
    if found := re.search(rf"\b(\d{{1,3}})\s*(x\s*)?(\w+\s+)?{stem}", words):
        return max(1, int(found.group(1)))
    for word, n in sorted(NUMBERS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{word}\s+(\w+\s+)?{stem}", words):
            return n
    return 1


def _login(request: SkillRequest) -> str:
    return (request.ticket.requester.email or request.ticket.requester.id).split("@")[0]


def _labels(request: SkillRequest, item: str) -> tuple[str, ...]:
    return ("purchase", item_label(item), f"for-{_login(request)}")


async def find_open_request(ctx: StepContext) -> dict[str, Any]:
    jira: Jira = ctx.system
    item = str(ctx.inputs["item"])
    with refused("Jira", f"searching the open purchase requests for {item!r}", default="jira_rejected", coworker=ctx.request.coworker):
        found = await jira.search(Query(project=PROJECT, issue_type="Purchase", labels=_labels(ctx.request, item), open_only=True, max_results=5))
    return {"item": item_label(item), "quantity": quantity(ctx.request.ticket.text, item_label(item)), "open": [{"key": i.key, "status": i.status} for i in found]}


async def log_purchase(ctx: StepContext) -> dict[str, Any]:
    jira: Jira = ctx.system
    wanted = ctx.earlier["find-open-request"]
    if wanted["open"]:
        already = wanted["open"][0]
        return {"key": already["key"], "status": already["status"], "created": False}
    login, ticket = _login(ctx.request), ctx.request.ticket
    description = (
        f"{ticket.description or ticket.title}\n\nRequested by {login} in ticket {ticket.ticket_id}: {wanted['quantity']} x {wanted['item']}. "
        "Nothing has been ordered: the requester's manager and procurement approve or decline on this issue."
    )
    with refused("Jira", f"logging the purchase request in {PROJECT}", default="jira_rejected", coworker=ctx.request.coworker):
        issue = await jira.create_issue(
            project=PROJECT, issue_type="Purchase", summary=f"Purchase: {wanted['quantity']} x {wanted['item']} for {login}", description=description,
            priority="Low", labels=list(_labels(ctx.request, wanted["item"])), idempotency_key=ctx.idempotency_key, ticket_id=ticket.ticket_id,
        )
    return {"key": issue.key, "status": issue.status, "created": True}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    wanted, logged = outputs["find-open-request"], outputs["log-purchase"]
    if not logged["created"]:
        return f"You already have an open request for {wanted['item']}: {logged['key']} ({logged['status']}). I did not log a second one."
    return (
        f"Logged purchase request {logged['key']} for {wanted['quantity']} x {wanted['item']} ({logged['status']}). "
        "Your manager and procurement approve it in Jira; nothing has been ordered yet."
    )


PURCHASE_REQUEST = Skill(
    name="purchase-request",
    steps=(
        Step("find-open-request", "jira", "issues.read", find_open_request, describe=lambda r: {"project": PROJECT, "item": r.inputs.get("item"), "for": _login(r)}),
        Step("log-purchase", "jira", "issues.create", log_purchase, describe=lambda r: {"project": PROJECT, "item": r.inputs.get("item"), "for": _login(r)}),
    ),
    summarise=_summary,
)

SKILLS = (PURCHASE_REQUEST,)
