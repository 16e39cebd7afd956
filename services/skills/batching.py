"""Run a consumed batch's events concurrently, one ticket's events in order.

Events of different tickets do not share state a request reads or writes (idempotency keys, parked
requests and answers are per ticket), so their work can overlap: the batch then costs about as long
as its slowest ticket rather than the sum of all. One ticket's events run one after another, in the
order consumed, so what a ticket emits keeps its order.

A ticket whose work fails does not cancel the others mid-call (a cancelled request could have
emitted half of what it says): every ticket finishes, then the failure is raised, so the batch is
delivered again and every request in it replays its recorded outcome (same events, same ids).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from runtime.faults import is_transient

E = TypeVar("E")


def ticket_of(event: Any) -> Hashable:
    """The ticket an event is about: ``data.ticket_id``, else its correlation id, else the event itself."""
    data = getattr(event, "data", None)
    return getattr(data, "ticket_id", None) or getattr(event, "correlation_id", None) or ("event", getattr(event, "id", id(event)))


def by_ticket(events: Iterable[E], key: Callable[[E], Hashable] = ticket_of) -> list[list[E]]:
    """``events`` split per ticket, each group in consumed order, the groups in order of first appearance."""
    groups: dict[Hashable, list[E]] = {}
    for event in events:
        groups.setdefault(key(event), []).append(event)
    return list(groups.values())


def first_failure(outcomes: Sequence[BaseException | None]) -> BaseException | None:
    """The failure to raise for the batch: an infrastructure fault first (the batch is then retried as
    is), else the first failure in batch order, else None."""
    failures = [o for o in outcomes if o is not None]
    return next((f for f in failures if is_transient(f)), failures[0] if failures else None)


async def run_per_ticket(events: Sequence[E], handle: Callable[[E], Awaitable[None]], *, limit: int, key: Callable[[E], Hashable] = ticket_of) -> None:
    """``handle`` every event: tickets concurrently (at most ``limit`` at once), one ticket's events in
    order; the first of a ticket's events that fails stops that ticket's later ones. Raises after
    every ticket is done (``first_failure``)."""
    gate = asyncio.Semaphore(max(1, limit))

    async def ticket(group: list[E]) -> None:
        async with gate:
            for event in group:
                await handle(event)

    outcomes = await asyncio.gather(*(ticket(group) for group in by_ticket(events, key)), return_exceptions=True)
    failed = first_failure([o if isinstance(o, BaseException) else None for o in outcomes])
    if failed is not None:
        raise failed
