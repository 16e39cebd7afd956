"""Sandbox cases: a request a skill gets in the sandboxed org, and what a person would check after.

Each skill module's cases are in ``deploy/sandbox/cases/<module>.py`` (``CASES``, gathered in
``deploy.sandbox.cases.CASES``); the tests play each once and ``bench/skills.py`` plays each eight
times (pass^8). ``Workbench`` is the skills runtime without the
broker: the coworkers as governance announced them, their credentials, and a ``Runner`` over a
migrated, seeded schema. Playing a case answers the skill's questions and decides its approvals as
the case says, so a whole conversation is one call; then it delivers the request once more, as
Kafka may, and the case's check runs after that (so it also proves nothing happened twice).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from contracts.catalog import Catalog
from contracts.coworkers import CoworkerManifest, LifecycleState
from contracts.envelope import Actor, Envelope
from contracts.events import (
    Answer,
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    CoworkerState,
    CoworkerStated,
    MemoryRecalled,
    MemoryRecallRequested,
    RecalledMemory,
    RecallResult,
    Requester,
    SkillCompleted,
    SkillFailed,
    SkillRequest,
    SkillRequested,
    Ticket,
    TicketAnswered,
    TicketCreated,
    TicketQuestion,
)
from contracts.topics import BUDGET_STATE, COWORKER_STATE
from deploy.sandbox.running import Running
from runtime.db import Database
from runtime.table import TopicTable
from services.skills import credentials
from services.skills.credentials import Vault
from services.skills.issuer import Issuer
from services.skills.registry import Registry
from services.skills.runner import Runner
from services.skills.skill import Skill
from services.skills.systems import Systems

Expect = Literal["resolved", "escalated"]
Check = Callable[[asyncpg.Connection, list[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One request to one skill, and the outcome a person would accept."""

    name: str
    skill: str
    coworker: str
    requester: str  # the requester's login before the @, e.g. "ana.silva"
    text: str
    expect: Expect
    inputs: Mapping[str, str] = field(default_factory=dict)
    error_code: str | None = None  # for an escalation: the skill.failed error code
    approve: bool | None = None  # when the skill asks its manager: grant (True) or reject (False)
    answers: Mapping[str, str] = field(default_factory=dict)  # when the skill asks the requester: field -> answer
    #: Asserts on the sandbox after the case (``conn`` has ``search_path`` on the skills schema).
    check: Check | None = None
    #: Runs before the case (e.g. to put a system in a state), in the same schema.
    prepare: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
    autonomy: Literal["autonomous", "supervised"] | None = None  # override the coworker's autonomy for the skill
    recall: tuple[RecalledMemory, ...] = ()  # when the skill asks memory first: what memory answers
    #: The requester's email as the ticket gives it (default: ``requester@acme.example``); another
    #: person's email is a ticket whose id and email disagree.
    email: str | None = None


@dataclass
class Played:
    case: Case
    events: list[Envelope]
    asked: list[str]  # fields the skill asked the requester for
    approvals: int  # approvals the skill asked for
    redelivery: str | None = None  # what went wrong when the request was delivered again

    @property
    def outcome(self) -> str:
        last = next((e for e in reversed(self.events) if isinstance(e, SkillCompleted | SkillFailed | ApprovalRequested | TicketQuestion)), None)
        if isinstance(last, SkillCompleted):
            return "resolved"
        if isinstance(last, SkillFailed):
            return "escalated"
        return "waiting"

    @property
    def failure(self) -> SkillFailed | None:
        return next((e for e in reversed(self.events) if isinstance(e, SkillFailed)), None)


def coworker_stated(manifest: CoworkerManifest, *, state: str = "active", version: int = 1) -> CoworkerStated:
    """A ``coworker.state`` event as governance would announce it."""
    data = CoworkerState(coworker=manifest.name, revision=version, state=LifecycleState(state), active_version=version, active=manifest, changed_at=datetime.now(UTC))
    return CoworkerStated.create(data, source="/services/governance", team=manifest.team, actor=Actor.system("governance"), correlation_id=f"coworker:{manifest.name}", subject=manifest.name)


