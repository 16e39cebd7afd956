"""The skill runtime's guarantees, on made-up skills whose steps write to a ledger: a stand-in system
that keeps every write it is told, as a real one does (no transaction of ours can take a write back
from it): compensation of earlier steps when a later one fails, retries with backoff for transient
failures, a time limit per attempt, a time budget per skill, questions to the requester mid-skill,
and resume-after-crash without repeating a step. The requester is looked up in the simulator's
directory (deploy/sandbox over HTTP) before the first step, as in production."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.catalog import Catalog, load_catalog
from contracts.events import SkillCompleted, SkillFailed, SkillRequested, SkillStep, TicketEscalated, TicketQuestion, TicketResolved
from deploy.sandbox.cases import Case, Workbench
from deploy.stack import ROOT
from runtime.db import Database, migrate
from runtime.vendor.errors import ApiError
from services.skills.batching import run_per_ticket
from services.skills.credentials import Vault
from services.skills.execution import execute
from services.skills.settings import DEFAULT_CATALOG
from services.skills.skill import NeedInput, Skill, Step, StepContext, StepFailed

CALLS: dict[str, int] = {}
#: The made-up system's state: every write it was told, in order.
LEDGER: list[str] = []


async def _ledger(ctx: StepContext, what: str) -> dict[str, Any]:
    CALLS[what] = CALLS.get(what, 0) + 1
    LEDGER.append(what)
    return {"did": what}


def _writes(what: str):  # noqa: ANN202
    async def run(ctx: StepContext) -> dict[str, Any]:
        return await _ledger(ctx, what)

    return run


async def _undo(ctx: StepContext, outputs: Mapping[str, Any]) -> dict[str, Any]:
    return await _ledger(ctx, f"undo {outputs['did']}")


async def _refuses(ctx: StepContext) -> dict[str, Any]:
    await _ledger(ctx, "refused write")  # the system keeps it: nothing shares a transaction with it
    raise StepFailed("target_refused", "the system said no")


def _flaky(failures: int, status: int = 503):  # noqa: ANN202
    async def run(ctx: StepContext) -> dict[str, Any]:
        CALLS["flaky"] = CALLS.get("flaky", 0) + 1
        if CALLS["flaky"] <= failures:
            raise ApiError(status, "E0000009" if status >= 500 else "E0000047", "try again")
        return await _ledger(ctx, "flaky")

    return run


async def _slow(ctx: StepContext) -> dict[str, Any]:
    CALLS["slow"] = CALLS.get("slow", 0) + 1
    await asyncio.sleep(5)
    return {}


async def _needs_device(ctx: StepContext) -> dict[str, Any]:
    if "device" not in ctx.inputs:
        raise NeedInput("device", "Which device is it: your laptop or your phone?")
    return await _ledger(ctx, f"fixed {ctx.inputs['device']}")


def skill(*steps: Step, budget: float = 120.0) -> Skill:
    return Skill(name="password-reset", steps=steps, summarise=lambda outputs: f"did {len(outputs)} steps", time_budget_s=budget)


def step(name: str, run, **kw) -> Step:  # noqa: ANN001
    return Step(name, "okta", "users.read", run, **kw)


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()
    LEDGER.clear()


@pytest.fixture
async def make_bench(service_database, workforce, simulator):  # noqa: ANN001, ANN201
    database = await service_database("skills")
    vault = Vault(SecretStr(Fernet.generate_key().decode()))
    catalog: Catalog = load_catalog(DEFAULT_CATALOG)

    async def make(made: Skill) -> Workbench:
        bench = Workbench(database, vault, workforce, {made.name: made}, catalog, simulator=simulator)  # the requester is looked up in its directory
        await bench.hire("jordan")
        return bench

    return make


def case(**kw: Any) -> Case:
    return Case(**{"name": "t", "skill": "password-reset", "coworker": "jordan", "requester": "ana.silva", "text": "please fix", "expect": "resolved", **kw})


async def ledger(bench: Workbench) -> list[str]:
    return list(LEDGER)


async def test_a_failed_step_undoes_the_earlier_steps_newest_first_then_escalates_with_what_was_undone(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("one", _writes("one"), compensate=_undo), step("two", _writes("two")), step("three", _writes("three"), compensate=_undo), step("four", _refuses)))
    played = await bench.play(case(expect="escalated"))
    # No transaction of ours spans the system: the refused step's own write stays, as a real system
    # keeps it (the step did not finish, so it has nothing to undo); the done steps are undone, newest first.
    assert await ledger(bench) == ["one", "two", "three", "refused write", "undo three", "undo one"], "step two has no undo"
    undos = [e.data for e in played.events if isinstance(e, SkillStep) and e.data.kind == "compensation"]
    assert [(u.step, u.name, u.status) for u in undos] == [(3, "three", "done"), (1, "one", "done")]
    failed = next(e for e in played.events if isinstance(e, SkillFailed))
    assert (failed.data.failed_step, failed.data.error_code, failed.data.compensated) == (4, "target_refused", ["three", "one"])
    escalated = played.events[-1]
    assert isinstance(escalated, TicketEscalated)
    assert [a.what for a in escalated.data.handoff.tried][-2:] == ["undo three (okta)", "undo one (okta)"]


async def test_a_redelivered_failure_replays_the_compensations_without_undoing_twice(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("one", _writes("one"), compensate=_undo), step("two", _refuses)))
    requested = bench.request(case())
    first = await bench.runner.run(requested)
    again = await bench.runner.run(requested)
    assert [e.id for e in again] == [e.id for e in first]
    assert await ledger(bench) == ["one", "refused write", "undo one"], "nothing was done or undone twice"


async def test_a_transient_error_is_retried_with_backoff_and_the_step_happens_once(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("flaky", _flaky(2), attempts=3)))
    played = await bench.play(case())
    assert played.outcome == "resolved"
    record = next(e.data for e in played.events if isinstance(e, SkillStep))
    assert (record.status, record.attempts) == ("done", 3)
    assert await ledger(bench) == ["flaky"]


async def test_a_step_that_stays_unavailable_gives_up_after_its_attempts_and_escalates(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("first", _writes("first"), compensate=_undo), step("flaky", _flaky(10, 429), attempts=2)))
    played = await bench.play(case(expect="escalated"))
    failed = played.failure
    assert failed is not None and failed.data.error_code == "system_unavailable"
    assert "gave up after 2 attempt" in failed.data.reason
    assert "attempt 1: 429 E0000047: try again; attempt 2: 429 E0000047: try again" in failed.data.reason, "every attempt is listed"
    assert CALLS["flaky"] == 2
    assert await ledger(bench) == ["first", "undo first"]


async def test_an_attempt_past_its_time_limit_is_cut_off_and_retried(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("slow", _slow, timeout_s=0.05, attempts=2)))
    played = await bench.play(case(expect="escalated"))
    assert CALLS["slow"] == 2
    assert played.failure is not None and played.failure.data.error_code == "system_unavailable"
    assert "okta did not do slow: gave up after 2 attempt" in played.failure.data.reason
    assert "attempt 1: no answer within 0.05 s; attempt 2: no answer within 0.05 s" in played.failure.data.reason


async def test_a_skill_past_its_time_budget_stops_before_its_next_step(make_bench) -> None:  # noqa: ANN001
    async def slowish(ctx: StepContext) -> dict[str, Any]:
        await asyncio.sleep(0.2)
        return await _ledger(ctx, "slowish")

    bench = await make_bench(skill(step("slowish", slowish, compensate=_undo), step("next", _writes("next")), budget=0.1))
    played = await bench.play(case(expect="escalated"))
    assert played.failure is not None and played.failure.data.error_code == "time_budget_exceeded"
    assert await ledger(bench) == ["slowish", "undo slowish"], "the next step never ran"


async def test_a_step_that_needs_an_answer_asks_the_requester_and_resumes_with_it(make_bench) -> None:  # noqa: ANN001
    bench = await make_bench(skill(step("first", _writes("first")), step("fix", _needs_device)))
    requested = bench.request(case())
    asked = await bench.runner.run(requested)
    assert isinstance(asked[-1], TicketQuestion)
    assert (asked[-1].data.field, asked[-1].data.to.id) == ("device", "ana.silva")
    assert await bench.runner.run(requested) and await ledger(bench) == ["first"], "a redelivery asks again; nothing runs twice"
    played = await bench.play(case(answers={"device": "laptop"}))
    assert played.asked == ["device"] and played.outcome == "resolved"
    assert (await ledger(bench))[-2:] == ["first", "fixed laptop"]


async def test_an_answer_for_a_ticket_nobody_asked_about_changes_nothing(make_bench) -> None:  # noqa: ANN001
    from contracts.envelope import Actor
    from contracts.events import Answer, TicketAnswered

    bench = await make_bench(skill(step("first", _writes("first"))))
    answer = TicketAnswered.create(Answer(ticket_id="T-nobody", text="laptop"), source="/upstream/tests", team="it-support", actor=Actor.human("ana.silva"), correlation_id="T-nobody")
    assert await bench.runner.answered(answer) == []
    assert await ledger(bench) == []


async def test_a_missing_declared_input_is_asked_for_before_any_step_runs(service_database, workforce, simulator) -> None:  # noqa: ANN001
    database = await service_database("skills")
    vault = Vault(SecretStr(Fernet.generate_key().decode()))
    ran: list[str] = []

    async def assign(ctx: StepContext) -> dict[str, Any]:
        ran.append(ctx.inputs["app"])
        return {"app": ctx.inputs["app"]}

    made = Skill(name="app-access", steps=(Step("assign", "okta", "apps.assign", assign),), summarise=lambda o: f"assigned {o['assign']['app']}")
    bench = Workbench(database, vault, workforce, {"app-access": made}, load_catalog(DEFAULT_CATALOG), simulator=simulator)
    await bench.hire("enterprise-app-agent", autonomy={"app-access": "autonomous"})
    played = await bench.play(Case("t", "app-access", "enterprise-app-agent", "ana.silva", "i need access please", "resolved", answers={"app": "figma"}))
    first_question = next(e for e in played.events if isinstance(e, TicketQuestion))
    assert first_question.data.question == "Which application, site or group do you need access to?"
    assert ran == ["figma"] and isinstance(played.events[-1], TicketResolved)


async def test_a_crash_after_a_step_resumes_at_the_next_without_repeating_it(make_bench) -> None:  # noqa: ANN001
    made = skill(step("one", _writes("one")), step("two", _writes("two")))
    bench = await make_bench(made)
    requested = bench.request(case())
    facts = await bench.runner.facts(requested.data)
    from services.skills.policy import authorize

    decision = authorize(facts, skill=made.name, system="okta", scope="users.read")
    await execute(bench.database.pool, made.steps[0], 1, requested, {}, credential=None, decision=decision, systems=bench.runner.systems)
    events = await bench.runner.run(requested)  # the process died after step one; the request is redelivered
    assert isinstance(events[-2], SkillCompleted)
    assert await ledger(bench) == ["one", "two"]


async def test_a_new_request_after_a_compensated_failure_does_the_undone_step_again(make_bench) -> None:  # noqa: ANN001
    fail_once = {"left": 1}

    async def sometimes(ctx: StepContext) -> dict[str, Any]:
        if fail_once["left"]:
            fail_once["left"] -= 1
            raise StepFailed("target_refused", "not yet")
        return await _ledger(ctx, "two")

    bench = await make_bench(skill(step("one", _writes("one"), compensate=_undo), step("two", sometimes)))
    first = bench.request(case())
    assert isinstance((await bench.runner.run(first))[-1], TicketEscalated)
    retry = first.caused(type(first), first.data, source="/humans/service-desk", ordinal="retry")  # a person sends it again
    assert isinstance((await bench.runner.run(retry))[-1], TicketResolved)
    assert await ledger(bench) == ["one", "undo one", "one", "two"], "step one was undone, so the retry did it again"


async def test_an_answer_that_does_not_do_is_asked_again_and_the_newer_answer_counts(make_bench) -> None:  # noqa: ANN001
    from contracts.envelope import Actor
    from contracts.events import Answer, TicketAnswered

    async def needs_laptop(ctx: StepContext) -> dict[str, Any]:
        if ctx.inputs.get("device") != "laptop":
            raise NeedInput("device", "Which device: your laptop or your phone? (we can only fix laptops remotely)")
        return await _ledger(ctx, "fixed laptop")

    bench = await make_bench(skill(step("fix", needs_laptop)))
    requested = bench.request(case())
    first = (await bench.runner.run(requested))[-1]

    def answer(text: str) -> TicketAnswered:
        return TicketAnswered.create(Answer(ticket_id=requested.data.ticket_id, text=text), source="/upstream/tests", team=requested.team, actor=Actor.human("ana.silva"), correlation_id=requested.data.ticket_id)

    toaster = answer("my toaster")
    second = (await bench.runner.answered(toaster))[-1]
    assert isinstance(second, TicketQuestion) and second.id != first.id, "a second question, not a redelivery of the first"
    again = await bench.runner.answered(toaster)
    assert [e.id for e in again][-1:] == [second.id] and await ledger(bench) == [], "a redelivered answer asks the same second question"
    done = await bench.runner.answered(answer("laptop"))
    assert isinstance(done[-1], TicketResolved) and await ledger(bench) == ["fixed laptop"]


# --- a batch's tickets at once, on few round trips ------------------------------------------------


class _Counted(Database):
    """The skills database with every statement its connections send kept, in order."""

    statements: list[str]

    async def open(self) -> None:
        self.statements = []

        async def init(conn: asyncpg.Connection) -> None:
            conn.add_query_logger(lambda q: self.statements.append(q.query))

        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self.pool_size, server_settings={"search_path": self.schema}, init=init)
        await migrate(self._pool, self.schema, self.migrations)


@pytest.fixture
async def counted_bench(database_url, workforce, simulator):  # noqa: ANN001, ANN201
    opened: list[Database] = []

    async def make(made: Skill, *, pool_size: int = 4) -> Workbench:
        database = _Counted(database_url, "skills", ROOT / "services" / "skills" / "migrations", pool_size=pool_size)
        await database.open()
        opened.append(database)
        bench = Workbench(database, Vault(SecretStr(Fernet.generate_key().decode())), workforce, {made.name: made}, load_catalog(DEFAULT_CATALOG), simulator=simulator)
        await bench.hire("jordan")
        return bench

    yield make
    for database in opened:
        await database.close()


async def test_a_batchs_tickets_run_at_once_even_on_a_pool_of_one_connection(counted_bench) -> None:  # noqa: ANN001
    bench = await counted_bench(skill(step("one", _writes("one"), compensate=_undo), step("two", _writes("two"))), pool_size=1)
    requests = [bench.request(case()) for _ in range(4)]
    outcomes: dict[str, list] = {}

    async def run(event: SkillRequested) -> None:
        outcomes[event.id] = await bench.runner.run(event)

    # A request holds at most one connection at a time, so four of them share one without waiting on each other forever.
    await asyncio.wait_for(run_per_ticket(requests, run, limit=4), 60)
    assert all(isinstance(outcomes[e.id][-1], TicketResolved) for e in requests)
    assert sorted(LEDGER) == ["one"] * 4 + ["two"] * 4, "each ticket's steps ran once"


async def test_no_pooled_connection_is_held_while_a_system_is_called(counted_bench) -> None:  # noqa: ANN001
    seen: list[int] = []

    async def looks(ctx: StepContext) -> dict[str, Any]:
        pool = bench.database.pool
        seen.append(pool.get_size() - pool.get_idle_size())
        return await _ledger(ctx, "looked")

    bench = await counted_bench(skill(step("one", looks), step("two", looks)))
    played = await bench.play(case())
    assert played.outcome == "resolved" and seen == [0, 0]


async def test_a_request_reads_and_writes_in_few_statements_and_a_redelivery_in_fewer(counted_bench) -> None:  # noqa: ANN001
    bench = await counted_bench(skill(step("one", _writes("one")), step("two", _writes("two"))))
    await bench.runner.run(bench.request(case()))  # the first: the manifest and the service's own directory credential are read
    requested = bench.request(case())
    bench.database.statements.clear()
    first = await bench.runner.run(requested)
    ran = list(bench.database.statements)
    bench.database.statements.clear()
    again = await bench.runner.run(requested)
    replayed = list(bench.database.statements)
    assert [e.id for e in again] == [e.id for e in first]
    # One statement to start (answers, identity, parked?, reader credential), one to record who asked; per
    # step one connection to read the outcome, the credential and the outcome again and to claim the step,
    # and one statement that keeps the outcome and clears the claim. Before issue 17: 24 statements on 21 connections.
    assert _statements(ran) == (2 + 2 * 5, 2 + 2 * 2), "\n".join(q[:100] for q in ran)
    assert _statements(replayed) == (1 + 2, 1 + 2), "\n".join(q[:100] for q in replayed)


def _statements(sent: list[str]) -> tuple[int, int]:
    """(statements, connections given back to the pool: asyncpg's reset query is sent on each)."""
    resets = sum(1 for q in sent if q.startswith("SELECT pg_advisory_unlock_all();"))
    return len(sent) - resets, resets
