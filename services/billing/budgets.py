"""Budgets: which apply to a call, how much of each is spent and leased, and their state for the
compacted ``budget.state`` topic. Nested budgets all apply: the team's, the coworker's (its
manifest), the skill's (per team), and the per-ticket cap (the smaller of the team's and the
coworker's). Spend and leases are read in one statement, so a budget's state is one snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Actor, derived_event_id
from contracts.events import BudgetAlert, BudgetState, BudgetStatus, BudgetThreshold, CoworkerState
from services.billing.config import BillingConfig
from services.billing.periods import Window

#: A ticket's cap has no period: it holds for the ticket's whole life.
ALWAYS = Window("month", "ticket", datetime(2000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Budget:
    id: str  # team:it-support, coworker:jordan, skill:it-support/password-reset, ticket:it-support/T-1
    team: str  # whose money it is (the topic key of its alerts)
    limit_usd: Decimal
    window: Window
    # what it counts: spend of this team, coworker, skill (within team) or ticket (within team)
    of_team: str | None = None
    of_coworker: str | None = None
    of_skill: str | None = None
    of_ticket: str | None = None


@dataclass(frozen=True)
class Standing:
    budget: Budget
    spent_usd: Decimal
    reserved_usd: Decimal

    @property
    def available_usd(self) -> Decimal:
        return self.budget.limit_usd - self.spent_usd - self.reserved_usd

    @property
    def used_pct(self) -> Decimal:
        if self.budget.limit_usd <= 0:
            return Decimal(100) if self.spent_usd > 0 else Decimal(0)
        return self.spent_usd * 100 / self.budget.limit_usd

    def status(self) -> BudgetStatus:
        return BudgetStatus(
            budget=self.budget.id,
            period=self.budget.window.label,
            spent_usd=self.spent_usd,
            limit_usd=self.budget.limit_usd,
            reserved_usd=self.reserved_usd,
            period_start=self.budget.window.start,
            period_end=self.budget.window.end,
        )

    def refusal(self) -> str:
        b = self.budget
        resets = "never (a ticket's cap)" if b.of_ticket else f"{b.window.end:%Y-%m-%dT%H:%MZ}"
        return f"budget {b.id} is spent: {self.spent_usd:.4f} of {b.limit_usd} USD in {b.window.label} ({self.reserved_usd:.4f} leased to calls in flight); resets {resets}"


class Budgets:
    """The budgets that exist now: the configuration file's, and each active coworker's manifest."""

    def __init__(self, config: BillingConfig, coworkers: Mapping[str, CoworkerState]) -> None:
        self.config, self.coworkers = config, coworkers

    def _manifest(self, coworker: str | None) -> Any:
        row = self.coworkers.get(coworker) if coworker else None
        return row.active if row is not None and row.active is not None else None

    def chain(self, team: str, coworker: str | None, skill: str | None, now: datetime) -> list[Budget]:
        """Every period budget a call by ``coworker`` for ``skill`` on ``team``'s work counts against."""
        out = []
        spec = self.config.teams.get(team)
        if spec is not None and spec.budget is not None:
            out.append(Budget(f"team:{team}", team, spec.budget.limit_usd, spec.budget.rule.window(now), of_team=team))
        manifest = self._manifest(coworker)
        if manifest is not None:
            rule = self.config.coworker_period.rule
            out.append(Budget(f"coworker:{coworker}", manifest.team, manifest.budget.monthly_usd, rule.window(now), of_coworker=coworker))
        if spec is not None and skill and skill in spec.skills:
            skill_spec = spec.skills[skill]
            out.append(Budget(f"skill:{team}/{skill}", team, skill_spec.limit_usd, skill_spec.rule.window(now), of_team=team, of_skill=skill))
        return out

    def ticket_cap(self, team: str, coworker: str | None) -> Decimal | None:
        caps = []
        spec = self.config.teams.get(team)
        if spec is not None and spec.per_ticket_usd is not None:
            caps.append(spec.per_ticket_usd)
        manifest = self._manifest(coworker)
        if manifest is not None and manifest.budget.per_ticket_usd is not None:
            caps.append(manifest.budget.per_ticket_usd)
        return min(caps) if caps else None

    def ticket(self, team: str, coworker: str | None, ticket_id: str) -> Budget | None:
        cap = self.ticket_cap(team, coworker)
        if cap is None:
            return None
        return Budget(f"ticket:{team}/{ticket_id}", team, cap, ALWAYS, of_team=team, of_ticket=ticket_id)

    def touched(self, calls: Iterable[tuple[str, str | None, str | None]], now: datetime) -> list[Budget]:
        """The period budgets that these (team, coworker, skill) calls count against, each once."""
        seen: dict[str, Budget] = {}
        for team, coworker, skill in calls:
            for budget in self.chain(team, coworker, skill, now):
                seen.setdefault(budget.id, budget)
        return list(seen.values())


