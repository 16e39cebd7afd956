"""What a requester or an agent reads on the upstream ticket: plain text, within each system's
limits, ending with the marker line that lets a retried write-back find what an earlier try posted
(``[workforce:<event id>]``). Pure functions; the Jira client turns the text into ADF."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.events import Child, Escalation, Question, Resolution, Split

#: The longest comment each system takes (characters), with room left for the marker: Jira's
#: comment field holds 32,767; a ServiceNow journal entry is kept to 4,000 (the default length of
#: ``sys_journal_field.value`` on many instances); Zendesk's comment body to 64 KB.
LIMITS = {"jira": 32_000, "servicenow": 4_000, "zendesk": 60_000}
ELLIPSIS = "\n[…shortened]"


def marker(event_id: str, part: int | None = None) -> str:
    """The idempotency marker of an event's comment (or of one part, such as a split's child)."""
    return f"[workforce:{event_id}]" if part is None else f"[workforce:{event_id}#{part}]"


def finish(body: str, event_id: str, system: str, *, part: int | None = None) -> str:
    """``body`` cut to ``system``'s limit, then the marker line (never cut)."""
    tail = "\n\n" + marker(event_id, part)
    room = LIMITS.get(system, 4_000) - len(tail)
    text = body.strip()
    if len(text) > room:
        text = text[: room - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return text + tail


def question(q: Question) -> str:
    """A question to the requester, as a public comment they answer by replying."""
    return f"{q.question.strip()}\n\nPlease reply on this ticket; your answer goes straight back to the work on your request."


def resolution(r: Resolution) -> str:
    return f"Resolved: {r.resolution.strip()}"


def _section(title: str, lines: Sequence[str]) -> str:
    return f"{title}\n" + "\n".join(lines) if lines else ""


def handoff(e: Escalation, *, group: str | None, system: str) -> str:
    """The internal note a person taking over reads: what was asked, what was tried, why, what is
    known, what to do first, and the skills considered. ``group``: where it was reassigned (None: no
    group configured, said so the note is not silently unrouted)."""
    h = e.handoff
    asked = [h.ticket.title.strip()]
    if h.ticket.description.strip():
        asked.append(h.ticket.description.strip()[:2_000])
    who = h.ticket.requester.email or h.ticket.requester.name or h.ticket.requester.id
    asked.append(f"Requester: {who}")
    tried = [f"- {a.what}: {a.outcome.replace('_', ' ')}" + (f" ({a.detail.strip()[:300]})" if a.detail.strip() else "") for a in h.tried]
    why = [e.reason.strip()] + ([h.why.strip()] if h.why.strip() and h.why.strip() != e.reason.strip() else [])
    facts = [f"- {f}" for f in h.facts]
    if e.category:
        facts.insert(0, f"- category: {e.category}")
    if e.priority:
        facts.insert(1 if e.category else 0, f"- priority: {e.priority}")
    candidates = [f"- {c.skill}" + (f" ({c.coworker})" if c.coworker else "") + f": {c.score:.2f}" for c in h.candidates]
    routed = f"Reassigned to {group}." if group else f"No {system} group is configured for queue '{e.queue}': assign this ticket by hand."
    parts = [
        f"Escalated to a person (queue {e.queue}, {e.reason_code.replace('_', ' ')}). {routed}",
        _section("What was asked", asked),
        _section("What was tried", tried or ["- nothing yet"]),
        _section("Why it needs a person", why),
        _section("What we know", facts),
        _section("What to do first", [h.next_action.strip()] if h.next_action.strip() else []),
        _section("Skills considered", candidates),
    ]
    return "\n\n".join(p for p in parts if p)


def split(s: Split, created: Sequence[tuple[Child, str]] = ()) -> str:
    """The internal note on the parent listing its linked children (with their ids upstream, once made)."""
    refs = dict((c.ticket_id, ref) for c, ref in created)
    lines = [f"- {c.title}" + (f": {refs[c.ticket_id]}" if c.ticket_id in refs else "") + f" (skill {c.skill})" for c in s.children]
    return f"Split into {len(s.children)} linked tickets, one request each ({s.reason.strip() or s.category}):\n" + "\n".join(lines)


def child(s: Split, c: Child, *, parent: str) -> str:
    """The description of a child ticket: its one request, and which ticket it came from."""
    return f"{c.title}\n\nSplit from {parent}: that ticket held several requests; this one tracks one of them."
