"""Whether a coworker may take an action: one decision per step, by named rules, in order. Pure.

The rules read only what the coworker *is* (its lifecycle state now, the manifest version its
work started on, its budget, a manager's approval) and what the step *is* (skill, system, scope).
Nothing in a ticket's text is an input, so no ticket can widen what a coworker may do.

1. coworker-known   the coworker and the version its work started on exist
2. coworker-active  it is active now (suspended or offboarded coworkers stop before their next step)
3. holds-skill      the skill is in its manifest
4. holds-scope      the step's system and scope are granted to it
5. within-budget    its budget for the period is not spent
6. approved         a supervised skill's destructive step has its manager's approval (or waits for it)

Which rules apply after the first four, in which order, and their parameters (which autonomy asks
before a destructive step, scopes that always ask, the delegation hop limit) are the policy file's
(``policy_file.py``, ``deploy/workforce/policy.yaml``); without one, the built-in policy above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.coworkers import Autonomy, CoworkerManifest, LifecycleState
from contracts.events import BudgetStatus, PolicyRule
from services.skills.policy_file import BUILTIN, Policy


@dataclass(frozen=True)
class Facts:
    coworker: str
    version: int
    state: LifecycleState | None  # now, from the coworker table; None if unknown
    manifest: CoworkerManifest | None  # the version the work started on; None if unknown
    budget: BudgetStatus | None = None
    approval: bool | None = None  # True granted, False rejected, None not decided (or not asked)
    approval_by: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: PolicyRule
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)
    #: Not refused, not allowed yet: a supervised step waiting for its manager.
    awaiting_approval: bool = False


def authorize(facts: Facts, *, skill: str, system: str | None = None, scope: str | None = None, destructive: bool = False, policy: Policy = BUILTIN) -> Decision:
    """Decide on running ``skill`` (and, for a step, one action ``system:scope``) as ``facts.coworker``."""
    who = f"coworker {facts.coworker!r}"
    inputs: dict[str, Any] = {"coworker": facts.coworker, "version": facts.version, "skill": skill}
    if facts.state is None or facts.manifest is None:
        return Decision(False, "coworker-known", f"{who} version {facts.version} is not known to this workforce", inputs)
    inputs["state"] = facts.state.value
    if facts.state is not LifecycleState.active:
        return Decision(False, "coworker-active", f"{who} is {facts.state.value}; it takes no work and stops before its next step", inputs)
    manifest = facts.manifest
    if skill not in manifest.skills:
        held = ", ".join(manifest.skills) or "none"
        return Decision(False, "holds-skill", f"{who} does not hold skill {skill!r}; its skills: {held}", {**inputs, "skills": manifest.skills})
    if system is None or scope is None:
        return Decision(True, "holds-skill", f"{who} holds skill {skill!r}", inputs)
    granted = manifest.tools.get(system, [])
    inputs |= {"system": system, "scope": scope, "granted": granted}
    if scope not in granted:
        shown = ", ".join(f"{system}:{s}" for s in granted) or f"nothing on {system}"
        return Decision(False, "holds-scope", f"{who} has no scope {system}:{scope}; granted: {shown}", inputs)
    allowed = Decision(True, "holds-scope", f"{who} holds {skill!r} and {system}:{scope}; the policy asks no approval", inputs)
    for rule in policy.rules[4:]:  # the first four, above, every policy applies first
        if rule == "within-budget" and facts.budget is not None:
            inputs |= {"budget": facts.budget.budget, "spent_usd": str(facts.budget.spent_usd), "limit_usd": str(facts.budget.limit_usd), "period": facts.budget.period}
            if facts.budget.exhausted:
                return Decision(False, "within-budget", f"budget {facts.budget.budget} is spent: {facts.budget.spent_usd} of {facts.budget.limit_usd} USD in {facts.budget.period}", inputs)
        elif rule == "approved":
            autonomy = manifest.autonomy_for(skill)
            inputs |= {"autonomy": autonomy.value, "destructive": destructive}
            why = policy.approval.needed(autonomy, system=system, scope=scope, destructive=destructive)
            if why is None:
                acts_alone = autonomy is Autonomy.autonomous or autonomy not in policy.approval.destructive_steps_when
                said = ", and acts on its own for this skill" if acts_alone else "; the step changes nothing that needs approval"
                allowed = Decision(True, "holds-scope", f"{who} holds {skill!r} and {system}:{scope}{said}", inputs)
                continue
            approver = manifest.manager.handle if manifest.manager else None
            inputs["approver"] = approver
            asked = f"{skill!r} is supervised" if destructive and autonomy in policy.approval.destructive_steps_when else why
            if facts.approval is None:
                return Decision(False, "approved", f"{asked}: {approver or 'a manager'} must approve this action first", inputs, awaiting_approval=True)
            inputs["approved_by"] = facts.approval_by
            if not facts.approval:
                return Decision(False, "approved", f"{facts.approval_by} rejected this action", inputs)
            allowed = Decision(True, "approved", f"{asked} and {facts.approval_by} approved this action", inputs)
    return allowed


def delegation(facts: Facts, *, skill: str, to: str, chain: list[str], max_hops: int) -> Decision:
    """May ``facts.coworker`` hand this work to ``to``? Its own authorisation applies there, not ours."""
    inputs: dict[str, Any] = {"coworker": facts.coworker, "to": to, "chain": chain, "max_hops": max_hops, "skill": skill}
    if facts.state is None or facts.manifest is None:
        return Decision(False, "coworker-known", f"coworker {facts.coworker!r} version {facts.version} is not known", inputs)
    if facts.state is not LifecycleState.active:
        return Decision(False, "coworker-active", f"coworker {facts.coworker!r} is {facts.state.value}; it hands no work on", inputs)
    if to not in facts.manifest.sub_agents:
        return Decision(False, "delegation", f"{to!r} is not a sub-agent of {facts.coworker!r}", inputs)
    if to in chain:
        return Decision(False, "delegation", f"handing to {to!r} would loop: the work already passed {' -> '.join(chain)}", inputs)
    if len(chain) >= max_hops:
        return Decision(False, "delegation", f"the work has been handed on {len(chain)} times; the limit is {max_hops}", inputs)
    return Decision(True, "delegation", f"{facts.coworker!r} hands {skill!r} to its sub-agent {to!r}", inputs)
