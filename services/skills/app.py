"""The skills service: ``skill.requested`` in; a policy decision and a ``skill.step`` per action, then
``skill.completed`` + ``ticket.resolved``, or ``skill.failed`` + ``ticket.escalated`` out.
Supervised steps wait for ``approval.granted`` / ``approval.rejected``; ``coworker.state`` keeps
each coworker's credentials in step with its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from contracts.catalog import load_catalog
from contracts.events import ApprovalGranted, ApprovalRejected, CoworkerStated, MemoryRecalled, SkillRequested, TicketAnswered
from contracts.topics import (
    APPROVAL_GRANTED,
    APPROVAL_REJECTED,
    APPROVAL_REQUESTED,
    BUDGET_STATE,
    COWORKER_STATE,
    MEMORY_RECALL_REQUESTED,
    MEMORY_RECALLED,
    POLICY_ALLOWED,
    POLICY_CHANGED,
    POLICY_DENIED,
    SKILL_COMPLETED,
    SKILL_FAILED,
    SKILL_REQUESTED,
    SKILL_STEP,
    TICKET_ANSWERED,
    TICKET_ESCALATED,
    TICKET_QUESTION,
    TICKET_RESOLVED,
)
from runtime.service import Service
from services.skills import credentials
from services.skills.batching import run_per_ticket
from services.skills.credentials import Vault
from services.skills.identity import NotTheRequester
from services.skills.issuer import Issuer, IssuerError
from services.skills.library import SKILLS, check
from services.skills.mcp_server import Listener, SkillTools, serve
from services.skills.policy_file import announce, load_policy
from services.skills.registry import Registry
from services.skills.runner import Runner
from services.skills.settings import SkillsSettings
from services.skills.systems import Systems

SCHEMA = "skills"

settings = SkillsSettings()
service = Service("skills", settings, description="Runs coworkers' skills in bounded, authorised, idempotent steps against the enterprise systems, over their HTTP APIs.")
service.publishes(SKILL_STEP, SKILL_COMPLETED, SKILL_FAILED, TICKET_RESOLVED, TICKET_ESCALATED, TICKET_QUESTION, SKILL_REQUESTED, POLICY_ALLOWED, POLICY_DENIED, POLICY_CHANGED, APPROVAL_REQUESTED, MEMORY_RECALL_REQUESTED)
database = service.database(SCHEMA, Path(__file__).parent / "migrations", pool_size=settings.db_pool_size)
vault = Vault(settings.workforce_secrets_key)
registry = Registry(service.table(COWORKER_STATE), service.table(BUDGET_STATE))
catalog = load_catalog(settings.skills_catalog)
policy = load_policy(settings.skills_policy)  # a file that does not hold stops the service here, naming every problem
policy_table = service.table(POLICY_CHANGED)
systems = Systems(settings.skills_systems, mcp=settings.skills_mcp_servers, rate_limits=settings.skills_rate_limits)
issuer = Issuer(settings.skills_credential_issuer, settings.skills_issuer_token) if settings.skills_credential_issuer else None
runner = Runner(database, registry, vault, SKILLS, catalog, source=service.source, queue=settings.skills_escalation_queue, systems=systems, policy=policy, recall_tokens=settings.skills_recall_tokens, recall_timeout_s=settings.skills_recall_timeout_s, issuer=issuer)
check(SKILLS, catalog)
mcp_endpoint: list[Listener] = []


@service.on_startup
async def check_vault() -> None:
    """Stop at start-up, with what to do, when credentials could not be sealed."""
    vault.check()


@service.after_startup
async def announce_policy() -> None:
    """Announce the policy file as ``policy.changed`` when it is not the one last announced."""
    changed = await announce(policy_table, policy, service.publish, source=service.source)
    if changed is not None:
        service.log.warning("policy changed", version=policy.version, sha256=policy.sha256, previous_version=changed.data.previous_version, previous_sha256=changed.data.previous_sha256)
    service.log.info("policy in force", version=policy.version, sha256=policy.sha256, path=policy.path)


@service.after_startup
async def reconcile_credentials() -> None:
    """Bring every coworker's credentials in line with the table (a lost key, a missed event)."""
    for row in registry.coworkers:
        async with database.pool.acquire() as conn, conn.transaction():
            await registry.remember(conn, row)
        try:
            changed = await credentials.reconcile(database.pool, vault, row.data, issuer)
        except IssuerError as exc:
            service.log.warning("credentials not reconciled", coworker=row.data.coworker, error=str(exc))
            continue
        if changed:
            service.log.info("credentials", coworker=row.data.coworker, changes=changed)


