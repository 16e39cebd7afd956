"""The billing service: ``llm.usage`` in; spend per team and coworker per day in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from contracts.events import LlmUsage
from contracts.topics import LLM_USAGE
from runtime.service import Service
from services.billing.ledger import book
from services.billing.settings import BillingSettings

SCHEMA = "billing"

settings = BillingSettings()
service = Service("billing", settings, description="Counts every token against its team and coworker, per day.")
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)


@service.consumer(LLM_USAGE)
async def on_llm_usage(events: list[LlmUsage]) -> None:
    """Book each usage event once against its team, coworker and day."""
    async with database.pool.acquire() as conn:
        new = await book(conn, events)
    service.log.debug("booked", received=len(events), new=new)
