"""Run a skill for one request: authorise every step, act at most once, and say what happened in events.

Before each step the authoriser decides on the facts as they are *now* (so a coworker suspended
mid-flight stops before its next step), on the manifest version the work started with; the
decision is an event. A supervised step asks the coworker's manager and waits without holding
anything: the request is parked, and resumed when the decision arrives as an event. A step's
step acts once on its system (``execution``: intent, call, outcome, and reconciliation after a crash);
a redelivered request replays what was recorded instead of acting again.
Work a coworker holds only through its sub-agents is handed down, and the receiver's own
authorisation applies. Before the first step, the requester is resolved to one person in the
directory (``identity``); a requester the directory does not know as one person goes to a person,
and no step runs. Only that person's answers resume a request that asked them something.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from contracts.catalog import Catalog
from contracts.coworkers import CoworkerManifest, LifecycleState, path_to_holder
from contracts.envelope import Actor, Envelope, derived_event_id
from contracts.handoff import handoff_recall
from contracts.events import (
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRequest,
    ApprovalRequested,
    Attempt,
    Delegation,
    Escalation,
    Handoff,
    MemoryRecalled,
    MemoryRecallRequested,
    PolicyAllowed,
    PolicyDecision,
    PolicyDenied,
    Question,
    RecalledMemory,
    RecallRequest,
    Requester,
    Resolution,
    SkillCompleted,
    SkillFailed,
    SkillFailure,
    SkillOutcome,
    SkillRequest,
    SkillRequested,
    SkillStep,
    StepRecord,
    TicketAnswered,
    TicketEscalated,
    TicketQuestion,
    TicketResolved,
    Turn,
)
from runtime.db import Database
from runtime.redact import redact
from services.skills import credentials, identity
from services.skills.connections import Held
from services.skills.credentials import Vault
from services.skills.identity import NotTheRequester, Person, Unbound
from services.skills.issuer import Issuer
from services.skills.policy import Decision, Facts, authorize, delegation
from services.skills.policy_file import BUILTIN, LoadedPolicy
from services.skills.registry import Registry
from runtime.vendor.errors import ApiError
from services.skills.skill import PERSONAL_IDS, Skill, Step, shown
from services.skills.systems import Systems
from services.skills.execution import StepRun, compensate, decision_record, execute, idempotency_key, never_ran, recorded, undo_key


#: How a step's refusal is named, by the rule that refused it (any other rule: ``policy_denied``).
REFUSALS = {"approved": "approval_rejected", "within-budget": "budget_exhausted"}

#: Request ids of the recalls the skills service asks for its own requests: ``skill:<request event id>``.
RECALL_PREFIX = "skill:"

#: A skill past its time budget: the step it stopped before is recorded as never run.
OVER_BUDGET = "time_budget_exceeded"


@dataclass(frozen=True)
class Opening:
    """What a request starts from: the request with what its requester has answered since (the request
    itself never changes); who the requester was found to be (None: not asked yet) and, if not asked
    yet, the service's own sealed directory credential to ask with; and whether the request is parked
    (waiting for a decision, an answer or a recall), so that its end is recorded only then."""

    event: SkillRequested
    known: Person | Unbound | None
    waiting: bool
    reader: bytes | None


def approval_id(request: SkillRequested, step: int) -> str:
    return derived_event_id(request.id, "approval", step)


async def refuse(pool: asyncpg.Pool | asyncpg.Connection, event: SkillRequested, number: int, decision: Decision, code: str) -> StepRun:
    """Record that a step was not authorised, so a redelivery replays the refusal."""
    return await never_ran(pool, event, number, StepRun("failed", {}, code, decision.reason, decision_record(decision)))


class Runner:
    def __init__(
        self,
        database: Database,
        registry: Registry,
        vault: Vault,
        skills: Mapping[str, Skill],
        catalog: Catalog,
        *,
        source: str,
        queue: str,
        max_hops: int = 3,
        systems: Systems | None = None,
        backoff_s: float = 0.2,
        recall_tokens: int = 800,
        recall_timeout_s: float = 10.0,
        policy: LoadedPolicy | None = None,
        issuer: Issuer | None = None,
    ) -> None:
        self.database, self.registry, self.vault = database, registry, vault
        self.skills, self.catalog = skills, catalog
        #: The policy file in force (its rule order and parameters; the hop limit is its own), or the built-in rules.
        self.policy = policy
        self.rules = policy.policy if policy is not None else BUILTIN
        self.source, self.queue, self.max_hops = source, queue, policy.policy.delegation.max_hops if policy is not None else max_hops
        self.systems = systems or Systems()
        #: Issues coworkers' (and the service's own) tokens where a provisioning API is configured.
        self.issuer = issuer
        self.backoff_s = backoff_s
        self.recall_tokens, self.recall_timeout_s = recall_tokens, recall_timeout_s

    @property
    def pool(self) -> asyncpg.Pool:
        return self.database.pool

    async def facts(self, request: SkillRequest, conn: asyncpg.Connection | None = None) -> Facts:
        """The authoriser's facts now; the manifest version is read from the database only the first
        time (versions never change), on ``conn`` when the caller holds one."""
        return await self.registry.facts(conn or self.pool, request.coworker, request.coworker_version, request.skill)

    # --- a request ------------------------------------------------------------------------

    async def run(self, event: SkillRequested) -> list[Envelope]:
        """The events that record this request's decisions, steps and outcome, in order."""
        async with self.pool.acquire() as conn:  # one connection, one statement, for what every request reads first
            opening = await self._opening(conn, event)
            facts = await self.facts(opening.event.data, conn)
        event = opening.event
        events = await self._run(event, facts, opening)
        if opening.waiting and (not events or not isinstance(events[-1], ApprovalRequested | TicketQuestion | MemoryRecallRequested)):
            # The request is over (done, refused, failed or handed on): nothing waits any more. The
            # row stays, so a redelivered decision replays this outcome rather than losing it.
            await self.pool.execute("UPDATE pending_requests SET finished_at = coalesce(finished_at, now()) WHERE request_id = $1", event.id)
        return events

    async def _run(self, event: SkillRequested, facts: Facts, opening: Opening) -> list[Envelope]:
        request = event.data
        taking = authorize(facts, skill=request.skill, policy=self.rules)
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
        who = opening.known if opening.known is not None else await self._look_up(event, opening.reader)
        if isinstance(who, Unbound):
            tried = [Attempt(what=f"look the requester up in the directory ({identity.DIRECTORY})", outcome="failed", detail=who.reason)]
            return self._failed(event, facts, who.code, who.reason, step=None, tried=tried, to_manager=False)
        spec = self.catalog.get(request.skill)
        for needed in spec.inputs if spec else []:
            if not str(request.inputs.get(needed.name, "")).strip():
                return await self._ask_requester(event, needed.name, needed.question, step=None)
        if skill.recall and not request.recall:
            recalled = await self._recall_of(event)
            if recalled is None:
                return await self._ask_memory(event)
            event = event.model_copy(update={"data": request.model_copy(update={"recall": recalled})})
        return await self._steps(event, skill, who)

    # --- who asked --------------------------------------------------------------------------

    async def identify(self, event: SkillRequested) -> Person | Unbound:
        """The person the request's requester is in the directory, or why they are not one: looked up
        once per request, then read from the record (a redelivery or a resume gets the same answer)."""
        if (known := await self._identity_of(event.id)) is not None:
            return known
        return await self._look_up(event)

    async def _look_up(self, event: SkillRequested, reader: bytes | None = None) -> Person | Unbound:
        """Ask the directory who the requester is and record the answer (the first recorded counts).
        ``reader``: the service's own directory credential as already read (sealed), if it was."""
        person: Person | None = None
        try:
            person, outcome, reason = await self._resolve(event.data.ticket.requester, reader), "bound", ""
        except Unbound as unbound:
            outcome, reason = unbound.code, unbound.reason
        row = await self.pool.fetchrow(
            "WITH kept AS (INSERT INTO requester_identities (request_id, ticket_id, outcome, user_id, login, email, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING outcome, user_id, login, email, reason)"  # two deliveries at once: the first answer counts
            " SELECT * FROM kept UNION ALL SELECT outcome, user_id, login, email, reason FROM requester_identities WHERE request_id = $1 AND NOT EXISTS (SELECT 1 FROM kept)",
            event.id,
            event.data.ticket_id,
            outcome,
            person.user_id if person else None,
            person.login if person else None,
            person.email if person else None,
            reason,
        )
        if row is None:  # another delivery's answer, committed after this statement's snapshot
            recorded = await self._identity_of(event.id)
            assert recorded is not None
            return recorded
        return _identity_from(row)

    async def _identity_of(self, request_id: str, conn: asyncpg.Connection | None = None) -> Person | Unbound | None:
        """What the directory said of the request's requester, as recorded (None: not asked yet)."""
        row = await (conn or self.pool).fetchrow("SELECT outcome, user_id, login, email, reason FROM requester_identities WHERE request_id = $1", request_id)
        return None if row is None else _identity_from(row)

    async def _resolve(self, requester: Requester, reader: bytes | None = None) -> Person:
        secret = self.vault.open(reader) if self.vault.opens(reader) else await identity.reader_credential(self.pool, self.vault, self.issuer)
        if secret is None:
            raise Unbound(
                identity.UNVERIFIABLE,
                f"the skills service has no credential of its own on {identity.DIRECTORY} to look requesters up; store the one the administrator issued"
                f" as {identity.READER!r} version {identity.READER_VERSION} (services.skills.credentials.store)",
            )
        try:
            directory = self.systems.open(identity.DIRECTORY, secret)
        except ApiError as exc:
            raise Unbound(identity.UNVERIFIABLE, f"the directory ({identity.DIRECTORY}) is not connected: {exc.summary}") from None
        return await identity.resolve(directory, requester, backoff_s=self.backoff_s)

    # --- memory first -----------------------------------------------------------------------

    async def _recall_of(self, event: SkillRequested) -> list[RecalledMemory] | None:
        items = await self.pool.fetchval("SELECT items FROM recalls WHERE request_id = $1", event.id)
        return None if items is None else [RecalledMemory.model_validate(i) for i in json.loads(items)]

    async def _ask_memory(self, event: SkillRequested) -> list[Envelope]:
        """Park the request and ask memory; its ``memory.recall`` (or the timeout) resumes it (``recalled``)."""
        request = event.data
        await self.pool.execute(
            "INSERT INTO pending_requests (request_id, approval_id, event, waiting_for, ticket_id) VALUES ($1, $2, $3, 'recall', $4)"
            " ON CONFLICT (request_id) DO UPDATE SET event = excluded.event, waiting_for = 'recall', finished_at = NULL",
            event.id,
            derived_event_id(event.id, "recall", 0),
            event.model_dump_json(by_alias=True),
            request.ticket_id,
        )
        ticket = request.ticket
        asked = RecallRequest(request_id=f"{RECALL_PREFIX}{event.id}", text=f"{ticket.title}\n{ticket.description}".strip()[:20_000], ticket_id=request.ticket_id,
                              requester_id=ticket.requester.id, coworker=request.coworker, token_budget=self.recall_tokens)
        return [event.caused(MemoryRecallRequested, asked, source=self.source, actor=Actor.coworker(request.coworker), ordinal="recall")]

    async def recalled(self, reply: MemoryRecalled) -> list[Envelope]:
        """Memory answered a request's recall: keep the answer and run the request on it."""
        if not reply.data.request_id.startswith(RECALL_PREFIX):
            return []  # another service's recall
        return await self._resume_recall(reply.data.request_id.removeprefix(RECALL_PREFIX), reply.data.items, note="")

    async def overdue_recalls(self, after_s: float) -> list[Envelope]:
        """Requests whose recall memory has not answered for ``after_s``: run them without it (and say so)."""
        rows = await self.pool.fetch(
            "SELECT request_id FROM pending_requests WHERE waiting_for = 'recall' AND finished_at IS NULL AND waiting_since < now() - make_interval(secs => $1)"
            " ORDER BY waiting_since LIMIT 100",
            after_s,
        )
        out: list[Envelope] = []
        for row in rows:
            out += await self._resume_recall(row["request_id"], [], note=f"memory did not answer within {after_s:g}s")
        return out

    async def after_memory(self, event: SkillRequested) -> list[Envelope]:
        """For a caller that waits for the outcome (an MCP call) of a request that asked memory (and
        published the question): wait for the answer (the recall consumer keeps it) up to
        ``recall_timeout_s``, then run the request on it, or without it."""
        deadline = time.monotonic() + self.recall_timeout_s
        while await self._recall_of(event) is None:
            if time.monotonic() > deadline:
                return await self._resume_recall(event.id, [], note=f"memory did not answer within {self.recall_timeout_s:g}s")
            await asyncio.sleep(0.05)
        return await self.run(event)

    async def _resume_recall(self, request_id: str, items: list[RecalledMemory], *, note: str) -> list[Envelope]:
        await self.pool.execute(
            "INSERT INTO recalls (request_id, items, note) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING",  # the first answer counts
            request_id,
            json.dumps([i.model_dump(mode="json") for i in items]),
            note,
        )
        row = await self.pool.fetchrow("SELECT event FROM pending_requests WHERE request_id = $1 AND waiting_for = 'recall' AND finished_at IS NULL", request_id)
        if row is None:
            return []  # already resumed (a redelivered answer), or over
        return await self.run(SkillRequested.model_validate_json(row["event"]))

    async def _opening(self, conn: asyncpg.Connection, event: SkillRequested) -> Opening:
        """What every request reads first, in one statement (see ``Opening``)."""
        row = await conn.fetchrow(
            "SELECT (SELECT json_object_agg(field, value) FROM answers WHERE ticket_id = $1) AS answers,"
            " (SELECT EXISTS (SELECT 1 FROM pending_requests WHERE request_id = $2 AND finished_at IS NULL)) AS waiting,"
            " (SELECT ciphertext FROM credentials WHERE coworker = $3 AND system = $4 AND version = $5 AND revoked_at IS NULL AND i.outcome IS NULL) AS reader,"
            " i.outcome, i.user_id, i.login, i.email, i.reason"
            " FROM (SELECT 1) AS one LEFT JOIN requester_identities i ON i.request_id = $2",
            event.data.ticket_id,
            event.id,
            identity.READER,
            identity.DIRECTORY,
            identity.READER_VERSION,
        )
        if row["answers"] is not None:
            inputs = {**event.data.inputs, **json.loads(row["answers"])}  # an answer is newer than the request
            event = event.model_copy(update={"data": event.data.model_copy(update={"inputs": inputs})})
        return Opening(event, None if row["outcome"] is None else _identity_from(row), row["waiting"], row["reader"])

    async def _steps(self, event: SkillRequested, skill: Skill, requester: Person) -> list[Envelope]:
        request = event.data
        out: list[Envelope] = []
        outputs: dict[str, Mapping[str, Any]] = {}
        tried: list[Attempt] = []
        done: list[int] = []
        started = time.monotonic()
        for number, step in enumerate(skill.steps, start=1):
            decision: Decision | None = None
            secret: str | None = None
            async with Held(self.pool) as held:  # one connection for what a step reads before it acts; given back before the call
                conn = held.conn
                run = await recorded(conn, event, number)
                facts = await self.facts(request, conn)
                if run is None and number > 1 and (spent := time.monotonic() - started) > skill.time_budget_s:
                    reason = f"{skill.name} ran {spent:.1f} s, past its budget of {skill.time_budget_s:g} s, before step {number} ({step.name})"
                    run = await never_ran(conn, event, number, StepRun("failed", {}, OVER_BUDGET, reason))
                if run is None:
                    decision = await self._decide(conn, event, facts, step, number)
                    if not decision.allowed and not decision.awaiting_approval:
                        run = await refuse(conn, event, number, decision, REFUSALS.get(decision.rule, "policy_denied"))
                    elif decision.allowed:
                        secret = await credentials.credential(conn, self.vault, request.coworker, step.system, request.coworker_version)
                        run = await execute(self.pool, step, number, event, outputs, credential=secret, decision=decision, systems=self.systems, backoff_s=self.backoff_s, requester=requester, looked=held)
            if run is None:
                assert decision is not None and decision.awaiting_approval
                return out + await self._ask(event, facts, step, number, decision)
            if run.decision is not None:
                out.append(self._decision_event(event, facts, _decision_from(run.decision), number, step))
            what = f"{step.name} ({step.system} {step.operation})"
            if run.status == "asking":
                assert run.field is not None
                return out + await self._ask_requester(event, run.field, run.error or "", step=number)
            if run.status == "failed":
                authorised = (run.decision is None or run.decision["allowed"]) and run.error_code != OVER_BUDGET
                if authorised:
                    out.append(self._step_event(event, step, number, run))
                tried.append(Attempt(what=what, outcome="failed" if authorised else "not_attempted", detail=run.error or ""))
                return out + await self._undo(event, skill, done, outputs, facts, run.error_code or "step_failed", run.error or "", number, tried, requester)
            out.append(self._step_event(event, step, number, run))
            tried.append(Attempt(what=what, outcome="succeeded"))
            outputs[step.name] = run.outputs
            done.append(number)
        summary = skill.summarise({name: shown(o) for name, o in outputs.items()})  # from what the records show, never from internal values
        actor = Actor.coworker(request.coworker)
        out.append(event.caused(SkillCompleted, SkillOutcome(ticket_id=request.ticket_id, skill=skill.name, coworker=request.coworker, steps=len(skill.steps), summary=summary), source=self.source, actor=actor))
        out.append(event.caused(TicketResolved, Resolution(ticket_id=request.ticket_id, ticket=request.ticket, resolution=summary, skill=skill.name), source=self.source, actor=actor))
        return out

    async def _undo(
        self, event: SkillRequested, skill: Skill, done: list[int], outputs: Mapping[str, Mapping[str, Any]], facts: Facts, code: str, reason: str, failed: int, tried: list[Attempt], requester: Person
    ) -> list[Envelope]:
        """A step failed: undo the earlier steps that can be undone, newest first, then hand the ticket on."""
        request = event.data
        out: list[Envelope] = []
        undone: list[str] = []
        for number in reversed(done):
            step = skill.steps[number - 1]
            if step.compensate is None:
                continue
            async with self.pool.acquire() as conn:
                secret = await credentials.credential(conn, self.vault, request.coworker, step.system, request.coworker_version)
            run = await compensate(self.pool, skill, number, event, outputs[step.name], credential=secret, systems=self.systems, backoff_s=self.backoff_s, requester=requester)
            out.append(self._step_event(event, step, number, run, kind="compensation"))
            tried.append(Attempt(what=f"undo {step.name} ({step.system})", outcome="succeeded" if run.status == "done" else "failed", detail=run.error or ""))
            if run.status == "done":
                undone.append(step.name)
        to_manager = code in REFUSALS.values() or code == "policy_denied"
        return out + self._failed(event, facts, code, reason, step=failed, tried=tried, to_manager=to_manager, compensated=undone)

    async def _ask_requester(self, event: SkillRequested, field: str, question: str, *, step: int | None) -> list[Envelope]:
        """Park the request and ask its requester; ``ticket.answered`` resumes it (``answered``)."""
        request = event.data
        # Asked again after an answer that did not do: a new question, not a redelivery of the first.
        previous = await self.pool.fetchval("SELECT answer_id FROM answers WHERE ticket_id = $1 AND field = $2", request.ticket_id, field) or ""
        ask_id = derived_event_id(event.id, "question", f"{field}:{previous}")
        await self.pool.execute(
            "INSERT INTO pending_requests (request_id, approval_id, event, waiting_for, ticket_id, field) VALUES ($1, $2, $3, 'answer', $4, $5)"
            " ON CONFLICT (request_id) DO UPDATE SET approval_id = excluded.approval_id, event = excluded.event, waiting_for = 'answer',"
            " ticket_id = excluded.ticket_id, field = excluded.field, finished_at = NULL",
            event.id,
            ask_id,
            event.model_dump_json(by_alias=True),
            request.ticket_id,
            field,
        )
        spec = self.catalog.get(request.skill)
        question_data = Question(ticket_id=request.ticket_id, category=spec.category if spec else "Miscellaneous", skill=request.skill, field=field, question=question[:500], to=request.ticket.requester)
        return [event.caused(TicketQuestion, question_data, source=self.source, actor=Actor.coworker(request.coworker), ordinal=f"ask:{field}:{previous}")]

    async def answered(self, answer: TicketAnswered) -> list[Envelope]:
        """The requester answered: keep the answer and resume the request that asked, if one did.
        An answer from anyone but the person the request's requester was resolved as is not applied
        (``NotTheRequester``: the caller refuses it); the request keeps waiting for theirs."""
        row = await self.pool.fetchrow(
            "SELECT request_id, event, field FROM pending_requests WHERE ticket_id = $1 AND waiting_for = 'answer' AND finished_at IS NULL ORDER BY waiting_since DESC LIMIT 1",
            answer.data.ticket_id,
        )
        if row is None:
            return []  # not ours to resume (triage asked, or it is over)
        waiting = SkillRequested.model_validate_json(row["event"])
        known = await self._identity_of(row["request_id"])  # None: asked before requesters were resolved
        if (why := identity.not_the_requester(answer.actor, waiting.data.ticket.requester, known if isinstance(known, Person) else None)) is not None:
            raise NotTheRequester(why)
        await self.pool.execute(
            "INSERT INTO answers (ticket_id, field, value, answer_id, answered_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (ticket_id, field) DO UPDATE SET value = excluded.value, answer_id = excluded.answer_id, answered_at = excluded.answered_at"
            " WHERE answers.answered_at < excluded.answered_at",  # asked again: the newer answer counts; a redelivered older one does not
            answer.data.ticket_id,
            row["field"],
            answer.data.text,
            answer.id,
            answer.time,
        )
        return await self.run(waiting)

    async def _decide(self, conn: asyncpg.Connection, event: SkillRequested, facts: Facts, step: Step, number: int) -> Decision:
        """The step's decision. A manager's recorded decision is read only for a step that waits for
        one: the authoriser consults it nowhere else, so the answer is the same as reading it first."""

        def decide(facts: Facts) -> Decision:
            return authorize(facts, skill=event.data.skill, system=step.system, scope=step.operation, destructive=step.destructive, policy=self.rules)

        decision = decide(facts)
        if not decision.awaiting_approval:
            return decision
        row = await conn.fetchrow("SELECT granted, decided_by FROM approvals WHERE approval_id = $1", approval_id(event, number))
        return decision if row is None else decide(replace(facts, approval=row["granted"], approval_by=row["decided_by"]))

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
            policy_version=self.rules.version,
            policy_sha256=self.policy.sha256 if self.policy is not None else None,
        )
        kind = PolicyAllowed if decision.allowed else PolicyDenied
        return (cause or event).caused(kind, data, source=self.source, actor=Actor.system("policy"), ordinal=f"{event.id}:{ordinal}", subject=request.ticket_id)

    def _step_event(self, event: SkillRequested, step: Step, number: int, run: StepRun, *, kind: str = "action") -> SkillStep:
        request = event.data
        record = StepRecord(
            ticket_id=request.ticket_id,
            skill=request.skill,
            coworker=request.coworker,
            step=number,
            name=step.name,
            system=step.system,
            operation=step.operation,
            idempotency_key=undo_key(event, number) if kind == "compensation" else idempotency_key(event, number),
            kind=kind,  # type: ignore[arg-type]
            attempts=run.attempts,
            status=run.status,  # type: ignore[arg-type]
            inputs=redact(step.describe(request)),
            outputs=redact(shown(run.outputs)),
            error=(run.error or "")[:500] or None,
        )
        ordinal = number if kind == "action" else f"{number}:undo"
        return event.caused(SkillStep, record, source=self.source, actor=Actor.coworker(request.coworker), ordinal=ordinal)

    def _failed(self, event: SkillRequested, facts: Facts, code: str, reason: str, *, step: int | None, tried: list[Attempt], to_manager: bool = True, compensated: list[str] | None = None) -> list[Envelope]:
        """The skill stops; a person gets the ticket with everything: the coworker's manager when
        the coworker was not allowed, the service desk when the work itself failed. Memory is asked
        in the same batch for what it recalls of the ticket, for the person's first view."""
        request = event.data
        actor = Actor.coworker(request.coworker)
        manager = facts.manifest.manager if facts.manifest else None
        queue = manager.handle if (to_manager and manager) else self.queue
        failure = SkillFailure(ticket_id=request.ticket_id, skill=request.skill, coworker=request.coworker, failed_step=step, error_code=code, reason=reason[:500], compensated=compensated or [], requester_id=request.ticket.requester.id)
        ticket = request.ticket
        chain = f" (handed on by {' -> '.join(request.delegation.chain)})" if request.delegation else ""
        skill = self.skills.get(request.skill)
        step_name = skill.steps[step - 1].name if (skill is not None and step is not None and 0 < step <= len(skill.steps)) else None
        escalation = Escalation(
            ticket_id=request.ticket_id,
            reason_code="budget_exhausted" if code == "budget_exhausted" else "policy_denied" if code in {"policy_denied", "approval_rejected"} else "identity_mismatch" if code == identity.MISMATCH else "skill_failed",
            reason=(f"{request.skill} was not started: {reason}" if code in {identity.MISMATCH, identity.UNVERIFIABLE} else f"{request.skill} failed: {reason}")[:500],
            queue=queue,
            handoff=Handoff(
                ticket=ticket,
                why=f"{request.coworker} v{request.coworker_version}{chain} could not complete {request.skill}: {reason}",
                transcript=[Turn(actor=Actor.human(ticket.requester.id), text=ticket.text, at=ticket.opened_at or event.time)],
                tried=tried or [Attempt(what=f"run {request.skill}", outcome="not_attempted", detail=reason)],
                facts=escalation_facts(request, facts, code, step, step_name, compensated or []),
                next_action=next_action(request, code, step_name, compensated or [], manager.handle if manager else None)[:500],
            ),
        )
        escalated = event.caused(TicketEscalated, escalation, source=self.source, actor=actor)
        return [event.caused(SkillFailed, failure, source=self.source, actor=actor), handoff_recall(escalated, source=self.source), escalated]  # the escalation last: the flow's final word