@service.after_startup
async def start_mcp() -> None:
    """Serve every skill as an MCP tool (``SKILLS_MCP_PORT``; 0 turns it off). A port in use is
    logged and skipped: the service's work is its topics, not this door."""
    if not settings.skills_mcp_port:
        return
    tools = SkillTools(runner, settings.workforce_secrets_key, service.publish)
    try:
        mcp_endpoint.append(await serve(lambda url: tools.app(url, host=settings.skills_mcp_host), settings.skills_mcp_host, settings.skills_mcp_port))
    except OSError as exc:
        service.log.error("MCP endpoint not started", host=settings.skills_mcp_host, port=settings.skills_mcp_port, error=str(exc))
        return
    service.log.info("MCP endpoint", url=mcp_endpoint[0].url, tools=len(tools.tools))


async def stop_mcp() -> None:
    """Stop taking MCP calls before the broker goes (a call's events are published as it ends)."""
    while mcp_endpoint:
        await mcp_endpoint.pop().stop()


service.app.on_shutdown(stop_mcp)
service.app.on_shutdown(systems.close)
_sweeper: list[asyncio.Task[None]] = []


@service.after_startup
async def start_recall_sweep() -> None:
    _sweeper.append(asyncio.create_task(_recall_sweep()))


async def stop_recall_sweep() -> None:
    for task in _sweeper:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


service.app.on_shutdown(stop_recall_sweep)


async def _recall_sweep() -> None:
    """A request waiting for memory longer than ``skills_recall_timeout_s`` runs without its recall:
    memory being down slows a skill that asks it, and does not stop it."""
    while True:
        await asyncio.sleep(max(0.5, settings.skills_recall_timeout_s / 4))
        try:
            for out in await runner.overdue_recalls(settings.skills_recall_timeout_s):
                await service.publish(out)
        except Exception as exc:  # tried again at the next sweep
            service.log.warning("recall sweep failed", error=repr(exc))


@service.consumer(SKILL_REQUESTED, max_records=100)
async def on_skill_requested(events: list[SkillRequested]) -> None:
    """Run each requested skill step by step; a redelivered request replays, it does not act twice.
    Requests an MCP call already ran replay too: if that process died mid-way, the work finishes here."""
    # The batch's tickets run concurrently (SKILLS_CONCURRENCY), each ticket's requests in order (batching.py).

    async def run(event: SkillRequested) -> None:
        for out in await runner.run(event):
            service.emit(out)
        service.log.debug("skill ran", ticket_id=event.data.ticket_id, event_id=event.id, coworker=event.data.coworker, skill=event.data.skill)

    await run_per_ticket(events, run, limit=settings.concurrency)


@service.consumer(APPROVAL_GRANTED, APPROVAL_REJECTED, group="approvals", max_records=100, first_seen=database)
async def on_approval(events: list[ApprovalGranted | ApprovalRejected]) -> None:
    """Record a manager's decision and resume the request that waited for it."""

    async def decide(event: ApprovalGranted | ApprovalRejected) -> None:
        for out in await runner.decided(event):
            service.emit(out)
        service.log.info("approval decided", ticket_id=event.data.ticket_id, approval_id=event.data.approval_id, by=str(event.actor), granted=event.type == "approval.granted")

    await run_per_ticket(events, decide, limit=settings.concurrency)


@service.consumer(COWORKER_STATE, group="coworkers", max_records=100)
async def on_coworker_state(events: list[CoworkerStated]) -> None:
    """Keep every announced manifest version, and each coworker's credentials in step with its state."""
    for event in events:
        async with database.pool.acquire() as conn, conn.transaction():
            await registry.remember(conn, event)
        try:
            changed = await credentials.reconcile(database.pool, vault, event.data, issuer)
        except IssuerError as exc:  # tried again at the next start, or the coworker's next change
            service.log.warning("credentials not reconciled", coworker=event.data.coworker, error=str(exc))
            continue
        if changed:
            service.log.info("credentials", coworker=event.data.coworker, state=event.data.state.value, changes=changed)


@service.consumer(MEMORY_RECALLED, group="recall", max_records=100)
async def on_recall(events: list[MemoryRecalled]) -> None:
    """Memory answered a skill's recall: run the request that asked, on the answer."""

    async def resume(event: MemoryRecalled) -> None:
        for out in await runner.recalled(event):
            service.emit(out)

    await run_per_ticket(events, resume, limit=settings.concurrency)


@service.consumer(TICKET_ANSWERED, group="answers", max_records=100, first_seen=database)
async def on_answer(events: list[TicketAnswered]) -> None:
    """A requester answered a skill's question: resume the request that asked. An answer from
    anyone else is not applied (the request keeps waiting) and is dead-lettered as ``not_a_writer``."""

    async def resume(event: TicketAnswered) -> None:
        try:
            resumed = await runner.answered(event)
        except NotTheRequester as refused:
            service.log.warning("answer refused", ticket_id=event.data.ticket_id, event_id=event.id, by=str(event.actor), reason=refused.reason)
            service.refuse(event, "not_a_writer", refused.reason)
            return
        for out in resumed:
            service.emit(out)

    await run_per_ticket(events, resume, limit=settings.concurrency)
