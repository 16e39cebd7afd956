"""Budgets as finance and the authoriser read them: a coworker's month-to-date spend against the
monthly budget in its manifest, one record per budget on the compacted ``budget.state`` topic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg

from contracts.envelope import Actor, derived_event_id
from contracts.events import BudgetState, BudgetStatus, CoworkerState


async def month_to_date(conn: asyncpg.Connection, coworkers: Iterable[str], today: date) -> dict[str, Decimal]:
    rows = await conn.fetch(
        "SELECT coworker, sum(cost_usd) AS spent FROM spend_daily WHERE coworker = ANY($1::text[]) AND day >= $2 GROUP BY coworker",
        list(coworkers),
        today.replace(day=1),
    )
    return {r["coworker"]: r["spent"] for r in rows}


def states(spent: Mapping[str, Decimal], table: Mapping[str, CoworkerState], today: date, *, source: str, actor: Actor) -> list[BudgetState]:
    """One budget record per coworker whose manifest sets a budget; the same spend is the same event."""
    period = today.strftime("%Y-%m")
    out = []
    for name, amount in sorted(spent.items()):
        coworker = table.get(name)
        if coworker is None or coworker.active is None:
            continue
        budget = f"coworker:{name}"
        status = BudgetStatus(budget=budget, period=period, spent_usd=amount, limit_usd=coworker.active.budget.monthly_usd)
        out.append(
            BudgetState(
                id=derived_event_id(f"{budget}:{period}", BudgetState.event_type(), format(amount, "f")),
                time=datetime.now(UTC),
                source=source,
                subject=budget,
                team=coworker.active.team,
                actor=actor,
                correlation_id=budget,
                data=status,
            )
        )
    return out
