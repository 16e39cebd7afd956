"""A step acts once on a system it cannot share a transaction with (ADR 0022, which replaces 0006).

Per step, under its idempotency key (ticket, skill, step), in three moves:

1. **Intent.** A ``step_intents`` row claims the step for this call for a lease, renewed while the
   call runs (``LEASE_S``). A live claim held by another call (another
   consumer after a rebalance, an MCP call and a consumer at once) is waited out: its outcome is
   replayed, or, once its lease has lapsed, the step is claimed again.
2. **Call.** The system is called with no transaction open, no pooled connection held and no lock
   taken; a transient failure (5xx, 429, unreachable, the step's time limit) is retried by tenacity
   within the step's limits, waiting what the system asked (``Retry-After``) or a jittered backoff.
3. **Outcome.** ``step_runs`` keeps the outcome and the intent goes, in one short transaction.

A redelivery finds the outcome and replays it. A crash between 1 and 3 leaves the intent: the next
claim acts again, and that is safe because every write of every connector reconciles with the
system first (reads what the system holds under the step's key, or asks the system's own
idempotency mechanism) and so acts at most once; ADR 0022 lists how, operation by operation. A
call that timed out is, to the system, one that may have acted: the retry reconciles the same way.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from contracts.events import SkillRequested
from runtime.redact import redact
from runtime.vendor.errors import ApiError
from services.skills.connections import Held, lent
from services.skills.failures import gave_up, step_failure
from services.skills.identity import Person
from services.skills.policy import Decision
from runtime.vendor.retries import VendorWait, transient
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed
from services.skills.systems import Systems


@dataclass(frozen=True)
class StepRun:
    status: str  # done | failed | asking (not stored: the request waits for the requester's answer)
    outputs: Mapping[str, Any]
    error_code: str | None = None
    error: str | None = None
    decision: dict[str, Any] | None = None
    attempts: int = 1
    field: str | None = None  # what an asking step needs


def idempotency_key(request: SkillRequested, step: int) -> str:
    return f"{request.data.ticket_id}:{request.data.skill}:{step}"


def undo_key(request: SkillRequested, step: int) -> str:
    return f"{idempotency_key(request, step)}:undo"


async def recorded(conn: asyncpg.Connection, event: SkillRequested, number: int) -> StepRun | None:
    """The step's recorded outcome, if it counts for this request: a done step always does; a
    refused or undone one only for the request it happened in (a new request may try again)."""
    row = await conn.fetchrow(
        "SELECT status, outputs, error_code, error, request_id, decision, attempts,"
        " EXISTS (SELECT 1 FROM step_runs u WHERE u.idempotency_key = $2 AND u.status = 'done') AS undone"
        " FROM step_runs WHERE idempotency_key = $1",
        idempotency_key(event, number),
        undo_key(event, number),
    )
    if row is None or ((row["status"] != "done" or row["undone"]) and row["request_id"] != event.id):
        return None
    return StepRun(row["status"], json.loads(row["outputs"]), row["error_code"], row["error"], json.loads(row["decision"]) if row["decision"] else None, row["attempts"])


async def _recorded_undo(conn: asyncpg.Connection, event: SkillRequested, number: int) -> StepRun | None:
    row = await conn.fetchrow("SELECT status, outputs, error_code, error, attempts FROM step_runs WHERE idempotency_key = $1 AND request_id = $2", undo_key(event, number), event.id)
    return None if row is None else StepRun(row["status"], json.loads(row["outputs"]), row["error_code"], row["error"], attempts=row["attempts"])


# -- intent ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    token: str  # this call's claim; only it may clear the intent
    ours: bool
    until: datetime


#: How long a claim keeps others off without news from its holder. The holder renews it every
#: third of that while its call runs, so a claim outlives its holder by at most this long (a killed
#: process's step is taken over within it) and never lapses under a slow but living call.
LEASE_S = 15.0


async def claim(pool: asyncpg.Pool | asyncpg.Connection, key: str, event: SkillRequested, system: str, lease: float) -> Claim:
    """Claim the step for this call unless a live claim holds it (then say until when)."""
    token = uuid.uuid4().hex
    row = await pool.fetchrow(
        "INSERT INTO step_intents (idempotency_key, request_id, ticket_id, system, claimed_by, claimed_until)"
        " VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))"
        " ON CONFLICT (idempotency_key) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until,"
        " request_id = excluded.request_id, claims = step_intents.claims + 1"
        " WHERE step_intents.claimed_until < now()"
        " RETURNING claimed_until",
        key,
        event.id,
        event.data.ticket_id,
        system,
        token,
        lease,
    )
    if row is not None:
        return Claim(token, True, row["claimed_until"])
    until = await pool.fetchval("SELECT claimed_until FROM step_intents WHERE idempotency_key = $1", key)
    return Claim(token, False, until) if until is not None else await claim(pool, key, event, system, lease)


async def _renew(pool: asyncpg.Pool, key: str, held: Claim) -> None:
    while True:
        await asyncio.sleep(LEASE_S / 3)
        await pool.execute("UPDATE step_intents SET claimed_until = now() + make_interval(secs => $3) WHERE idempotency_key = $1 AND claimed_by = $2", key, held.token, LEASE_S)


async def _once(
    pool: asyncpg.Pool,
    key: str,
    event: SkillRequested,
    step: Step,
    lookup: Callable[[asyncpg.Connection], Awaitable[StepRun | None]],
    act: Callable[[], Awaitable[StepRun]],
    store: Callable[[asyncpg.Connection, StepRun, tuple[str, str]], Awaitable[None]],
    looked: Held | None = None,
) -> StepRun:
    """Intent, call, outcome (see the module's docstring); an outcome already recorded is replayed.
    ``looked``: a connection the caller holds; the first look and claim are made on it, and it is
    given back before the call."""
    while True:
        async with (pool.acquire() if looked is None else lent(looked.conn)) as conn:  # one connection for the look and the claim
            try:
                if (already := await lookup(conn)) is not None:
                    return already
                held = await claim(conn, key, event, step.system, LEASE_S)
            finally:
                if looked is not None:  # none is held during the call
                    await looked.release()
                    looked = None
        if held.ours:
            break
        await asyncio.sleep(0.2)  # another call holds the step: its outcome, or its lease lapsing, comes first
    renewing = asyncio.create_task(_renew(pool, key, held))
    try:
        run = await act()  # cancelled or crashed mid-call: the intent stays, and the next claim reconciles
    finally:
        renewing.cancel()
    async with pool.acquire() as conn:
        await store(conn, run, (key, held.token))  # the outcome kept and the intent gone, in one statement
    return run


# -- the call -------------------------------------------------------------------------------------


def _said(system: str, step: Step, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {step.timeout_s:g} s"
    assert isinstance(exc, ApiError)
    asked = f", asked to wait {exc.retry_after:g} s" if exc.retry_after is not None else ""
    return f"{exc.status} {exc.code}: {exc.summary}{asked}"


async def attempt(step: Step, ctx: StepContext, action: Callable[[StepContext], Awaitable[dict[str, Any]]], decision: Decision | None, backoff_s: float) -> StepRun:
    """``action`` under the step's time limit, retried on transient failures (tenacity); a refusal
    or an exhausted retry is a failed run that lists every attempt."""
    record = decision_record(decision)
    tried: list[str] = []
    cap = step.timeout_s

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        return state.attempt_number >= step.attempts or (asked is not None and asked > cap)

    def note(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is not None:
            tried.append(f"attempt {state.attempt_number}: {_said(step.system, step, exc)}")

    retrying = AsyncRetrying(stop=stop, wait=VendorWait(backoff_s, cap), retry=retry_if_exception(transient), reraise=True, after=note)
    try:
        async for trying in retrying:
            with trying:
                outputs = await asyncio.wait_for(action(ctx), step.timeout_s)
        return StepRun("done", outputs, decision=record, attempts=len(tried) + 1)
    except StepFailed as failed:
        return StepRun("failed", {}, failed.code, failed.reason, record, attempts=len(tried) + 1)
    except NeedInput as need:
        return StepRun("asking", {}, "needs_input", need.question, record, attempts=len(tried) + 1, field=need.field)
    except (ApiError, TimeoutError) as exc:
        # What a step let through is mapped as every skill maps it (failures.py), with the
        # runner's own default: an outage that outlasted the retries, or the system's refusal.
        if transient(exc):
            unavailable = gave_up(step.system, step.name, tried)
            return StepRun("failed", {}, unavailable.code, unavailable.reason, record, attempts=len(tried))
        assert isinstance(exc, ApiError)
        refusal = step_failure(exc, system=step.system, doing=f"running the step {step.name}", default="system_refused", coworker=ctx.request.coworker)
        return StepRun("failed", {}, refusal.code, refusal.reason, record, attempts=len(tried) + 1)


async def execute(
    pool: asyncpg.Pool,
    step: Step,
    number: int,
    event: SkillRequested,
    earlier: Mapping[str, Mapping[str, Any]],
    *,
    credential: str | None,
    decision: Decision,
    systems: Systems | None = None,
    backoff_s: float = 0.2,
    requester: Person | None = None,
    looked: Held | None = None,
) -> StepRun:
    """Run an authorised step unless its outcome is already recorded; either way return the outcome.
    ``looked``: the connection the caller holds, used for the claim and given back before the call."""
    key = idempotency_key(event, number)
    systems = systems or Systems()

    async def act() -> StepRun:
        try:
            connector = systems.open(step.system, credential, ticket=event.data.ticket_id)
        except ApiError as exc:
            return StepRun("failed", {}, "not_connected", exc.summary, decision_record(decision))
        return await attempt(step, StepContext(event.data, key, earlier, credential, connector, requester), step.run, decision, backoff_s)

    return await _once(pool, key, event, step, lambda conn: recorded(conn, event, number), act, lambda conn, run, intent: store(conn, event, number, run, intent=intent), looked)


async def compensate(
    pool: asyncpg.Pool, skill: Skill, number: int, event: SkillRequested, outputs: Mapping[str, Any], *, credential: str | None, systems: Systems, backoff_s: float = 0.2, requester: Person | None = None
) -> StepRun:
    """Undo step ``number`` (done earlier in this request), at most once."""
    step = skill.steps[number - 1]
    assert step.compensate is not None
    undo = step.compensate
    key = undo_key(event, number)

    async def act() -> StepRun:
        ctx = StepContext(event.data, key, {step.name: outputs}, credential, systems.open(step.system, credential, ticket=event.data.ticket_id), requester)
        return await attempt(step, ctx, lambda c: undo(c, outputs), None, backoff_s)

    return await _once(pool, key, event, step, lambda conn: _recorded_undo(conn, event, number), act, lambda conn, run, intent: store(conn, event, number, run, key=key, kind="compensation", intent=intent))


# -- the outcome ----------------------------------------------------------------------------------


async def never_ran(pool: asyncpg.Pool | asyncpg.Connection, event: SkillRequested, number: int, run: StepRun) -> StepRun:
    """Record why a step was not run, so a redelivery replays that instead of running it (on the
    caller's connection when it holds one)."""
    async with lent(pool) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", idempotency_key(event, number))
        if (already := await recorded(conn, event, number)) is not None:
            return already
        await store(conn, event, number, run)
    return run


#: Clears the intent of the call that kept the outcome ($14 key, $15 claim), in the outcome's own statement.
_RELEASE = "WITH released AS (DELETE FROM step_intents WHERE idempotency_key = $14 AND claimed_by = $15) "


async def store(conn: asyncpg.Connection, event: SkillRequested, number: int, run: StepRun, *, key: str | None = None, kind: str = "action", intent: tuple[str, str] | None = None) -> None:
    """Keep the step's outcome; with ``intent`` (key, claim), clear that claim in the same statement."""
    if run.status == "asking":
        if intent is not None:  # nothing happened; the request waits for an answer and runs the step again
            await conn.execute("DELETE FROM step_intents WHERE idempotency_key = $1 AND claimed_by = $2", *intent)
        return
    await conn.execute(
        (_RELEASE if intent else "") + "INSERT INTO step_runs (idempotency_key, ticket_id, skill, step, coworker, status, outputs, error_code, error, request_id, decision, kind, attempts)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (idempotency_key) DO UPDATE SET status = excluded.status, outputs = excluded.outputs,"
        " error_code = excluded.error_code, error = excluded.error, request_id = excluded.request_id,"
        " decision = excluded.decision, attempts = excluded.attempts, finished_at = now()",
        key or idempotency_key(event, number),
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
        kind,
        run.attempts,
        *(intent or ()),
    )


def decision_record(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"allowed": decision.allowed, "rule": decision.rule, "reason": decision.reason, "inputs": redact(decision.inputs)}
