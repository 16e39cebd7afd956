"""Tickets that hold several requests become linked child tickets, one request each. Pure.

Two ways: a skill that is made of others (onboarding = HR record + badge + app access) expands
into them; and a ticket listing several requests ("reset my password; also I need Jira access")
is cut into segments that each go to a different skill. A child is only split off when its
segment is classified confidently on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.catalog import Catalog
from contracts.events import Ticket

#: Bullets, numbered items, semicolons, and the words people use to add a second request.
_BOUNDARY = re.compile(r"(?:\n\s*(?:[-*\u2022]|\d+[.)])\s+|;|\n\s*\n|\b(?:and also|also|additionally|in addition|plus|another thing|second(?:ly)?)\b[,:]?)", re.IGNORECASE)
MIN_WORDS = 4


@dataclass(frozen=True)
class Part:
    title: str
    skill: str


def segments(ticket: Ticket) -> list[str]:
    """The pieces of a ticket that might be separate requests (just the whole text when there is one)."""
    pieces = [p.strip(" .,:-\n\t") for p in _BOUNDARY.split(ticket.description or "")]
    pieces = [p for p in pieces if len(p.split()) >= MIN_WORDS]
    return pieces if len(pieces) >= 2 else []


def expansion(catalog: Catalog, skill: str, ticket: Ticket) -> list[Part]:
    """The skills a composite skill is made of, for this ticket (a country's variant by the requester's country)."""
    spec = catalog.get(skill)
    if spec is None or not spec.expands_to:
        return []
    country = (ticket.requester.country or "us").lower()
    parts = []
    for child in spec.expands_to:
        name = child.replace("{country}", country)
        if catalog.get(name) is None:
            name = child.replace("{country}", "us")
        child_spec = catalog.get(name)
        assert child_spec is not None
        parts.append(Part(title=f"{child_spec.description.split(' - ')[0].split(',')[0][:80]} ({ticket.title[:80]})", skill=name))
    return parts