def escalation_facts(request: Any, facts: Facts, code: str, step: int | None, step_name: str | None, compensated: list[str]) -> list[str]:
    """What the coworker established before it handed over, one short line each (inputs redacted)."""
    manager = facts.manifest.manager if facts.manifest else None
    lines = [
        f"requester: {request.ticket.requester.id}" + (" (VIP)" if request.ticket.requester.vip else ""),
        f"skill: {request.skill}, run by {request.coworker} v{request.coworker_version}" + (f" (manager {manager.handle})" if manager else ""),
        f"failed: {code}" + (f" at step {step} ({step_name})" if step_name else " before any step ran"),
    ]
    lines += [f"input {name}: {'(given; a personal identifier, not shown)' if name in PERSONAL_IDS else value}"[:500] for name, value in sorted(redact(dict(request.inputs)).items())]
    if compensated:
        lines.append(f"undone: {', '.join(compensated)}"[:500])
    return lines[:50]


def next_action(request: Any, code: str, step_name: str | None, compensated: list[str], manager: str | None) -> str:
    """The first thing the person taking over should do, by why the skill stopped."""
    if code == "budget_exhausted":
        return f"Raise the budget that stopped {request.coworker} ({request.skill}), or do the request by hand."
    if code == "approval_rejected":
        return f"Tell {request.ticket.requester.id} why {manager or 'the manager'} did not approve {request.skill}, or agree another way."
    if code in {"policy_denied", "credential_refused", "scope_refused"}:
        return f"Decide whether {request.coworker} may do {request.skill}: grant it, or do the request yourself."
    if code == "skill_unavailable":
        return f"Do {request.skill} by hand: the coworker cannot run it now."
    if code == identity.MISMATCH:
        return "Find out who really asked before doing anything (contact the person the directory has for the ticket's email, not the ticket's sender): the requester's id and email are not one person in the directory. Nothing was done."
    if code == identity.UNVERIFIABLE:
        return f"Check the requester against the directory by hand, then do {request.skill} for them or send it again; nothing was done."
    undone = f" (undone: {', '.join(compensated)})" if compensated else ""
    where = f"at {step_name}" if step_name else "before it started"
    return f"Finish {request.skill} by hand from where it stopped {where}{undone}; the tries are listed above."


def _identity_from(row: Mapping[str, Any]) -> Person | Unbound:
    return Person(row["user_id"], row["login"], row["email"]) if row["outcome"] == "bound" else Unbound(row["outcome"], row["reason"])


def _decision_from(record: Mapping[str, Any]) -> Decision:
    return Decision(record["allowed"], record["rule"], record["reason"], dict(record.get("inputs", {})))
