"""The billing service: ``llm.usage`` in, priced from a versioned price table and booked once per
event into roll-ups per team, coworker, skill, model, hour and ticket; budget leases granted to
callers before their calls (``budget.lease.*``); ``budget.state`` (compacted), ``budget.alert`` and a
periodic ``spend.report`` out, for the authoriser and for finance."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts.envelope import derived_event_id
from contracts.events import BudgetLeaseRequested, BudgetLeaseReturned, LlmUsage, SpendReport, TicketResolved
from contracts.topics import (
    BUDGET_ALERT,
    BUDGET_LEASE_GRANTED,
    BUDGET_LEASE_REQUESTED,
    BUDGET_LEASE_RETURNED,
    BUDGET_STATE,
    COWORKER_STATE,
    LLM_USAGE,
    SPEND_REPORT,
    TICKET_RESOLVED,
)
from runtime.service import Service
from services.billing import budgets, leases, reports
from services.billing.config import load_config
from services.billing.ledger import book, split
from services.billing.periods import Period
from services.billing.prices import PriceTable
from services.billing.settings import BillingSettings

SCHEMA = "billing"

settings = BillingSettings()
config = load_config(settings.billing_config)
prices = PriceTable.load(settings.billing_price_table, local=config.local_prices(embed_usd_per_million_tokens=settings.embed_usd_per_million_tokens))
service = Service(
    "billing",
    settings,
    description="Prices and books every model call once per team, coworker, skill and model; grants budget leases before calls; publishes budget state, alerts and spend reports.",
)
service.publishes(BUDGET_STATE, BUDGET_ALERT, BUDGET_LEASE_GRANTED, SPEND_REPORT)
coworkers = service.table(COWORKER_STATE)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)
REPORT_PERIOD = Period("month")


def _budgets() -> budgets.Budgets:
    return budgets.Budgets(config, coworkers.data)


async def _announce(conn, standing: list[budgets.Standing], now: datetime) -> None:  # noqa: ANN001
    """Publish the budgets' state, and each threshold alert once per budget and period."""
    for state in budgets.state_events(standing, source=service.source, actor=service.actor, now=now):
        service.emit(state)
    alerts = await budgets.unsent_alerts(conn, standing, config.alerts_pct)
    if alerts:
        # Sent (and confirmed) before they are marked sent: a crash in between re-sends the same ids.
        await asyncio.gather(*(service.publish(budgets.alert_event(s, pct, source=service.source, actor=service.actor, now=now)) for s, pct in alerts))
        await budgets.mark_sent(conn, alerts)
        for s, pct in alerts:
            service.log.info("budget alert", budget=s.budget.id, period=s.budget.window.label, pct=pct, spent_usd=str(s.spent_usd))


@service.consumer(LLM_USAGE)
async def on_llm_usage(events: list[LlmUsage]) -> None:
    """Price and book each usage event once; publish the state of the budgets it moved, and alerts.
    Usage that cannot be billed (a model with no price, or one its service is not configured to call;
    counts no real call has) is refused: not
    booked, not counted against any budget, dead-lettered with the reason."""
    good, bad = split(events, prices, config.caller_refusal)
    for problem in bad:
        service.refuse(problem.event, problem.code, problem.reason)
        service.log.warning("usage refused", event_id=problem.event.id, ticket_id=problem.event.data.ticket_id, coworker=problem.event.data.coworker, model=problem.event.data.model, reason_code=problem.code)
    now = datetime.now(UTC)
    async with database.pool.acquire() as conn:
        new = await book(conn, good, prices)
        touched = _budgets().touched(((e.team, e.data.coworker or (e.actor.id if e.actor.kind == "coworker" else None), e.data.skill) for e in good), now)
        standing = await budgets.standings(conn, touched, now, grace_s=settings.lease_grace_s)
        await _announce(conn, standing, now)
    service.log.debug("booked", received=len(events), new=new, refused=len(bad))


