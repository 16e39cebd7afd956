"""The skills service: ``skill.requested`` in; ``skill.step`` per action, then ``skill.completed`` and
``ticket.resolved``, or ``skill.failed`` and ``ticket.escalated``, out."""

from __future__ import annotations

from pathlib import Path

from contracts.catalog import load_catalog
from contracts.events import SkillRequested
from contracts.topics import SKILL_COMPLETED, SKILL_FAILED, SKILL_REQUESTED, SKILL_STEP, TICKET_ESCALATED, TICKET_RESOLVED
from runtime.service import Service
from services.skills.password_reset import PASSWORD_RESET
from services.skills.runner import Runner
from services.skills.sandbox.seed import seed_okta
from services.skills.settings import SkillsSettings

SCHEMA = "skills"
SKILLS = {skill.name: skill for skill in (PASSWORD_RESET,)}

settings = SkillsSettings()
service = Service("skills", settings, description="Runs coworkers' skills in bounded, idempotent steps against sandboxed enterprise systems.")
service.publishes(SKILL_STEP, SKILL_COMPLETED, SKILL_FAILED, TICKET_RESOLVED, TICKET_ESCALATED)


database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)
runner = Runner(database, SKILLS, load_catalog(settings.skills_catalog), source=service.source, queue=settings.skills_escalation_queue)


@service.on_startup
async def seed_sandbox() -> None:
    """Put the fake organisation into the sandboxes (once; the seed is deterministic)."""
    async with database.pool.acquire() as conn:
        added = await seed_okta(conn, settings.sandbox_employees)
    if added:
        service.log.info("okta sandbox seeded", employees=added)


@service.consumer(SKILL_REQUESTED, max_records=100)
async def on_skill_requested(events: list[SkillRequested]) -> None:
    """Run each requested skill step by step; a redelivered request replays, it does not act twice."""
    for event in events:
        for out in await runner.run(event):
            service.emit(out)
        service.log.debug("skill ran", ticket_id=event.data.ticket_id, event_id=event.id, coworker=event.data.coworker, skill=event.data.skill)
