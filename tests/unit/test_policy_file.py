"""The authorisation policy as a file: validated at start with every problem named, and each of its
parameters changes the decisions it should, and only those."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.coworkers import Autonomy, LifecycleState
from contracts.events import BudgetStatus
from deploy.coworkers import example_workforce
from services.skills.policy import Facts, authorize, delegation
from services.skills.policy_file import BUILTIN, DEFAULT_POLICY, Policy, PolicyError, load_policy

JORDAN = example_workforce()["jordan"]


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def facts(*, autonomy: Autonomy = Autonomy.autonomous, spent: str = "10", approval: bool | None = None) -> Facts:
    manifest = JORDAN.model_copy(update={"autonomy": {"password-reset": autonomy}})
    budget = BudgetStatus(budget="coworker:jordan", period="2026-11", spent_usd=Decimal(spent), limit_usd=Decimal(250))
    return Facts("jordan", 1, LifecycleState.active, manifest, budget, approval, "human:priya.raman" if approval is not None else None)


def test_the_shipped_policy_loads_and_is_the_built_in_one_with_a_version_and_a_hash() -> None:
    loaded = load_policy(DEFAULT_POLICY)
    assert loaded.version == "2026-11-25.1"
    assert len(loaded.sha256) == 64 and loaded.text == DEFAULT_POLICY.read_text()
    assert loaded.policy.model_dump(exclude={"version"}) == BUILTIN.model_dump(exclude={"version"}), "the shipped file decides as the code did before it"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("rules: [coworker-known]\n", "version: Field required"),
        ("version: '1'\nrules: [holds-skill, coworker-known, coworker-active, holds-scope]\n", "rules: must begin with coworker-known, coworker-active, holds-skill, holds-scope in this order"),
        ("version: '1'\nrules: [coworker-known, coworker-active, holds-skill]\n", "must begin with coworker-known, coworker-active, holds-skill, holds-scope"),
        ("version: '1'\nrules: [coworker-known, coworker-active, holds-skill, holds-scope, be-nice]\n", "rules.4: 'be-nice' is not a rule; the rules: coworker-known"),
        ("version: '1'\nrules: [coworker-known, coworker-active, holds-skill, holds-scope, delegation]\n", "delegation cannot follow them; the rules that may: within-budget, approved"),
        ("version: '1'\nrules: [coworker-known, coworker-active, holds-skill, holds-scope, approved, approved]\n", "a rule is listed twice"),
        ("version: '1'\ndelegation: {max_hops: 0}\n", "delegation.max_hops: Input should be greater than or equal to 1"),
        ("version: '1'\napproval: {destructive_steps_when: [sometimes]}\n", "approval.destructive_steps_when.0: Input should be 'autonomous' or 'supervised'"),
        ("version: '1'\napproval: {always: ['Okta users']}\n", "approval.always.0: String should match pattern"),
        ("version: '1'\nbudgets: off\n", "budgets: Extra inputs are not permitted"),
        ("version: '1'\nrules: [coworker-known\n", "not valid YAML"),
    ],
)
def test_a_policy_file_that_does_not_hold_is_refused_naming_the_file_and_the_problem(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value).startswith(f"{path}: ") and words in str(refused.value)


def test_a_missing_policy_file_says_which_setting_names_it(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"no such policy file \(SKILLS_POLICY\)"):
        load_policy(tmp_path / "nowhere.yaml")


def test_a_scope_that_always_needs_approval_makes_even_an_autonomous_read_wait_for_the_manager() -> None:
    policy = Policy(version="2", approval={"always": ["okta:users.read"]})
    step = {"skill": "password-reset", "system": "okta", "scope": "users.read", "destructive": False}
    assert authorize(facts(), **step).allowed, "under the built-in policy an autonomous coworker reads on its own"
    waiting = authorize(facts(), **step, policy=policy)
    assert (waiting.allowed, waiting.awaiting_approval, waiting.rule) == (False, True, "approved")
    assert waiting.reason == "the policy has every okta:users.read step approved first: priya.raman must approve this action first"
    granted = authorize(facts(approval=True), **step, policy=policy)
    assert (granted.allowed, granted.rule) == (True, "approved")
    other = authorize(facts(), skill="password-reset", system="okta", scope="users.reset_password", destructive=True, policy=policy)
    assert other.allowed, "only the listed scope asks"


def test_a_whole_system_can_be_listed_as_always_approved() -> None:
    policy = Policy(version="2", approval={"always": ["okta"]})
    assert authorize(facts(), skill="password-reset", system="okta", scope="users.read", policy=policy).awaiting_approval


def test_which_autonomy_asks_before_a_destructive_step_is_the_policy_s() -> None:
    reset = {"skill": "password-reset", "system": "okta", "scope": "users.reset_password", "destructive": True}
    assert authorize(facts(autonomy=Autonomy.supervised), **reset).awaiting_approval
    assert authorize(facts(autonomy=Autonomy.autonomous), **reset).allowed
    everyone = Policy(version="2", approval={"destructive_steps_when": ["supervised", "autonomous"]})
    assert authorize(facts(autonomy=Autonomy.autonomous), **reset, policy=everyone).awaiting_approval
    nobody = Policy(version="3", approval={"destructive_steps_when": []})
    decision = authorize(facts(autonomy=Autonomy.supervised), **reset, policy=nobody)
    assert decision.allowed and decision.reason.endswith("and acts on its own for this skill")


def test_budget_enforcement_is_on_while_the_policy_lists_within_budget() -> None:
    step = {"skill": "password-reset", "system": "okta", "scope": "users.read"}
    spent = facts(spent="250")
    assert authorize(spent, **step).rule == "within-budget" and not authorize(spent, **step).allowed
    off = Policy(version="2", rules=["coworker-known", "coworker-active", "holds-skill", "holds-scope", "approved"])
    assert authorize(spent, **step, policy=off).allowed


def test_the_order_of_the_optional_rules_decides_which_refusal_is_named() -> None:
    reset = {"skill": "password-reset", "system": "okta", "scope": "users.reset_password", "destructive": True}
    spent_and_unapproved = facts(autonomy=Autonomy.supervised, spent="250", approval=False)
    assert authorize(spent_and_unapproved, **reset).rule == "within-budget"
    approvals_first = Policy(version="2", rules=["coworker-known", "coworker-active", "holds-skill", "holds-scope", "approved", "within-budget"])
    assert authorize(spent_and_unapproved, **reset, policy=approvals_first).rule == "approved"


def test_the_hop_limit_of_the_policy_file_bounds_delegation(tmp_path: Path) -> None:
    one_hop = load_policy(write(tmp_path, "version: '2'\ndelegation: {max_hops: 1}\n")).policy
    manager = example_workforce()["it-support-workspace-manager"]
    manager_facts = Facts(manager.name, 1, LifecycleState.active, manager)
    to = manager.sub_agents[0]
    assert delegation(manager_facts, skill="laptop-troubleshoot", to=to, chain=[], max_hops=one_hop.delegation.max_hops).allowed
    refused = delegation(manager_facts, skill="laptop-troubleshoot", to=to, chain=["someone"], max_hops=one_hop.delegation.max_hops)
    assert not refused.allowed and "the limit is 1" in refused.reason


def test_a_changed_file_is_announced_with_the_diff_and_the_same_file_is_not(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path, DEFAULT_POLICY.read_text(), "a.yaml"))
    announced = first.changed_event(None, source="/services/skills")
    assert announced is not None and announced.subject == "policy" and announced.data.previous_sha256 is None
    assert first.changed_event(announced.data, source="/services/skills") is None, "the same file again: nothing to announce"
    edited = DEFAULT_POLICY.read_text().replace('version: "2026-11-25.1"', 'version: "2026-11-26.1"').replace("always: []", "always: [okta:users.lifecycle]")
    second = load_policy(write(tmp_path, edited, "b.yaml"))
    change = second.changed_event(announced.data, source="/services/skills")
    assert change is not None
    assert (change.data.previous_version, change.data.previous_sha256, change.data.version, change.data.sha256) == ("2026-11-25.1", first.sha256, "2026-11-26.1", second.sha256)
    assert "-  always: []\n+  always: [okta:users.lifecycle]\n" in change.data.diff
    assert change.id == second.changed_event(announced.data, source="/services/skills").id, "two instances announcing one change send one event id"
