"""The billing service: ``llm.usage`` in; spend per team and coworker per day in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from datetime import UTC, datetime

from contracts.events import LlmUsage
from contracts.topics import BUDGET_STATE, COWORKER_STATE, LLM_USAGE
from runtime.service import Service
from services.billing import budgets
from services.billing.ledger import book
from services.billing.settings import BillingSettings

SCHEMA = "billing"

settings = BillingSettings()
service = Service("billing", settings, description="Counts every token against its team and coworker, per day, and publishes each coworker's budget state.")
service.publishes(BUDGET_STATE)
coworkers = service.table(COWORKER_STATE)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)


@service.consumer(LLM_USAGE)
async def on_llm_usage(events: list[LlmUsage]) -> None:
    """Book each usage event once against its team, coworker and day; publish the budgets it moved."""
    today = datetime.now(UTC).date()
    async with database.pool.acquire() as conn:
        new = await book(conn, events)
        spenders = {e.data.coworker for e in events if e.data.coworker}
        spent = await budgets.month_to_date(conn, spenders, today) if spenders else {}
    table = coworkers.data
    for state in budgets.states(spent, table, today, source=service.source, actor=service.actor):
        service.emit(state)
    service.log.debug("booked", received=len(events), new=new)
