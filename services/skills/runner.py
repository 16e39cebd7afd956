"""Run a skill for one request, each step exactly once, and say what happened in events.

A step's outcome is stored under its idempotency key (ticket, skill, step) in the same transaction
as its action on the sandbox, under an advisory lock on the key. A redelivered request therefore
replays the recorded outcomes (and re-emits the same events, with the same ids) instead of acting
again, and a crash between two steps resumes at the next step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from contracts.catalog import Catalog
from contracts.envelope import Actor, Envelope
from contracts.events import (
    Attempt,
    Escalation,
    Handoff,
    Resolution,
    SkillCompleted,
    SkillFailed,
    SkillFailure,
    SkillOutcome,
    SkillRequested,
    SkillStep,
    StepRecord,
    TicketEscalated,
    TicketResolved,
    Turn,
)
from runtime.db import Database
from runtime.redact import redact
from services.skills.skill import Skill, Step, StepContext, StepFailed


@dataclass(frozen=True)
class StepRun:
    status: str  # done | failed
    outputs: Mapping[str, Any]
    error_code: str | None = None
    error: str | None = None


def idempotency_key(request: SkillRequested, step: int) -> str:
    return f"{request.data.ticket_id}:{request.data.skill}:{step}"


async def execute(pool: asyncpg.Pool, step: Step, number: int, event: SkillRequested, earlier: Mapping[str, Mapping[str, Any]]) -> StepRun:
    """Run ``step`` unless its outcome is already recorded; either way return the outcome.

    A done step is never run again for its ticket. A refused step replays its refusal to the same
    request (a redelivery), but a new request may try it again.
    """
    key = idempotency_key(event, number)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        row = await conn.fetchrow("SELECT status, outputs, error_code, error, request_id FROM step_runs WHERE idempotency_key = $1", key)
        if row is not None and (row["status"] == "done" or row["request_id"] == event.id):
            return StepRun(row["status"], json.loads(row["outputs"]), row["error_code"], row["error"])
        try:
            async with conn.transaction():  # a savepoint: a refused action leaves nothing behind
                outputs = await step.run(StepContext(conn, event.data, key, earlier))
            run = StepRun("done", outputs)
        except StepFailed as failed:
            run = StepRun("failed", {}, failed.code, failed.reason)
        await conn.execute(
            "INSERT INTO step_runs (idempotency_key, ticket_id, skill, step, coworker, status, outputs, error_code, error, request_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (idempotency_key) DO UPDATE SET status = excluded.status, outputs = excluded.outputs,"
            " error_code = excluded.error_code, error = excluded.error, request_id = excluded.request_id, finished_at = now()",
            key,
            event.data.ticket_id,
            event.data.skill,
            number,
            event.data.coworker,
            run.status,
            json.dumps(redact(run.outputs)),  # secrets are never stored
            run.error_code,
            run.error,
            event.id,
        )
        return run


class Runner:
    def __init__(self, database: Database, skills: Mapping[str, Skill], catalog: Catalog, *, source: str, queue: str) -> None:
        self.database, self.skills, self.catalog = database, skills, catalog
        self.source, self.queue = source, queue

    async def run(self, event: SkillRequested) -> list[Envelope]:
        """The events that record this request's steps and outcome, in order."""
        request = event.data
        actor = Actor.coworker(request.coworker)
        refusal = self._refusal(event)
        if refusal is not None:
            code, reason = refusal
            return self._failed(event, actor, code, reason, step=None, tried=[])
        skill = self.skills[request.skill]
        out: list[Envelope] = []
        outputs: dict[str, Mapping[str, Any]] = {}
        tried: list[Attempt] = []
        for number, step in enumerate(skill.steps, start=1):
            run = await execute(self.database.pool, step, number, event, outputs)
            out.append(self._step_event(event, actor, step, number, run))
            if run.status == "failed":
                tried.append(Attempt(what=f"{step.name} ({step.system} {step.operation})", outcome="failed", detail=run.error or ""))
                return out + self._failed(event, actor, run.error_code or "step_failed", run.error or "", step=number, tried=tried)
            tried.append(Attempt(what=f"{step.name} ({step.system} {step.operation})", outcome="succeeded"))
            outputs[step.name] = run.outputs
        summary = skill.summarise(outputs)
        out.append(event.caused(SkillCompleted, SkillOutcome(ticket_id=request.ticket_id, skill=skill.name, coworker=request.coworker, steps=len(skill.steps), summary=summary), source=self.source, actor=actor))
        out.append(event.caused(TicketResolved, Resolution(ticket_id=request.ticket_id, ticket=request.ticket, resolution=summary, skill=skill.name), source=self.source, actor=actor))
        return out

    def _refusal(self, event: SkillRequested) -> tuple[str, str] | None:
        """Why this request may not run at all, if it may not: unknown skill, or not this coworker's."""
        request = event.data
        spec = self.catalog.get(request.skill)
        if spec is None:
            return "unknown_skill", f"no skill {request.skill!r} in the catalog"
        if spec.coworker != request.coworker:
            return "not_granted", f"coworker {request.coworker!r} may not run {request.skill!r}; it belongs to {spec.coworker!r}"
        if request.skill not in self.skills:
            available = ", ".join(sorted(self.skills))
            return "skill_unavailable", f"this deployment does not run {request.skill!r} yet; it runs: {available}"
        return None

    def _step_event(self, event: SkillRequested, actor: Actor, step: Step, number: int, run: StepRun) -> SkillStep:
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
        return event.caused(SkillStep, record, source=self.source, actor=actor, ordinal=number)

    def _failed(self, event: SkillRequested, actor: Actor, code: str, reason: str, *, step: int | None, tried: list[Attempt]) -> list[Envelope]:
        request = event.data
        failure = SkillFailure(ticket_id=request.ticket_id, skill=request.skill, coworker=request.coworker, failed_step=step, error_code=code, reason=reason[:500])
        ticket = request.ticket
        escalation = Escalation(
            ticket_id=request.ticket_id,
            reason_code="policy_denied" if code == "not_granted" else "skill_failed",
            reason=f"{request.skill} failed: {reason}"[:500],
            queue=self.queue,
            handoff=Handoff(
                ticket=ticket,
                why=f"{request.coworker} could not complete {request.skill}: {reason}",
                transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text, at=ticket.opened_at or event.time)],
                tried=tried or [Attempt(what=f"run {request.skill}", outcome="not_attempted", detail=reason)],
            ),
        )
        return [
            event.caused(SkillFailed, failure, source=self.source, actor=actor),
            event.caused(TicketEscalated, escalation, source=self.source, actor=actor),
        ]