@service.consumer(BUDGET_LEASE_REQUESTED, group="leases", max_records=500)
async def on_lease_requested(events: list[BudgetLeaseRequested]) -> None:
    """Grant each caller a slice of what every applicable budget has left (zero at the limit)."""
    now = datetime.now(UTC)
    table = _budgets()
    moved: dict[str, budgets.Standing] = {}
    async with database.pool.acquire() as conn:
        for request in events:
            answer, standing = await leases.grant(
                conn, request, table, prices, now, ttl_s=settings.lease_ttl_s, grace_s=settings.lease_grace_s, actor=service.actor, source=service.source, callers=config.caller_refusal
            )
            service.emit(answer)
            moved.update({s.budget.id: s for s in standing if s.budget.of_ticket is None})
            service.log.debug("lease", lease_id=answer.data.lease_id, holder=answer.data.holder, amount_usd=str(answer.data.amount_usd), ticket_id=request.data.ticket_id)
    for state in budgets.state_events(moved.values(), source=service.source, actor=service.actor, now=now):
        service.emit(state)


@service.consumer(BUDGET_LEASE_RETURNED, group="returns", max_records=500)
async def on_lease_returned(events: list[BudgetLeaseReturned]) -> None:
    """A caller is done with a lease: what it did not spend is free again."""
    async with database.pool.acquire() as conn:
        for event in events:
            if await leases.give_back(conn, event) is None:
                service.log.warning("return of an unknown lease", lease_id=event.data.lease_id, holder=event.data.holder, event_id=event.id)


@service.consumer(TICKET_RESOLVED, group="outcomes", max_records=1000)
async def on_ticket_resolved(events: list[TicketResolved]) -> None:
    """Count the tickets a coworker resolved, for the cost per resolved ticket."""
    rows = [(e.data.ticket_id, e.team, e.actor.id, e.time) for e in events if e.actor.kind == "coworker"]
    if rows:
        async with database.pool.acquire() as conn:
            await conn.executemany("INSERT INTO resolved_tickets (ticket_id, team, coworker, resolved_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", rows)


async def publish_reports(now: datetime) -> int:
    """Publish each team's spend.report for this month (and, once, the final one of last month).
    A row per team and period decides which instance publishes, so two instances do not both."""
    every = settings.spend_report_every_s or config.report_every_s
    current = REPORT_PERIOD.window(now)
    previous = REPORT_PERIOD.window(current.start - timedelta(seconds=1))
    sent = 0
    async with database.pool.acquire() as conn:
        for window, final in ((previous, True), (current, False)):
            key = f"final:{window.label}" if final else window.label
            for team in await reports.teams_with_spend(conn, window):
                won = await conn.fetchval(
                    "INSERT INTO reports_sent AS r (team, period, sent_at) VALUES ($1, $2, $3) ON CONFLICT (team, period) DO UPDATE SET sent_at = excluded.sent_at"
                    " WHERE NOT $4 AND r.sent_at <= excluded.sent_at - make_interval(secs => $5) RETURNING 1",
                    team, key, now, final, every,
                )
                if not won:
                    continue
                data = await reports.summary(conn, team, window, config)
                report = SpendReport(
                    id=derived_event_id(f"{team}:{key}", SpendReport.event_type(), now.isoformat() if not final else "final"),
                    time=now, source=service.source, subject=f"team:{team}", team=team, actor=service.actor, correlation_id=f"spend:{team}:{window.label}", data=data,
                )
                await service.publish(report)
                sent += 1
    return sent


@service.after_startup
async def warn_of_ignored_config() -> None:
    if config.default_price is not None:
        service.log.warning("default_price in the billing config is ignored: a model with no price is refused, not priced by a default; remove it", config=str(settings.billing_config))


@service.after_startup
async def start_reports() -> None:
    async def loop() -> None:
        every = settings.spend_report_every_s or config.report_every_s
        while True:
            try:
                await publish_reports(datetime.now(UTC))
            except Exception:  # the next round tries again; a report is never worth a crash
                service.log.exception("spend report failed")
            await asyncio.sleep(min(every, 60.0))

    task = asyncio.create_task(loop(), name="spend-reports")

    @service.on_shutdown
    async def stop_reports() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
