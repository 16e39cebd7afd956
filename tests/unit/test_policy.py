"""The authorisation matrix: skill x scope x state x approval x budget, and what each refusal says."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from contracts.coworkers import Autonomy, LifecycleState
from contracts.events import BudgetStatus
from deploy.coworkers import example_workforce
from services.skills.policy import Facts, authorize, delegation

JORDAN = example_workforce()["jordan"]
STATES = [None, *LifecycleState]
APPROVALS = [None, True, False]


def budget(spent: str) -> BudgetStatus:
    return BudgetStatus(budget="coworker:jordan", period="2026-11", spent_usd=Decimal(spent), limit_usd=Decimal(250))


def jordan(*, supervised: bool) -> object:
    autonomy = {"password-reset": Autonomy.supervised if supervised else Autonomy.autonomous}
    return JORDAN.model_copy(update={"autonomy": autonomy})


@pytest.mark.parametrize(
    ("state", "holds_skill", "holds_scope", "supervised", "approval", "exhausted", "destructive"),
    list(itertools.product(STATES, [True, False], [True, False], [True, False], APPROVALS, [True, False], [True, False])),
)
def test_an_action_is_allowed_only_when_every_rule_holds(state, holds_skill, holds_scope, supervised, approval, exhausted, destructive) -> None:  # noqa: ANN001
    manifest = jordan(supervised=supervised)
    facts = Facts("jordan", 1, state, None if state is None else manifest, budget("250" if exhausted else "10"), approval, "human:priya.raman" if approval is not None else None)
    skill = "password-reset" if holds_skill else "app-access"
    scope = "users.reset_password" if holds_scope else "users.suspend"
    decision = authorize(facts, skill=skill, system="okta", scope=scope, destructive=destructive)

    ready = state is LifecycleState.active and holds_skill and holds_scope and not exhausted
    needs_approval = supervised and destructive  # a supervised coworker asks before a destructive step only
    assert decision.allowed == (ready and (not needs_approval or approval is True))
    assert decision.awaiting_approval == (ready and needs_approval and approval is None)
    if not decision.allowed:
        first_broken = (
            "coworker-known" if state is None else
            "coworker-active" if state is not LifecycleState.active else
            "holds-skill" if not holds_skill else
            "holds-scope" if not holds_scope else
            "within-budget" if exhausted else
            "approved"
        )
        assert decision.rule == first_broken


def test_refusals_name_the_thing_the_value_and_what_would_be_right() -> None:
    active = Facts("jordan", 1, LifecycleState.active, JORDAN)
    assert authorize(active, skill="app-access").reason == f"coworker 'jordan' does not hold skill 'app-access'; its skills: {', '.join(JORDAN.skills)}"
    assert authorize(active, skill="password-reset", system="okta", scope="users.suspend").reason == (
        "coworker 'jordan' has no scope okta:users.suspend; granted: " + ", ".join(f"okta:{scope}" for scope in JORDAN.tools["okta"])
    )
    suspended = Facts("jordan", 1, LifecycleState.suspended, JORDAN)
    assert "is suspended; it takes no work and stops before its next step" in authorize(suspended, skill="password-reset").reason
    spent = Facts("jordan", 1, LifecycleState.active, JORDAN, budget("250.00"))
    assert authorize(spent, skill="password-reset", system="okta", scope="users.read").reason == "budget coworker:jordan is spent: 250.00 of 250 USD in 2026-11"


def test_a_supervised_step_names_who_must_approve_it() -> None:
    facts = Facts("jordan", 1, LifecycleState.active, jordan(supervised=True))
    decision = authorize(facts, skill="password-reset", system="okta", scope="users.reset_password", destructive=True)
    assert decision.awaiting_approval and decision.inputs["approver"] == "priya.raman"
    looking = authorize(facts, skill="password-reset", system="okta", scope="users.read", destructive=False)
    assert looking.allowed and not looking.awaiting_approval, "a step that changes nothing runs without asking"


def test_an_unlisted_skill_is_supervised_by_default() -> None:
    manifest = JORDAN.model_copy(update={"autonomy": {}})
    assert manifest.autonomy_for("password-reset") is Autonomy.supervised


@pytest.mark.parametrize(
    ("to", "chain", "max_hops", "allowed", "words"),
    [
        ("device-agent", [], 3, True, "hands 'app-crash' to its sub-agent 'device-agent'"),
        ("bob", [], 3, False, "'bob' is not a sub-agent of 'jordan'"),
        ("device-agent", ["device-agent"], 3, False, "would loop"),
        ("device-agent", ["a", "b", "c"], 3, False, "handed on 3 times; the limit is 3"),
    ],
)
def test_delegation_goes_only_down_to_own_sub_agents_without_loops_within_the_hop_limit(to: str, chain: list[str], max_hops: int, allowed: bool, words: str) -> None:
    decision = delegation(Facts("jordan", 1, LifecycleState.active, JORDAN), skill="app-crash", to=to, chain=chain, max_hops=max_hops)
    assert decision.allowed is allowed
    assert words in decision.reason