class Workbench:
    """The skills runtime on a database, without a broker: coworkers, credentials, a runner."""

    def __init__(
        self,
        database: Database,
        vault: Vault,
        workforce: Mapping[str, CoworkerManifest],
        skills: Mapping[str, Skill],
        catalog: Catalog,
        *,
        simulator: Running | None = None,
        systems: Systems | None = None,
        issuer: Issuer | None = None,
    ) -> None:
        """On ``simulator`` (deploy/sandbox over HTTP) unless ``systems`` says otherwise: its systems'
        URLs, its token issuer, and its database for the cases' checks."""
        self.database, self.vault, self.workforce, self.simulator = database, vault, dict(workforce), simulator
        if simulator is not None:
            systems = systems or Systems(simulator.urls())
            issuer = issuer or simulator.issuer()
        self.issuer = issuer
        self.coworkers = TopicTable[CoworkerStated]("unused:9092", COWORKER_STATE, keyring=None)
        self.registry = Registry(self.coworkers, TopicTable("unused:9092", BUDGET_STATE, keyring=None))
        self.runner = Runner(database, self.registry, vault, skills, catalog, source="/services/skills", queue="service-desk", systems=systems, backoff_s=0.01, issuer=issuer)
        self._versions: dict[str, int] = {}

    async def hire(self, name: str, *, state: str = "active", **changes: Any) -> int:
        """Announce ``name`` (with ``changes`` to its manifest) as a new version; return the version."""
        base = self.workforce[name]
        manifest = CoworkerManifest.model_validate({**base.model_dump(), **changes}) if changes else base
        version = self._versions.get(name, 0) + 1
        self._versions[name] = version
        row = coworker_stated(manifest, state=state, version=version)
        self.coworkers.rows[name] = row
        async with self.database.pool.acquire() as conn, conn.transaction():
            await self.registry.remember(conn, row)
        await credentials.reconcile(self.database.pool, self.vault, row.data, self.issuer)
        return version

    @property
    def systems_pool(self) -> Any:
        """Where the systems' state is: the simulator's database (cases prepare and check it there)."""
        return (self.simulator.database if self.simulator is not None else self.database).pool

    async def hire_all(self) -> None:
        for name in self.workforce:
            await self.hire(name)

    def request(self, case: Case, *, ticket_id: str | None = None) -> SkillRequested:
        ticket_id = ticket_id or f"T-{uuid.uuid4().hex[:10]}"
        requester = Requester(id=case.requester, email=case.email or f"{case.requester}@acme.example")
        created = TicketCreated.create(
            Ticket(ticket_id=ticket_id, title=case.text[:200], description=case.text, requester=requester),
            source="/upstream/cases",
            team=self.workforce[case.coworker].team,
            actor=Actor.system("cases"),
            correlation_id=ticket_id,
            subject=ticket_id,
        )
        data = SkillRequest(ticket_id=ticket_id, skill=case.skill, coworker=case.coworker, coworker_version=self._versions[case.coworker], ticket=created.data, inputs=dict(case.inputs), confidence=0.9)
        return created.caused(SkillRequested, data, source="/services/triage")

    async def play(self, case: Case, *, max_turns: int = 8) -> Played:
        """Run the case's request to its end, answering questions and deciding approvals as the case says."""
        if case.autonomy is not None:
            manifest = self.workforce[case.coworker]
            await self.hire(case.coworker, autonomy={**manifest.autonomy, case.skill: case.autonomy})
        if case.prepare is not None:
            async with self.systems_pool.acquire() as conn:
                await case.prepare(conn)
        requested = self.request(case)
        events = await self.runner.run(requested)
        played = Played(case, list(events), [], 0)
        for _ in range(max_turns):
            last = events[-1] if events else None
            if isinstance(last, ApprovalRequested) and case.approve is not None:
                played.approvals += 1
                kind = ApprovalGranted if case.approve else ApprovalRejected
                decision = ApprovalDecision(approval_id=last.data.approval_id, ticket_id=last.data.ticket_id, coworker=last.data.coworker, skill=last.data.skill, step=last.data.step)
                events = await self.runner.decided(kind.create(decision, source="/cli/workforce", team="platform", actor=Actor.human(last.data.approver), correlation_id=last.data.ticket_id))
            elif isinstance(last, MemoryRecallRequested):
                reply = RecallResult(request_id=last.data.request_id, ticket_id=last.data.ticket_id, items=list(case.recall), token_budget=last.data.token_budget, embedding_model="cases")
                events = await self.runner.recalled(last.caused(MemoryRecalled, reply, source="/services/memory"))
            elif isinstance(last, TicketQuestion) and last.data.field in case.answers:
                played.asked.append(last.data.field)
                answer = Answer(ticket_id=last.data.ticket_id, text=case.answers[last.data.field])
                events = await self.runner.answered(TicketAnswered.create(answer, source="/upstream/cases", team=requested.team, actor=Actor.human(case.requester), correlation_id=last.data.ticket_id))
            else:
                break
            played.events.extend(events)
        # Kafka delivers at least once: the request again must replay its outcome, not act again.
        again = await self.runner.run(requested)
        if again and events and [e.id for e in again[-len(events):]] != [e.id for e in events]:
            played.redelivery = f"a redelivered request ended differently: {[e.type for e in again]} after {[e.type for e in events]}"
        if case.check is not None:
            async with self.systems_pool.acquire() as conn:
                await case.check(conn, played.events)
        return played

    def verdict(self, played: Played) -> str | None:
        """What is wrong with how the case went, or None when a person would accept it."""
        case = played.case
        if played.redelivery:
            return played.redelivery
        if played.outcome != case.expect:
            failure = played.failure
            why = f" ({failure.data.error_code}: {failure.data.reason})" if failure else ""
            return f"expected {case.expect}, got {played.outcome}{why}"
        if case.error_code is not None and (played.failure is None or played.failure.data.error_code != case.error_code):
            got = played.failure.data.error_code if played.failure else None
            return f"expected error {case.error_code}, got {got}"
        return None
