"""The authorisation policy as data: a reviewed, versioned file (``deploy/workforce/policy.yaml``,
``SKILLS_POLICY``) that says which rules apply in which order and with which parameters. The rules
themselves (what "holds a scope" means) are code, in ``policy.py``; what an organisation may choose
is here (ADR 0015).

Loaded and validated once, at the service's start: a file that does not hold is refused with every
problem named, and skills does not start. Every decision carries the policy's version and the
file's SHA-256; a file whose SHA-256 differs from the last announced is announced as a
``policy.changed`` event, with the diff.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.coworkers import Autonomy
from contracts.envelope import Actor, derived_event_id
from contracts.events import PolicyChange, PolicyChanged, PolicyRule
from contracts.files import read_yaml
from runtime.table import TopicTable

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "policy.yaml"

#: Rules every policy applies first, in this order: the others read what these establish (the
#: coworker's manifest, its state), and least privilege (skill, scope) is not an option.
REQUIRED = ("coworker-known", "coworker-active", "holds-skill", "holds-scope")
#: Rules a policy may apply after those, in the order it lists them, or leave out.
OPTIONAL = ("within-budget", "approved")

_SCOPE = r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9][a-z0-9_.*-]*)?$"


class PolicyError(ValueError):
    pass


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The autonomy levels whose destructive steps need the coworker's manager's approval first.
    destructive_steps_when: tuple[Autonomy, ...] = (Autonomy.supervised,)
    #: Systems (``okta``) or scopes (``okta:users.lifecycle``) whose every step needs approval,
    #: whatever the coworker's autonomy and whether the step is destructive or not.
    always: tuple[Annotated[str, Field(pattern=_SCOPE, max_length=200)], ...] = ()

    def needed(self, autonomy: Autonomy, *, system: str, scope: str, destructive: bool) -> str | None:
        """Why this step needs approval under this policy, or None."""
        if system in self.always or f"{system}:{scope}" in self.always:
            return f"the policy has every {system}:{scope} step approved first"
        if destructive and autonomy in self.destructive_steps_when:
            return f"the policy has a {autonomy.value} coworker's destructive steps approved first"
        return None


class Delegation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: How many times work may be handed down to a sub-agent.
    max_hops: int = Field(default=3, ge=1, le=10)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S+$")]
    #: The rules, in the order they are applied; the first that does not hold decides.
    rules: tuple[PolicyRule, ...] = (*REQUIRED, *OPTIONAL)
    delegation: Delegation = Delegation()
    approval: Approval = Approval()

    @field_validator("rules")
    @classmethod
    def _order(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(rules[: len(REQUIRED)]) != REQUIRED:
            raise ValueError(f"must begin with {', '.join(REQUIRED)} in this order (the others build on them); got {', '.join(rules) or 'nothing'}")
        rest = rules[len(REQUIRED) :]
        unknown = [r for r in rest if r not in OPTIONAL]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} cannot follow them; the rules that may: {', '.join(OPTIONAL)}")
        if len(set(rest)) != len(rest):
            raise ValueError(f"a rule is listed twice: {', '.join(rules)}")
        return rules

    @property
    def enforces_budget(self) -> bool:
        return "within-budget" in self.rules

    @property
    def approvals(self) -> bool:
        return "approved" in self.rules


#: The rules as they were before the policy was a file: what ``authorize`` applies when given none.
BUILTIN = Policy(version="builtin")


class LoadedPolicy(BaseModel):
    """A policy file as applied: its content, and the text and hash that identify it."""

    model_config = ConfigDict(frozen=True)

    policy: Policy
    path: str
    text: str
    sha256: str

    @property
    def version(self) -> str:
        return self.policy.version

    def change_from(self, last: PolicyChange | None) -> PolicyChange | None:
        """What to announce, given the last announced policy: None when it is this very file."""
        if last is not None and last.sha256 == self.sha256:
            return None
        before = last.text if last is not None else ""
        diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), self.text.splitlines(keepends=True), f"policy {last.version}" if last else "no policy", f"policy {self.version}"))
        return PolicyChange(
            previous_version=last.version if last else None,
            previous_sha256=last.sha256 if last else None,
            version=self.version,
            sha256=self.sha256,
            path=self.path[-500:],
            text=self.text,
            diff=diff[:20_000],
        )

    def changed_event(self, last: PolicyChange | None, *, source: str) -> PolicyChanged | None:
        """The ``policy.changed`` event for this file, with an id that depends only on the two hashes
        (two instances starting on the same change announce it once, as governance records it)."""
        change = self.change_from(last)
        if change is None:
            return None
        return PolicyChanged(
            id=derived_event_id(f"policy:{change.previous_sha256 or 'none'}", "policy.changed", change.sha256),
            source=source,
            team="platform",  # the organisation's own records, as the CLI's commands
            actor=Actor.system("skills"),
            correlation_id="policy",  # one flow: `workforce audit ticket policy` is the history of the policy
            subject="policy",
            data=change,
        )


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate a policy file; raise ``PolicyError`` naming the file and every problem."""
    raw = read_yaml(path, PolicyError, missing="no such policy file (SKILLS_POLICY)")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or 'the file'}: {_message(err)}" for err in exc.errors(include_url=False)]
        raise PolicyError(f"{path}: " + "; ".join(problems)) from None
    text = path.read_text()
    return LoadedPolicy(policy=policy, path=str(path), text=text, sha256=hashlib.sha256(text.encode()).hexdigest())


def _message(err: dict) -> str:  # type: ignore[type-arg]
    if err["type"] == "literal_error" and err["loc"][:1] == ("rules",):
        return f"{err['input']!r} is not a rule; the rules: {', '.join(get_args(PolicyRule))}"
    return str(err["msg"]).removeprefix("Value error, ")


async def announce(table: TopicTable[PolicyChanged], loaded: LoadedPolicy, publish: Callable[[PolicyChanged], Awaitable[None]], *, source: str) -> PolicyChanged | None:
    """At start: announce the policy file when it is not the last one announced (``table``: the
    compacted ``policy.changed`` topic, read whole); the same file again announces nothing."""
    last = table.get("policy")
    event = loaded.changed_event(last.data if last is not None else None, source=source)
    if event is not None:
        await publish(event)
    return event
