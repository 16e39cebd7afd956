"""Who a request is about when its words name someone: "onboard Jane Lee" is about Jane, not about
the manager who asked. Every pair of adjacent words is tried against the directory as a full name;
only a person the directory knows counts, and only when the words name exactly one, so a ticket
never makes a skill guess (it asks instead) and a person is never asked what they already wrote.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

P = TypeVar("P")

#: Words that are never half of a person's name in a ticket.
_NOT_NAMES = frozenset(
    """a an the and or of for to in on at by with from new hire hires starter joiner joiners employee employees
    please onboard onboarding offboard offboarding set up setup start starts starting monday tuesday wednesday
    thursday friday saturday sunday next week day one today tomorrow team our my his her their prepare need needs
    everything accounts account access laptop badge record hr it who is as be will""".split()
)
_WORD = re.compile(r"[a-z][a-z'-]+")
MAX_PAIRS = 25


def name_pairs(text: str) -> list[str]:
    """Adjacent word pairs that could be a first and last name, in order of appearance."""
    words = _WORD.findall(text.lower())
    pairs: list[str] = []
    for first, last in zip(words, words[1:], strict=False):
        pair = f"{first} {last}"
        if first in _NOT_NAMES or last in _NOT_NAMES or pair in pairs:
            continue
        pairs.append(pair)
        if len(pairs) == MAX_PAIRS:
            break
    return pairs


async def named_in(text: str, lookup: Callable[[str], Awaitable[list[P]]], key: Callable[[P], Hashable]) -> list[P]:
    """The distinct people the directory finds for the names in ``text`` (``lookup`` a full name)."""
    found: dict[Hashable, P] = {}
    for pair in name_pairs(text):
        for person in await lookup(pair):
            found.setdefault(key(person), person)
    return list(found.values())
