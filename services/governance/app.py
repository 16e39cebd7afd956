"""The governance service: every topic in; each event recorded once in the append-only audit trail."""

from __future__ import annotations

from pathlib import Path

from contracts import topics
from contracts.codec import AnyEvent
from runtime.service import Service
from services.governance.audit import record
from services.governance.settings import GovernanceSettings

SCHEMA = "governance"

settings = GovernanceSettings()
service = Service("governance", settings, description="Records every event of every topic exactly once in an append-only audit trail.")
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)


@service.consumer(*topics.ALL)
async def on_any_event(events: list[AnyEvent]) -> None:  # type: ignore[valid-type]
    """Append every event to the audit trail; a redelivered event is recognised by its id and skipped."""
    async with database.pool.acquire() as conn:
        new = await record(conn, events)
    service.log.debug("audited", received=len(events), new=new)


