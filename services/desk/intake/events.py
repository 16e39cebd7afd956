"""From an ``Inbound`` to the event we publish: ``ticket.created``, ``ticket.answered``, or a ``Skip``.

Plain functions, no I/O but the optional ``lookup`` the app passes (Zendesk's webhooks carry no
email). Event ids are derived from the upstream ticket, so any number of deliveries of the same
creation, or of the same comment, publish one event:

- ``ticket.created``: ``derived_event_id("<system>:<native_id>", "ticket.created")``
- ``ticket.answered``: ``derived_event_id("<system>:<native_id>", "ticket.answered", <comment id>)``

A comment is an answer only when a question is waiting on the ticket (``asked``, known to the app),
it is public, and it was not written by our own integration user (our write-back coming back). Its
actor is the human the comment's author resolves to: triage applies an answer only from the
requester (``services.triage.pending.not_the_requester``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from contracts.envelope import Actor, derived_event_id
from contracts.events import MAX_DESCRIPTION, MAX_TITLE, Answer, Requester, Ticket, TicketAnswered, TicketCreated
from services.desk.config import DeskConfig, TeamRule
from services.desk.intake.inbound import Inbound, Person

#: ``lookup(system, user_id)`` -> the person's email, or None when the system does not know them.
Lookup = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class Skip:
    """Something we do not publish, and why (HTTP 200: the sender must not retry it)."""

    reason: str


class Unmappable(Exception):
    """A well-formed payload we cannot make an event of (HTTP 422, dead-lettered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean(text: str, limit: int, what: str) -> str:
    """``text`` as our contracts take it: no NUL, valid Unicode, at most ``limit`` characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Unmappable(f"the {what} contains invalid Unicode (a lone surrogate)") from None
    return text.replace("\x00", "").strip()[:limit]


def _eq(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().lower() == b.strip().lower()


def matches(rule: TeamRule, inbound: Inbound) -> bool:
    """Every field the rule gives matches the ticket (case-insensitive; ``tag``: any label)."""
    checks = [
        (rule.system, inbound.system),
        (rule.project, inbound.project),
        (rule.assignment_group, inbound.assignment_group),
        (rule.category, inbound.category),
        (rule.brand, inbound.brand),
    ]
    if any(want is not None and not _eq(want, have) for want, have in checks):
        return False
    return rule.tag is None or any(_eq(rule.tag, label) for label in inbound.labels)


def team_for(inbound: Inbound, config: DeskConfig) -> str:
    for rule in config.teams:
        if matches(rule, inbound):
            return rule.team
    if config.default_team:
        return config.default_team
    raise Unmappable(
        f"no team rule matches {inbound.system} ticket {inbound.key} (project={inbound.project}, "
        f"assignment_group={inbound.assignment_group}, category={inbound.category}, brand={inbound.brand}, "
        f"tags={inbound.labels}) and no default_team is configured"
    )


async def resolve(person: Person, system: str, config: DeskConfig, lookup: Lookup | None, *, who: str) -> Requester:
    """The person in our directory: their email from the payload, else the configured user map,
    else ``lookup``; refused when none knows them or the email is outside ``directory_domain``."""
    email = (person.email or "").strip() or None
    if email is None and person.user_id:
        email = config.users.get(system, {}).get(person.user_id)  # type: ignore[call-overload]
        if email is None and lookup is not None:
            email = await lookup(system, person.user_id)
    if not email:
        raise Unmappable(
            f"the {who} ({system} user {person.user_id or 'unknown'}) has no email in the payload, in users.{system} "
            f"of the desk configuration, or in {system}'s user directory"
        )
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c == ":" for c in local):
        raise Unmappable(f"the {who}'s email {email!r} is not an address we can take")
    if config.directory_domain and domain != config.directory_domain.lower():
        raise Unmappable(f"the {who}'s email is in {domain}, outside our directory ({config.directory_domain}); refused")
    name = clean(person.name, 200, f"{who}'s name") if person.name else None
    return Requester(id=local, email=address, name=name or None)


def _ours(inbound: Inbound, config: DeskConfig) -> bool:
    system = config.system(inbound.system)
    mine = system.integration_user if system else None
    author = inbound.comment.author if inbound.comment else None
    return bool(mine and author and (_eq(mine, author.user_id) or _eq(mine, author.email) or _eq(mine, author.name)))


async def to_event(
    inbound: Inbound,
    config: DeskConfig,
    *,
    now: datetime,
    asked: bool = False,
    lookup: Lookup | None = None,
) -> TicketCreated | TicketAnswered | Skip:
    """The event to publish for ``inbound``, a ``Skip``, or ``Unmappable``."""
    try:
        return await _to_event(inbound, config, now=now, asked=asked, lookup=lookup)
    except ValidationError as exc:  # a value our contracts refuse (an id too long, an odd email)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise Unmappable(f"the {inbound.system} ticket {inbound.key} does not fit our event: {problems}") from None


async def _to_event(inbound: Inbound, config: DeskConfig, *, now: datetime, asked: bool, lookup: Lookup | None) -> TicketCreated | TicketAnswered | Skip:
    if inbound.kind == "ignored":
        return Skip(f"{inbound.system} event {inbound.event!r} is not one we take in")
    if not inbound.native_id or not inbound.key:
        raise Unmappable(f"the {inbound.system} payload names no ticket")
    cause = f"{inbound.system}:{inbound.native_id}"
    source = f"/upstream/{inbound.system}"
    if inbound.kind == "comment":
        comment = inbound.comment
        if comment is None:
            raise Unmappable(f"the {inbound.system} comment event carries no comment")
        if _ours(inbound, config):
            return Skip("the comment is our own (the integration user's), not a requester's")
        if not comment.public:
            return Skip("the comment is internal (not visible to the requester)")
        if comment.staff:
            return Skip("the comment is by an agent, not by the requester")
        if not asked:
            return Skip(f"no question is waiting on {inbound.key}")
        text = clean(comment.text, MAX_DESCRIPTION, "comment")
        if not text:
            return Skip("the comment is empty")
        author = await resolve(comment.author, inbound.system, config, lookup, who="comment's author")
        event = TicketAnswered.create(
            Answer(ticket_id=inbound.key, text=text),
            source=source,
            team=team_for(inbound, config),
            actor=Actor.human(author.id),
            correlation_id=inbound.key,
            subject=inbound.key,
            id=derived_event_id(cause, TicketAnswered.event_type(), comment.id),
            upstream=cause,
        )
        return event.model_copy(update={"time": now})
    description = clean(inbound.description, MAX_DESCRIPTION, "description")
    title = clean(inbound.title, MAX_TITLE, "title") or description.split("\n", 1)[0][:MAX_TITLE].strip()
    if not title:
        raise Unmappable(f"{inbound.system} ticket {inbound.key} has neither a title nor a description")
    requester = await resolve(inbound.requester, inbound.system, config, lookup, who="requester")
    ticket = Ticket(
        ticket_id=inbound.key,
        title=title,
        description=description,
        requester=requester,
        channel=inbound.channel,
        opened_at=inbound.opened_at,
    )
    event = TicketCreated.create(
        ticket,
        source=source,
        team=team_for(inbound, config),
        actor=Actor.system(inbound.system),
        correlation_id=inbound.key,
        subject=inbound.key,
        id=derived_event_id(cause, TicketCreated.event_type()),
        upstream=cause,
    )
    return event.model_copy(update={"time": now})
