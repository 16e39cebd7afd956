"""The governance service: every topic in, each event recorded once in the append-only audit trail;
and the coworker lifecycle: ``coworker.command`` in, ``coworker.changed`` + ``coworker.state``
(or ``coworker.rejected``) out."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from contracts import topics
from contracts.catalog import load_catalog
from contracts.codec import AnyEvent, Received
from contracts.events import CoworkerCommanded
from runtime.faults import is_transient
from runtime.service import Service
from services.governance import checkpoints, coworkers
from services.governance.audit import connect_as_governance, heads, record
from services.governance.lifecycle import Accepted, authorised, decide, outcome, state_event
from services.governance.settings import GovernanceSettings

SCHEMA = "governance"

settings = GovernanceSettings()
service = Service("governance", settings, description="Records every event exactly once in an append-only audit trail, and owns the coworker lifecycle.")
service.publishes(topics.COWORKER_CHANGED, topics.COWORKER_REJECTED, topics.COWORKER_STATE)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)
catalog = load_catalog(settings.skills_catalog)
#: Everything the service does after migrating, it does as the role that cannot change the audit trail.
pool: asyncpg.Pool


@service.on_startup
async def connect_as_role() -> None:
    global pool
    assert settings.database_url is not None  # database.open, before this, said so if not
    pool = await connect_as_governance(settings.database_url, SCHEMA, max_size=settings.db_pool_size)


@service.on_shutdown
async def disconnect_role() -> None:
    await pool.close()


_background: list[asyncio.Task[None]] = []


@service.after_startup
async def start_checkpoints() -> None:
    """Every few minutes, a signed checkpoint of the chain heads, when one moved since the last."""
    if settings.audit_checkpoint_interval_s <= 0:
        return
    secret = settings.audit_signing_key or settings.workforce_secrets_key
    if secret is None:
        service.log.warning("audit checkpoints off: set AUDIT_SIGNING_KEY or WORKFORCE_SECRETS_KEY")
        return
    key = checkpoints.key_from(
        settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else None,
        settings.workforce_secrets_key.get_secret_value() if settings.workforce_secrets_key else None,
    )
    database = checkpoints.database_name(settings.database_url or "")

    async def loop() -> None:
        last: dict[str, object] | None = None
        while True:
            await asyncio.sleep(settings.audit_checkpoint_interval_s)
            try:
                async with pool.acquire() as conn:
                    now = await heads(conn)
                    if now and now != last:
                        path, _ = await checkpoints.write(conn, settings.audit_checkpoint_dir, key=key, database=database)
                        service.log.info("audit checkpoint written", path=str(path), teams=len(now))
                        last = dict(now)
            except Exception as exc:  # an outage: try again next time
                service.log.warning("audit checkpoint failed", error=repr(exc))

    _background.append(asyncio.create_task(loop()))


@service.on_shutdown
async def stop_checkpoints() -> None:
    for task in _background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@service.after_startup
async def start_announcing_coworkers() -> None:
    _background.append(asyncio.create_task(announce_coworkers()))


async def announce_coworkers() -> None:
    """Re-assert the coworker table from the database: a broker that lost its topics gets it back.
    In the background, until it succeeds: a database outage at start must not stop the auditing."""
    delay = 0.2
    while True:
        try:
            async with pool.acquire() as conn:
                everyone = await coworkers.load_all(conn)
            now = datetime.now(UTC)
            for coworker in everyone.values():
                await service.publish(state_event(coworker, source=service.source, actor=service.actor, correlation_id=f"coworker:{coworker.name}", at=now))
        except Exception as exc:
            if not is_transient(exc):
                raise
            service.log.warning("coworker table not announced yet", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)
            continue
        if everyone:
            service.log.info("coworker table announced", coworkers=len(everyone))
        return


#: What the audit consumer takes: each record as received, its envelope checked (or, set so, every
#: event fully validated).
Audited = Received if settings.audit_envelope_only else AnyEvent


@service.consumer(*topics.ALL, envelope_only=settings.audit_envelope_only)
async def on_any_event(events: list[Audited]) -> None:  # type: ignore[valid-type]
    """Append every event to the audit trail; a redelivered event is recognised by its id and skipped."""
    async with pool.acquire() as conn:
        new = await record(conn, events)
    service.log.debug("audited", received=len(events), new=new)


@service.consumer(topics.COWORKER_COMMAND, group="lifecycle", max_records=50, first_seen=database)
async def on_coworker_command(events: list[CoworkerCommanded]) -> None:
    """Apply each lifecycle command in order; a redelivered command replays what it did the first time."""
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            produced = await coworkers.replay(conn, event.id)
            if produced is None:
                current = await coworkers.load(conn, event.data.coworker)
                result = authorised(current, event.data, event.actor, admins=settings.workforce_admins) or decide(
                    current, event.data, requirements=catalog.requirements, others=await coworkers.load_all(conn), at=event.time
                )
                if isinstance(result, Accepted) and (current is None or result.coworker != current):
                    await coworkers.save(conn, result.coworker, by=str(event.actor), new_version=result.version if result.new_version else None)
                produced = outcome(event, result, source=service.source, actor=service.actor)
                await coworkers.remember(conn, event.id, produced)
        for out in produced:
            service.emit(out)
        service.log.info("coworker command", coworker=event.data.coworker, command=event.data.command, by=str(event.actor), outcome=produced[0].type, event_id=event.id)
