"""Jira Cloud webhooks: ``jira:issue_created`` and ``comment_created``.

Payloads as Jira Cloud sends them (see tests/fixtures/webhooks/SOURCES.md): ``webhookEvent``,
``timestamp``, ``issue{id, key, fields{summary, description (ADF), reporter, priority, labels,
project}}`` and, for a comment, ``comment{id, body (ADF), author, jsdPublic}`` (a comment event's
``issue.fields`` carries only a few fields: no reporter, no description). The delivery is named by
the ``X-Atlassian-Webhook-Identifier`` header, the same across Jira's retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from runtime.vendor import adf
from services.desk.intake.inbound import Comment, Inbound, Loose, Person, Unprocessable, VendorId, header, load_object, validated

DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
CREATED, COMMENTED = "jira:issue_created", "comment_created"

RichText = Annotated[str, BeforeValidator(adf.to_text)]


class JiraUser(Loose):
    accountId: VendorId
    emailAddress: str | None = None  # only when the user's profile lets the webhook show it
    displayName: str | None = None
    accountType: str | None = None


class JiraNamed(Loose):
    name: str | None = None


class JiraProject(Loose):
    key: str
    id: VendorId | None = None


class JiraFields(Loose):
    summary: str = ""
    description: RichText = ""
    reporter: JiraUser | None = None
    priority: JiraNamed | None = None
    labels: list[str] = []
    project: JiraProject | None = None
    created: datetime | None = None


class JiraIssue(Loose):
    id: VendorId
    key: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]
    fields: JiraFields = JiraFields()


class JiraComment(Loose):
    id: VendorId
    body: RichText = ""
    author: JiraUser
    #: Jira Service Management: False for an internal comment (agents only).
    jsdPublic: bool = True


class JiraWebhook(Loose):
    """A Jira Cloud webhook body (the fields we read; Jira sends many more)."""

    webhookEvent: str
    timestamp: int | None = None
    issue: JiraIssue | None = None
    comment: JiraComment | None = None


class JiraCreatedFields(JiraFields):
    summary: Annotated[str, Field(min_length=1)]


class JiraCreatedIssue(JiraIssue):
    fields: JiraCreatedFields


class JiraIssueCreated(JiraWebhook):
    issue: JiraCreatedIssue


class JiraCommentCreated(JiraWebhook):
    issue: JiraIssue
    comment: JiraComment


def _person(user: JiraUser | None) -> Person:
    if user is None:
        return Person()
    return Person(user_id=user.accountId, email=user.emailAddress or None, name=user.displayName)


def parse(body: bytes, headers: Mapping[str, str]) -> Inbound:
    data: dict[str, Any] = load_object(body)
    event = data.get("webhookEvent")
    if not isinstance(event, str) or not event:
        event = validated(JiraWebhook, data, "Jira webhook").webhookEvent  # raises, naming the field
        if not event:
            raise Unprocessable("not a Jira webhook payload: webhookEvent is empty")
    delivery = header(headers, DELIVERY_HEADER)
    if event not in (CREATED, COMMENTED):
        return Inbound(system="jira", kind="ignored", event=event, delivery_id=delivery)
    hook = validated(JiraIssueCreated if event == CREATED else JiraCommentCreated, data, f"Jira {event}")
    issue, fields = hook.issue, hook.issue.fields  # type: ignore[union-attr]
    comment = None
    if hook.comment is not None and event == COMMENTED:
        comment = Comment(id=hook.comment.id, author=_person(hook.comment.author), text=hook.comment.body, public=hook.comment.jsdPublic)
    return Inbound(
        system="jira",
        kind="created" if event == CREATED else "comment",
        event=event,
        native_id=issue.id,
        key=issue.key,
        delivery_id=delivery or f"{event}:{issue.id}:{comment.id if comment else ''}:{hook.timestamp or ''}",
        title=fields.summary,
        description=fields.description,
        requester=_person(fields.reporter),
        priority=fields.priority.name if fields.priority else None,
        labels=fields.labels,
        project=fields.project.key if fields.project else None,
        channel="portal",
        opened_at=fields.created,
        comment=comment,
    )
