"""Run a skill for one request: authorise every step, act at most once, and say what happened in events.

Before each step the authoriser decides on the facts as they are *now* (so a coworker suspended
mid-flight stops before its next step), on the manifest version the work started with; the
decision is an event. A supervised step asks the coworker's manager and waits without holding
anything: the request is parked, and resumed when the decision arrives as an event. A step's
outcome is stored under its idempotency key (ticket, skill, step) in the same transaction as its
action on the sandbox; a redelivered request replays what was recorded instead of acting again.
Work a coworker holds only through its sub-agents is handed down, and the receiver's own
authorisation applies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from contracts.catalog import Catalog
from contracts.coworkers import CoworkerManifest, LifecycleState, path_to_holder
from contracts.envelope import Actor, Envelope, derived_event_id
from contracts.events import (
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRequest,
    ApprovalRequested,
    Attempt,
    Delegation,
    Escalation,
    Handoff,
    PolicyAllowed,
    PolicyDecision,
    PolicyDenied,
    Resolution,
    SkillCompleted,
    SkillFailed,
    SkillFailure,
    SkillOutcome,
    SkillRequest,
    SkillRequested,
    SkillStep,
    StepRecord,
    TicketEscalated,
    TicketResolved,
    Turn,
)
from runtime.db import Database
from runtime.redact import redact
from services.skills import credentials
from services.skills.credentials import Vault
from services.skills.policy import Decision, Facts, authorize, delegation
from services.skills.registry import Registry
from services.skills.skill import Skill, Step, StepContext, StepFailed


@dataclass(frozen=True)
class StepRun:
    status: str  # done | failed
    outputs: Mapping[str, Any]
    error_code: str | None = None
    error: str | None = None
    decision: dict[str, Any] | None = None


def idempotency_key(request: SkillRequested, step: int) -> str:
    return f"{request.data.ticket_id}:{request.data.skill}:{step}"


def approval_id(request: SkillRequested, step: int) -> str:
    return derived_event_id(request.id, "approval", step)


async def recorded(conn: asyncpg.Connection, event: SkillRequested, number: int) -> StepRun | None:
    """The step's recorded outcome, if it counts for this request: a done step always does; a
    refused one only for the request it refused (a new request may try again)."""
    row = await conn.fetchrow("SELECT status, outputs, error_code, error, request_id, decision FROM step_runs WHERE idempotency_key = $1", idempotency_key(event, number))
    if row is None or (row["status"] != "done" and row["request_id"] != event.id):
        return None
    return StepRun(row["status"], json.loads(row["outputs"]), row["error_code"], row["error"], json.loads(row["decision"]) if row["decision"] else None)


async def execute(pool: asyncpg.Pool, step: Step, number: int, event: SkillRequested, earlier: Mapping[str, Mapping[str, Any]], *, credential: str | None, decision: Decision) -> StepRun:
    """Run an authorised step unless its outcome is already recorded; either way return the outcome."""
    key = idempotency_key(event, number)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        if (already := await recorded(conn, event, number)) is not None:
            return already
        try:
            async with conn.transaction():  # a savepoint: a refused action leaves nothing behind
                outputs = await step.run(StepContext(conn, event.data, key, earlier, credential))
            run = StepRun("done", outputs, decision=_decision_record(decision))
        except StepFailed as failed:
            run = StepRun("failed", {}, failed.code, failed.reason, _decision_record(decision))
        await _store(conn, event, number, run)
        return run


async def refuse(pool: asyncpg.Pool, event: SkillRequested, number: int, decision: Decision, code: str) -> StepRun:
    """Record that a step was not authorised, so a redelivery replays the refusal."""
    run = StepRun("failed", {}, code, decision.reason, _decision_record(decision))
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", idempotency_key(event, number))
        if (already := await recorded(conn, event, number)) is not None:
            return already
        await _store(conn, event, number, run)
    return run


async def _store(conn: asyncpg.Connection, event: SkillRequested, number: int, run: StepRun) -> None:
    await conn.execute(
        "INSERT INTO step_runs (idempotency_key, ticket_id, skill, step, coworker, status, outputs, error_code, error, request_id, decision)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (idempotency_key) DO UPDATE SET status = excluded.status, outputs = excluded.outputs,"
        " error_code = excluded.error_code, error = excluded.error, request_id = excluded.request_id,"
        " decision = excluded.decision, finished_at = now()",
        idempotency_key(event, number),
        event.data.ticket_id,
        event.data.skill,
        number,
        event.data.coworker,
        run.status,
        json.dumps(redact(dict(run.outputs))),  # secrets are never stored
        run.error_code,
        run.error,
        event.id,
        json.dumps(run.decision) if run.decision else None,
    )


def _decision_record(decision: Decision) -> dict[str, Any]:
    return {"allowed": decision.allowed, "rule": decision.rule, "reason": decision.reason, "inputs": redact(decision.inputs)}


class Runner:
    def __init__(self, database: Database, registry: Registry, vault: Vault, skills: Mapping[str, Skill], catalog: Catalog, *, source: str, queue: str, max_hops: int = 3) -> None:
        self.database, self.registry, self.vault = database, registry, vault
        self.skills, self.catalog = skills, catalog
        self.source, self.queue, self.max_hops = source, queue, max_hops

    @property
    def pool(self) -> asyncpg.Pool:
        return self.database.pool

    async def facts(self, request: SkillRequest) -> Facts:
        async with self.pool.acquire() as conn:
            return await self.registry.facts(conn, request.coworker, request.coworker_version)

    # --- a request ------------------------------------------------------------------------

    async def run(self, event: SkillRequested) -> list[Envelope]:
        """The events that record this request's decisions, steps and outcome, in order."""
        events = await self._run(event)
        if not events or not isinstance(events[-1], ApprovalRequested):
            # The request is over (done, refused, failed or handed on): nothing waits any more. The
            # row stays, so a redelivered decision replays this outcome rather than losing it.
            await self.pool.execute("UPDATE pending_requests SET finished_at = coalesce(finished_at, now()) WHERE request_id = $1", event.id)
        return events

    async def _run(self, event: SkillRequested) -> list[Envelope]:
        request = event.data
        facts = await self.facts(request)
        taking = authorize(facts, skill=request.skill)
        if not taking.allowed:
            if taking.rule == "holds-skill" and facts.manifest is not None:
                handed = await self._hand_down(event, facts)
                if handed is not None:
                    return handed
            return [self._decision_event(event, facts, taking, "take")] + self._failed(event, facts, "policy_denied", taking.reason, step=None, tried=[])
        skill = self.skills.get(request.skill)
        if skill is None:
            available = ", ".join(sorted(self.skills))
            reason = f"this deployment does not run {request.skill!r} yet; it runs: {available}"
            return self._failed(event, facts, "skill_unavailable", reason, step=None, tried=[], to_manager=False)
        return await self._steps(event, skill)

    async def _steps(self, event: SkillRequested, skill: Skill) -> list[Envelope]:
        request = event.data
        out: list[Envelope] = []
        outputs: dict[str, Mapping[str, Any]] = {}
        tried: list[Attempt] = []
        for number, step in enumerate(skill.steps, start=1):
            async with self.pool.acquire() as conn:
                run = await recorded(conn, event, number)
            facts = await self.facts(request)
            if run is None:
                decision = await self._decide(event, facts, step, number)
                if decision.awaiting_approval:
                    return out + await self._ask(event, facts, step, number, decision)
                if not decision.allowed:
                    run = await refuse(self.pool, event, number, decision, "approval_rejected" if decision.rule == "approved" else "policy_denied")
                else:
                    async with self.pool.acquire() as conn:
                        secret = await credentials.credential(conn, self.vault, request.coworker, step.system, request.coworker_version)
                    run = await execute(self.pool, step, number, event, outputs, credential=secret, decision=decision)
            if run.decision is not None:
                out.append(self._decision_event(event, facts, _decision_from(run.decision), number, step))
            what = f"{step.name} ({step.system} {step.operation})"
            if run.status == "failed":
                authorised = run.decision is None or run.decision["allowed"]
                if authorised:
                    out.append(self._step_event(event, step, number, run))
                tried.append(Attempt(what=what, outcome="failed" if authorised else "not_attempted", detail=run.error or ""))
                to_manager = run.error_code in {"policy_denied", "approval_rejected"}
                return out + self._failed(event, facts, run.error_code or "step_failed", run.error or "", step=number, tried=tried, to_manager=to_manager)
            out.append(self._step_event(event, step, number, run))
            tried.append(Attempt(what=what, outcome="succeeded"))
            outputs[step.name] = run.outputs
        summary = skill.summarise(outputs)
        actor = Actor.coworker(request.coworker)
        out.append(event.caused(SkillCompleted, SkillOutcome(ticket_id=request.ticket_id, skill=skill.name, coworker=request.coworker, steps=len(skill.steps), summary=summary), source=self.source, actor=actor))
        out.append(event.caused(TicketResolved, Resolution(ticket_id=request.ticket_id, ticket=request.ticket, resolution=summary, skill=skill.name), source=self.source, actor=actor))
        return out

    async def _decide(self, event: SkillRequested, facts: Facts, step: Step, number: int) -> Decision:
        row = await self.pool.fetchrow("SELECT granted, decided_by FROM approvals WHERE approval_id = $1", approval_id(event, number))
        if row is not None:
            facts = replace(facts, approval=row["granted"], approval_by=row["decided_by"])
        return authorize(facts, skill=event.data.skill, system=step.system, scope=step.operation)

    async def _ask(self, event: SkillRequested, facts: Facts, step: Step, number: int, decision: Decision) -> list[Envelope]:
        """Park the request and ask the manager; nothing waits in memory."""
        request = event.data
        approval = approval_id(event, number)
        await self.pool.execute(
            "INSERT INTO pending_requests (request_id, approval_id, event) VALUES ($1, $2, $3)"
            " ON CONFLICT (request_id) DO UPDATE SET approval_id = excluded.approval_id, event = excluded.event, finished_at = NULL",
            event.id,
            approval,
            event.model_dump_json(by_alias=True),
        )
        assert facts.manifest is not None and facts.manifest.manager is not None
        inputs = redact(step.describe(request))
        ask = ApprovalRequest(
            approval_id=approval,
            ticket_id=request.ticket_id,
            coworker=request.coworker,
            coworker_version=request.coworker_version,
            skill=request.skill,
            step=number,
            system=step.system,
            operation=step.operation,
            action=f"{request.coworker} wants to {step.name} on {step.system} ({step.operation}) for ticket {request.ticket_id}: {json.dumps(inputs)}"[:500],
            inputs=inputs,
            approver=facts.manifest.manager.handle,
        )
        return [event.caused(ApprovalRequested, ask, source=self.source, actor=Actor.coworker(request.coworker), ordinal=number)]

    async def _hand_down(self, event: SkillRequested, facts: Facts) -> list[Envelope] | None:
        """Hand work the coworker holds only through a sub-agent to that sub-agent, as a new request."""
        request = event.data
        assert facts.manifest is not None
        working = self._active_manifests()
        working[request.coworker] = facts.manifest
        path = path_to_holder(request.coworker, request.skill, working)
        if path is None or len(path) < 2:
            return None
        to = path[1]
        chain = [*(request.delegation.chain if request.delegation else []), request.coworker]
        decision = delegation(facts, skill=request.skill, to=to, chain=chain[:-1], max_hops=self.max_hops)
        decided = self._decision_event(event, facts, decision, "delegate")
        if not decision.allowed:
            return [decided] + self._failed(event, facts, "policy_denied", decision.reason, step=None, tried=[])
        receiver = self.registry.coworkers[to].data
        handed = request.model_copy(update={"coworker": to, "coworker_version": receiver.active_version, "delegation": Delegation(chain=chain)})
        return [decided, event.caused(SkillRequested, handed, source=self.source, actor=Actor.coworker(request.coworker), ordinal=f"delegate:{to}")]

    def _active_manifests(self) -> dict[str, CoworkerManifest]:
        return {row.data.coworker: row.data.active for row in self.registry.coworkers if row.data.state is LifecycleState.active and row.data.active is not None}

    # --- approvals ------------------------------------------------------------------------

    async def decided(self, event: Envelope[ApprovalDecision]) -> list[Envelope]:
        """A manager's decision arrived: record it if it is the manager's, and resume the request.
        A decision on a request that is over replays its recorded outcome (same events, same ids)."""
        row = await self.pool.fetchrow("SELECT event FROM pending_requests WHERE approval_id = $1", event.data.approval_id)
        if row is None:
            return []  # never asked for by this service
        waiting = SkillRequested.model_validate_json(row["event"])
        facts = await self.facts(waiting.data)
        manager = facts.manifest.manager.handle if facts.manifest and facts.manifest.manager else None
        if event.actor.kind != "human" or event.actor.id != manager:
            refused = Decision(False, "approved", f"the decision came from {event.actor}, not from the manager human:{manager}; the request keeps waiting", {"decided_by": str(event.actor), "approver": manager})
            return [self._decision_event(waiting, facts, refused, f"approval-from:{event.actor}", cause=event)]
        await self.pool.execute(
            "INSERT INTO approvals (approval_id, request_id, step, granted, decided_by, comment) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            event.data.approval_id,
            waiting.id,
            event.data.step,
            isinstance(event, ApprovalGranted),
            str(event.actor),
            event.data.comment,
        )
        return await self.run(waiting)

    # --- events ---------------------------------------------------------------------------

    def _decision_event(self, event: SkillRequested, facts: Facts, decision: Decision, ordinal: int | str, step: Step | None = None, *, cause: Envelope | None = None) -> Envelope:
        request = event.data
        data = PolicyDecision(
            decision_id=derived_event_id(event.id, "policy", f"{ordinal}:{cause.id if cause else ''}"),
            ticket_id=request.ticket_id,
            coworker=request.coworker,
            coworker_version=request.coworker_version,
            skill=request.skill,
            step=ordinal if isinstance(ordinal, int) else None,
            system=step.system if step else None,
            scope=step.operation if step else None,
            allowed=decision.allowed,
            rule=decision.rule,
            reason=decision.reason[:500],
            inputs=redact(decision.inputs),
        )
        kind = PolicyAllowed if decision.allowed else PolicyDenied
        return (cause or event).caused(kind, data, source=self.source, actor=Actor.system("policy"), ordinal=f"{event.id}:{ordinal}", subject=request.ticket_id)

    def _step_event(self, event: SkillRequested, step: Step, number: int, run: StepRun) -> SkillStep:
        request = event.data
        record = StepRecord(
            ticket_id=request.ticket_id,
            skill=request.skill,
            coworker=request.coworker,
            step=number,
            name=step.name,
            system=step.system,
            operation=step.operation,
            idempotency_key=idempotency_key(event, number),
            status=run.status,  # type: ignore[arg-type]
            inputs=redact(step.describe(request)),
            outputs=redact(dict(run.outputs)),
            error=(run.error or "")[:500] or None,
        )
        return event.caused(SkillStep, record, source=self.source, actor=Actor.coworker(request.coworker), ordinal=number)

    def _failed(self, event: SkillRequested, facts: Facts, code: str, reason: str, *, step: int | None, tried: list[Attempt], to_manager: bool = True) -> list[Envelope]:
        """The skill stops; a person gets the ticket with everything: the coworker's manager when
        the coworker was not allowed, the service desk when the work itself failed."""
        request = event.data
        actor = Actor.coworker(request.coworker)
        manager = facts.manifest.manager if facts.manifest else None
        queue = manager.handle if (to_manager and manager) else self.queue
        failure = SkillFailure(ticket_id=request.ticket_id, skill=request.skill, coworker=request.coworker, failed_step=step, error_code=code, reason=reason[:500])
        ticket = request.ticket
        chain = f" (handed on by {' -> '.join(request.delegation.chain)})" if request.delegation else ""
        escalation = Escalation(
            ticket_id=request.ticket_id,
            reason_code="policy_denied" if code in {"policy_denied", "approval_rejected"} else "skill_failed",
            reason=f"{request.skill} failed: {reason}"[:500],
            queue=queue,
            handoff=Handoff(
                ticket=ticket,
                why=f"{request.coworker} v{request.coworker_version}{chain} could not complete {request.skill}: {reason}",
                transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text, at=ticket.opened_at or event.time)],
                tried=tried or [Attempt(what=f"run {request.skill}", outcome="not_attempted", detail=reason)],
            ),
        )
        return [
            event.caused(SkillFailed, failure, source=self.source, actor=actor),
            event.caused(TicketEscalated, escalation, source=self.source, actor=actor),
        ]


def _decision_from(record: Mapping[str, Any]) -> Decision:
    return Decision(record["allowed"], record["rule"], record["reason"], dict(record.get("inputs", {})))
