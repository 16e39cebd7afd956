"""Spend as finance reads it: per team and period, by coworker, skill or model, cost per ticket and
per resolved ticket against the human baseline. Read from the roll-ups; used by the periodic
``spend.report`` and by ``workforce spend``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg

from contracts.events import SpendLine, SpendSummary
from services.billing.config import BillingConfig
from services.billing.periods import Window

By = Literal["team", "coworker", "skill", "model"]
TOP = 5
CENT = Decimal("0.0001")


async def table(conn: asyncpg.Connection, window: Window, *, team: str | None = None, by: By = "coworker") -> list[asyncpg.Record]:
    """Spend in ``window`` per team and ``by`` (biggest first)."""
    key = "team" if by == "team" else by
    return await conn.fetch(
        f"""SELECT team, {key} AS name, sum(calls) AS calls, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
                   sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
            FROM billing.spend_hourly WHERE hour >= $1 AND hour < $2 AND ($3::text IS NULL OR team = $3)
            GROUP BY team, {key} ORDER BY sum(cost_usd) DESC, team, {key}""",
        window.start,
        window.end,
        team,
    )


async def daily(conn: asyncpg.Connection, start: datetime, end: datetime, *, team: str | None = None) -> list[asyncpg.Record]:
    """Spend per UTC day, for the plot."""
    return await conn.fetch(
        """SELECT (hour AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS cost_usd FROM billing.spend_hourly
           WHERE hour >= $1 AND hour < $2 AND ($3::text IS NULL OR team = $3) GROUP BY 1 ORDER BY 1""",
        start,
        end,
        team,
    )


async def teams_with_spend(conn: asyncpg.Connection, window: Window) -> list[str]:
    return [r["team"] for r in await conn.fetch("SELECT DISTINCT team FROM billing.spend_hourly WHERE hour >= $1 AND hour < $2 ORDER BY team", window.start, window.end)]


async def summary(conn: asyncpg.Connection, team: str, window: Window, config: BillingConfig) -> SpendSummary:
    total = await conn.fetchrow(
        "SELECT coalesce(sum(cost_usd), 0) AS cost, coalesce(sum(calls), 0) AS calls, coalesce(sum(prompt_tokens + completion_tokens), 0) AS tokens"
        " FROM billing.spend_hourly WHERE team = $1 AND hour >= $2 AND hour < $3",
        team, window.start, window.end,
    )

    async def top(by: By) -> list[SpendLine]:
        rows = await conn.fetch(
            f"""SELECT {by} AS name, sum(cost_usd) AS cost, sum(calls) AS calls, sum(prompt_tokens + completion_tokens) AS tokens
                FROM billing.spend_hourly WHERE team = $1 AND hour >= $2 AND hour < $3 AND {by} <> ''
                GROUP BY {by} ORDER BY sum(cost_usd) DESC, {by} LIMIT {TOP}""",
            team, window.start, window.end,
        )
        return [SpendLine(name=r["name"], cost_usd=r["cost"], calls=r["calls"], tokens=r["tokens"]) for r in rows]

    tickets = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(cost_usd), 0) AS cost FROM billing.spend_tickets WHERE team = $1 AND first_at >= $2 AND first_at < $3",
        team, window.start, window.end,
    )
    resolved = await conn.fetchval(
        "SELECT count(*) FROM billing.resolved_tickets WHERE team = $1 AND resolved_at >= $2 AND resolved_at < $3", team, window.start, window.end
    )
    versions = [r["price_version"] for r in await conn.fetch(
        "SELECT DISTINCT price_version FROM billing.usage_events WHERE team = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY 1 LIMIT 10",
        team, window.start, window.end,
    )]
    spec = config.teams.get(team)
    baseline = spec.human_cost_per_ticket_usd if spec else None
    budget = spec.budget.limit_usd if spec and spec.budget and spec.budget.period == "month" else None
    cost: Decimal = total["cost"]
    return SpendSummary(
        team=team,
        period=window.label,
        period_start=window.start,
        period_end=window.end,
        cost_usd=cost,
        calls=total["calls"],
        tokens=total["tokens"],
        budget_usd=budget,
        top_coworkers=await top("coworker"),
        top_skills=await top("skill"),
        top_models=await top("model"),
        tickets=tickets["n"],
        resolved_tickets=resolved,
        cost_per_ticket_usd=(tickets["cost"] / tickets["n"]).quantize(CENT) if tickets["n"] else None,
        cost_per_resolved_ticket_usd=(cost / resolved).quantize(CENT) if resolved else None,
        human_cost_per_ticket_usd=baseline,
        savings_usd=(resolved * baseline - cost).quantize(CENT) if baseline is not None else None,
        price_versions=versions,
    )