# One statement, one snapshot: spend (from the hourly roll-up, or the ticket's total) and what open
# leases still hold (granted and not yet booked; or returned and reported but not yet booked).
STANDING = """
WITH b (budget, of_team, of_coworker, of_skill, of_ticket, start_at, end_at) AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
)
SELECT b.budget,
       CASE WHEN b.of_ticket IS NOT NULL THEN
           (SELECT coalesce(sum(t.cost_usd), 0) FROM spend_tickets t WHERE t.team = b.of_team AND t.ticket_id = b.of_ticket)
       ELSE
           (SELECT coalesce(sum(h.cost_usd), 0) FROM spend_hourly h
             WHERE h.hour >= b.start_at AND h.hour < b.end_at
               AND (b.of_team IS NULL OR h.team = b.of_team)
               AND (b.of_coworker IS NULL OR h.coworker = b.of_coworker)
               AND (b.of_skill IS NULL OR h.skill = b.of_skill))
       END AS spent,
       (SELECT coalesce(sum(CASE
                WHEN l.used_usd IS NOT NULL THEN greatest(l.used_usd - l.booked_usd, 0)
                ELSE greatest(l.amount_usd - l.booked_usd, 0) END), 0)
          FROM leases l
         WHERE b.budget = ANY(l.budgets) AND l.amount_usd IS NOT NULL
           AND ((l.used_usd IS NULL AND l.returned_at IS NULL AND l.expires_at + make_interval(secs => $8) > $9)
             OR (l.used_usd IS NOT NULL AND l.used_usd > l.booked_usd AND l.returned_at + make_interval(secs => $10) > $9))
       ) AS reserved
FROM b
"""

#: A returned lease whose reported usage never arrives (dead-lettered, say) stops holding money after this.
RETURNED_HOLD_S = 600.0


async def standings(conn: asyncpg.Connection, budgets: list[Budget], now: datetime, *, grace_s: float) -> list[Standing]:
    if not budgets:
        return []
    rows = await conn.fetch(
        STANDING,
        [b.id for b in budgets],
        [b.of_team for b in budgets],
        [b.of_coworker for b in budgets],
        [b.of_skill for b in budgets],
        [b.of_ticket for b in budgets],
        [b.window.start for b in budgets],
        [b.window.end for b in budgets],
        grace_s,
        now,
        RETURNED_HOLD_S,
    )
    by_id = {r["budget"]: r for r in rows}
    return [Standing(b, by_id[b.id]["spent"], by_id[b.id]["reserved"]) for b in budgets]


def state_events(standing: Iterable[Standing], *, source: str, actor: Actor, now: datetime) -> list[BudgetState]:
    """One record per budget (keyed by its id); the same state is the same event id."""
    out = []
    for s in standing:
        status = s.status()
        fingerprint = f"{status.spent_usd}:{status.reserved_usd}:{status.limit_usd}"
        out.append(
            BudgetState(
                id=derived_event_id(f"{s.budget.id}:{status.period}", BudgetState.event_type(), fingerprint),
                time=now,
                source=source,
                subject=s.budget.id,
                team=s.budget.team,
                actor=actor,
                correlation_id=s.budget.id,
                data=status,
            )
        )
    return out


def crossed(standing: Standing, thresholds: Iterable[int]) -> list[int]:
    """The alert thresholds (percent) that this budget's spend has reached."""
    return sorted(p for p in thresholds if standing.used_pct >= p and (standing.spent_usd > 0 or p == 0))


def alert_event(standing: Standing, pct: int, *, source: str, actor: Actor, now: datetime) -> BudgetAlert:
    b = standing.budget
    data = BudgetThreshold(budget=b.id, period=b.window.label, threshold_pct=pct, spent_usd=standing.spent_usd, limit_usd=b.limit_usd)
    return BudgetAlert(
        id=derived_event_id(f"{b.id}:{b.window.label}", BudgetAlert.event_type(), pct),
        time=now,
        source=source,
        subject=b.id,
        team=b.team,
        actor=actor,
        correlation_id=b.id,
        data=data,
    )


async def unsent_alerts(conn: asyncpg.Connection, standing: list[Standing], thresholds: list[int]) -> list[tuple[Standing, int]]:
    wanted = [(s, p) for s in standing for p in crossed(s, thresholds)]
    if not wanted:
        return []
    sent = {
        (r["budget"], r["period"], r["pct"])
        for r in await conn.fetch(
            "SELECT budget, period, pct FROM alerts_sent WHERE budget = ANY($1::text[])", list({s.budget.id for s, _ in wanted})
        )
    }
    return [(s, p) for s, p in wanted if (s.budget.id, s.budget.window.label, p) not in sent]


async def mark_sent(conn: asyncpg.Connection, alerts: list[tuple[Standing, int]]) -> None:
    await conn.executemany(
        "INSERT INTO alerts_sent (budget, period, pct) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(s.budget.id, s.budget.window.label, p) for s, p in alerts],
    )
