"""ServiceNow incidents, as our business rule sends them.

ServiceNow has no webhook of its own: an *after insert/update* business rule on ``incident`` posts
the record with ``sn_ws.RESTMessageV2`` (the script: ``deploy/desk/servicenow_business_rule.js``).
We define the JSON it sends, flat, with the field names of the incident table::

    {"operation": "insert" | "update", "sys_id": "...", "number": "INC0010001",
     "short_description": "...", "description": "...", "caller_id": "<sys_user sys_id>",
     "caller_email": "...", "caller_name": "...", "urgency": "2", "impact": "2", "priority": "3",
     "category": "network", "assignment_group": "Service Desk", "state": "1",
     "contact_type": "self-service", "comments": "<the latest additional comment, on update>",
     "sys_updated_by": "<user_name of who made the change>", "updated_by_email": "...",
     "sys_mod_count": "4", "sys_created_on": "2026-12-02 10:00:00"}

An insert is a new ticket; an update that carries ``comments`` is a comment by ``sys_updated_by``
(additional comments are customer-visible; work notes are never sent); any other update is ignored.
The delivery id is the ``X-Workforce-Delivery`` header when the rule sets it, else
``<sys_id>:<sys_mod_count>`` (each change of a record bumps its mod count).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from services.desk.intake.inbound import Comment, Inbound, Loose, Person, _as_str, header, load_object, validated

DELIVERY_HEADER = "X-Workforce-Delivery"

Text = Annotated[str, BeforeValidator(lambda v: "" if v is None else _as_str(v))]
SysId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="A ServiceNow sys_id (32 hex digits).")]

#: ``contact_type`` -> our Ticket.channel.
CHANNELS: dict[str, Literal["portal", "email", "chat", "phone", "api"]] = {
    "self-service": "portal", "portal": "portal", "email": "email", "phone": "phone", "chat": "chat",
    "virtual_agent": "chat", "walk-in": "portal", "integration": "api", "api": "api",
}


class ServiceNowIncident(Loose):
    """The JSON our business rule posts for an incident insert or update."""

    operation: Literal["insert", "update"]
    sys_id: SysId
    number: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\S+$")]
    short_description: Text = ""
    description: Text = ""
    caller_id: Text = ""
    caller_email: Text = ""
    caller_name: Text = ""
    urgency: Text = ""
    impact: Text = ""
    priority: Text = ""
    category: Text = ""
    assignment_group: Text = ""
    state: Text = ""
    contact_type: Text = ""
    comments: Text = ""
    sys_updated_by: Text = ""
    updated_by_email: Text = ""
    sys_mod_count: Text = "0"
    sys_created_on: datetime | None = None

    @field_validator("sys_created_on", mode="before")
    @classmethod
    def _glide_time(cls, value: Any) -> Any:
        """ServiceNow writes ``2026-12-02 10:00:00`` (UTC in the rule's ``getValue``); "" is none."""
        if value in ("", None):
            return None
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return value


def parse(body: bytes, headers: Mapping[str, str]) -> Inbound:
    data: dict[str, Any] = load_object(body)
    incident = validated(ServiceNowIncident, data, "ServiceNow incident")
    comment_text = incident.comments.strip()
    if incident.operation == "insert":
        kind = "created"
    elif comment_text:
        kind = "comment"
    else:
        kind = "ignored"
    comment = None
    if kind == "comment":
        author = Person(user_id=incident.sys_updated_by or None, email=incident.updated_by_email or None)
        comment = Comment(id=f"{incident.sys_mod_count}", author=author, text=comment_text, public=True)
    return Inbound(
        system="servicenow",
        kind=kind,
        event=incident.operation,
        native_id=incident.sys_id,
        key=incident.number,
        delivery_id=header(headers, DELIVERY_HEADER) or f"{incident.sys_id}:{incident.sys_mod_count}",
        title=incident.short_description,
        description=incident.description,
        requester=Person(user_id=incident.caller_id or None, email=incident.caller_email or None, name=incident.caller_name or None),
        priority=incident.priority or None,
        project=None,
        assignment_group=incident.assignment_group or None,
        category=incident.category or None,
        channel=CHANNELS.get(incident.contact_type.lower(), "portal"),
        opened_at=incident.sys_created_on,
        comment=comment,
    )
