"""Zendesk webhooks (event subscriptions): ``zen:event-type:ticket.created`` and
``zen:event-type:ticket.comment_added``.

Both carry the ticket in ``detail`` (``id, subject, description, requester_id, priority, tags,
via.channel, brand_id``; ids may arrive as strings or numbers), and a comment in
``event.comment{id, body, author{id, is_staff, name}, is_public}``. The top-level ``id`` names the
event and is the delivery id (Zendesk keeps it across retries). No email is in the payload: the
requester is found through the configured user map or the Users API (``events.to_event``'s lookup).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from services.desk.intake.inbound import Comment, Inbound, Loose, Person, VendorId, _as_str, load_object, validated

CREATED = "zen:event-type:ticket.created"
COMMENTED = "zen:event-type:ticket.comment_added"

OptionalId = Annotated[str | None, BeforeValidator(_as_str)]

#: Zendesk's ``via.channel`` -> our Ticket.channel.
CHANNELS: dict[str, Literal["portal", "email", "chat", "phone", "api"]] = {
    "web": "portal", "web_form": "portal", "web_widget": "portal", "help_center": "portal", "mobile": "portal",
    "mobile_sdk": "portal", "email": "email", "mail": "email", "api": "api", "web_service": "api",
    "chat": "chat", "native_messaging": "chat", "messaging": "chat", "sunshine_conversations_api": "chat",
    "voice": "phone", "phone": "phone", "voicemail": "phone",
}


class ZendeskVia(Loose):
    channel: Annotated[str | None, BeforeValidator(_as_str)] = None


class ZendeskDetail(Loose):
    id: VendorId
    subject: str | None = None
    description: str | None = None
    requester_id: OptionalId = None
    priority: str | None = None
    tags: list[str] | None = None
    via: ZendeskVia | None = None
    brand_id: OptionalId = None
    created_at: datetime | None = None


class ZendeskAuthor(Loose):
    id: VendorId
    is_staff: bool | None = None
    name: str | None = None


class ZendeskComment(Loose):
    id: VendorId
    body: str = ""
    author: ZendeskAuthor
    is_public: bool = True


class ZendeskEvent(Loose):
    comment: ZendeskComment | None = None


class ZendeskWebhook(Loose):
    """A Zendesk event-subscription webhook body (the fields we read)."""

    type: Annotated[str, Field(min_length=1)]
    id: Annotated[str, Field(min_length=1, max_length=200)]
    detail: ZendeskDetail
    event: ZendeskEvent | None = None
    time: datetime | None = None


class ZendeskCommentedEvent(ZendeskEvent):
    comment: ZendeskComment


class ZendeskTicketCommented(ZendeskWebhook):
    event: ZendeskCommentedEvent


def parse(body: bytes, headers: Mapping[str, str]) -> Inbound:
    data: dict[str, Any] = load_object(body)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        validated(ZendeskWebhook, data, "Zendesk webhook")  # raises, naming what is missing
    if kind not in (CREATED, COMMENTED):
        return Inbound(system="zendesk", kind="ignored", event=str(kind), delivery_id=str(data.get("id") or "") or None)
    hook = validated(ZendeskWebhook if kind == CREATED else ZendeskTicketCommented, data, f"Zendesk {kind}")
    detail = hook.detail
    comment = None
    if kind == COMMENTED:
        c = hook.event.comment  # type: ignore[union-attr]
        comment = Comment(id=c.id, author=Person(user_id=c.author.id, name=c.author.name), text=c.body, public=c.is_public, staff=bool(c.author.is_staff))
    return Inbound(
        system="zendesk",
        kind="created" if kind == CREATED else "comment",
        event=kind,
        native_id=detail.id,
        key=f"ZD-{detail.id}",
        delivery_id=hook.id,
        title=detail.subject or "",
        description=detail.description or "",
        requester=Person(user_id=detail.requester_id),
        priority=detail.priority.lower() if detail.priority else None,
        labels=detail.tags or [],
        brand=detail.brand_id,
        channel=CHANNELS.get((detail.via.channel or "").lower(), "portal") if detail.via else "portal",
        opened_at=detail.created_at,
        comment=comment,
    )
