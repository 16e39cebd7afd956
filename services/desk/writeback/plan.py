"""What writing one of our events back means on its upstream ticket, as a list of numbered steps
(``Op``): pure, so the same event always plans the same steps, and a step's ``index`` is the key
its exactly-once record is kept under."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from contracts.envelope import Envelope
from contracts.events import Child, Escalation, Question, Resolution, Split, TicketEscalated, TicketQuestion, TicketResolved, TicketSplit
from services.desk.config import DeskConfig, EscalationGroup
from services.desk.writeback import notes

Kind = Literal["comment", "resolve", "reassign", "create_child"]
WRITTEN = (TicketQuestion, TicketResolved, TicketEscalated, TicketSplit)


@dataclass(frozen=True)
class UpstreamTicket:
    """The ticket upstream, with what creating its children there needs.

    ``native_id``: Jira's issue id, ServiceNow's sys_id, Zendesk's ticket id; ``key``: Jira's issue
    key (what its paths take), ServiceNow's number, Zendesk's id again. ``project``/``issue_type``:
    Jira's, for a child issue; ``requester_id``: Zendesk's requester (user id); ``caller_id``:
    ServiceNow's caller (sys_user sys_id)."""

    system: Literal["jira", "servicenow", "zendesk"]
    native_id: str
    key: str
    project: str | None = None
    issue_type: str = "Task"
    requester_id: str | None = None
    caller_id: str | None = None

    @classmethod
    def of(cls, ref: str, **details: str) -> UpstreamTicket:
        """From an event's ``upstream`` (``system:id``) and what else is known of the ticket
        (``key`` defaults to the id: right for ServiceNow and Zendesk; Jira's paths want the key)."""
        system, _, native = ref.partition(":")
        if system not in ("jira", "servicenow", "zendesk") or not native:
            raise ValueError(f"upstream {ref!r} is not jira:<id>, servicenow:<sys_id> or zendesk:<id>")
        return cls(system=system, native_id=native, key=details.pop("key", native), **details)  # type: ignore[arg-type]

    @property
    def ref(self) -> str:
        return f"{self.system}:{self.native_id}"

    def __str__(self) -> str:
        return {"jira": f"Jira issue {self.key}", "servicenow": f"ServiceNow incident {self.key}", "zendesk": f"Zendesk ticket #{self.key}"}[self.system]


@dataclass(frozen=True)
class Op:
    """One step. ``comment``: ``text`` (already ending in its marker), ``public`` or internal;
    ``resolve``: ``text`` is the close notes; ``reassign``: ``group``; ``create_child``: ``child``
    with ``title`` and ``text`` (its description, ending in its own marker). A comment listing a
    split's children has ``children`` and is rendered again with their upstream ids once made."""

    index: int
    kind: Kind
    text: str = ""
    public: bool = False
    group: EscalationGroup | None = None
    child: Child | None = None
    title: str = ""
    marker: str = ""
    children: tuple[Child, ...] = field(default=())


def group_name(group: EscalationGroup | None, system: str) -> str | None:
    """The group's name in ``system`` (None when none is configured there)."""
    if group is None:
        return None
    if system == "jira":
        named = [f"assignee {group.jira_assignee}" if group.jira_assignee else "", f"label {group.jira_label}" if group.jira_label else ""]
        return " and ".join(n for n in named if n) or None
    if system == "servicenow":
        return f"group {group.servicenow_group}" if group.servicenow_group else None
    return f"group {group.zendesk_group_id}" if group.zendesk_group_id is not None else None


def plan(event: Envelope, ticket: UpstreamTicket, config: DeskConfig) -> list[Op]:
    """The steps writing ``event`` back to ``ticket``; an event of another type plans none."""
    eid, system = event.id, ticket.system
    data = event.data
    if isinstance(data, Question):
        return [Op(0, "comment", notes.finish(notes.question(data), eid, system), public=True, marker=notes.marker(eid))]
    if isinstance(data, Resolution):
        return [Op(0, "comment", notes.finish(notes.resolution(data), eid, system), public=True, marker=notes.marker(eid)),
                Op(1, "resolve", data.resolution.strip()[:3_900])]
    if isinstance(data, Escalation):
        group = config.escalation_group(data.queue)
        name = group_name(group, system)
        ops = [Op(0, "comment", notes.finish(notes.handoff(data, group=name, system=system), eid, system), public=False, marker=notes.marker(eid))]
        if name is not None:
            ops.append(Op(1, "reassign", group=group))
        return ops
    if isinstance(data, Split):
        ops = [Op(i, "create_child", notes.finish(notes.child(data, c, parent=str(ticket)), eid, system, part=i), child=c, title=c.title, marker=notes.marker(eid, i))
               for i, c in enumerate(data.children)]
        n = len(ops)
        ops.append(Op(n, "comment", notes.finish(notes.split(data), eid, system), public=False, marker=notes.marker(eid), children=tuple(data.children)))
        return ops
    return []
