"""How urgent a ticket is, P1 (drop everything) to P4 (when convenient), and why. Pure.

Rules a service-desk lead would write, read from the ticket's words and its requester:
outage signals and wide impact make P1; urgency words or a blocked person make P2/P3; a VIP
requester raises the priority by one; questions and purchases are P4. The reason names the
signals found, so a person can disagree with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.events import Priority, Ticket
from services.triage.classifier import normalise


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b")


OUTAGE = _words("outage", "is down", "are down", "went down", "production down", "prod down", "site down", "service down", "not reachable", "unavailable for everyone", "security incident", "breach", "ransomware", "phishing", "data leak")
WIDE = _words("everyone", "all users", "whole team", "entire team", "entire office", "whole office", "all staff", "company wide", "nobody can", "no one can", "many users", "several users", "customers")
URGENT = _words("urgent", "urgently", "asap", "as soon as possible", "immediately", "critical", "emergency", "right now", "deadline today", "by end of day", "eod")
BLOCKED = _words("cannot log in", "can not log in", "cant log in", "cannot login", "locked out", "cannot work", "can not work", "blocked", "not working", "does not work", "doesnt work", "crashes", "will not start", "wont start")
LOW = _words("how do i", "how to", "question", "when convenient", "no rush", "not urgent", "purchase", "order", "quote", "renew")

_ORDER: list[Priority] = ["P1", "P2", "P3", "P4"]


@dataclass(frozen=True)
class Urgency:
    priority: Priority
    reason: str


def prioritise(ticket: Ticket) -> Urgency:
    text = normalise(ticket.text)
    found = lambda pattern: sorted({m.group(0) for m in pattern.finditer(text)})  # noqa: E731
    outage, wide, urgent, blocked, low = found(OUTAGE), found(WIDE), found(URGENT), found(BLOCKED), found(LOW)
    if outage and (wide or urgent):
        level, why = 0, f"outage signals ({', '.join(outage)}) with wide impact or urgency ({', '.join(wide + urgent)})"
    elif outage or wide:
        level, why = 1, f"{'outage signals (' + ', '.join(outage) + ')' if outage else 'wide impact (' + ', '.join(wide) + ')'}"
    elif urgent:
        level, why = 1, f"urgency words ({', '.join(urgent)})"
    elif blocked:
        level, why = 2, f"one person blocked ({', '.join(blocked)})"
    elif low:
        level, why = 3, f"a question or a request that can wait ({', '.join(low)})"
    else:
        level, why = 2, "no urgency or impact signals"
    if ticket.requester.vip and level > 0:
        level, why = level - 1, f"{why}; raised one level: VIP requester"
    return Urgency(_ORDER[level], why)
