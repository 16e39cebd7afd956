"""A coworker's lifecycle: draft -> active -> suspended -> offboarded, with versioned manifests. Pure.

Editing an active coworker creates a new draft version beside the active one; publishing makes the
draft the active version in one step, and work already started keeps the version it started on
(requests carry it). Suspension is reversible; offboarding is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from contracts.coworkers import CoworkerManifest, LifecycleState, delegation_returns_to, skill_problems
from contracts.envelope import Actor, ActorKind, Envelope, derived_event_id
from contracts.events import (
    CommandRejection,
    CoworkerChange,
    CoworkerChanged,
    CoworkerCommand,
    CoworkerCommanded,
    CoworkerRejected,
    CoworkerState,
    CoworkerStated,
)

Requirements = Mapping[str, Mapping[str, list[str]]]


@dataclass(frozen=True)
class Coworker:
    name: str
    state: LifecycleState
    versions: Mapping[int, CoworkerManifest] = field(default_factory=dict)
    active_version: int | None = None
    draft_version: int | None = None
    revision: int = 1
    changed_at: datetime | None = None  # when the last accepted change happened

    @property
    def latest_version(self) -> int:
        return max(self.versions, default=0)

    @property
    def active(self) -> CoworkerManifest | None:
        return self.versions.get(self.active_version) if self.active_version else None

    @property
    def draft(self) -> CoworkerManifest | None:
        return self.versions.get(self.draft_version) if self.draft_version else None


@dataclass(frozen=True)
class Accepted:
    coworker: Coworker
    version: int  # the version the command was about
    from_state: LifecycleState | None
    new_version: bool = False  # an apply that stored a new manifest


@dataclass(frozen=True)
class Refused:
    reason: str


def authorised(current: Coworker | None, command: CoworkerCommand, by: Actor, *, admins: frozenset[str]) -> Refused | None:
    """Whether ``by`` may give this command: a workforce administrator may give any; otherwise only
    the coworker's manager (its active manifest's, else its latest's), and a new coworker only by the
    manager its manifest names. Who ``by`` is was settled by their signature (runtime/signing.py)."""
    if by.kind is not ActorKind.human:
        return Refused(f"{by} is not a person; lifecycle commands come from people")
    if by.id in admins:
        return None
    if current is None:
        manager = command.manifest.manager if command.manifest is not None else None
        if manager is not None and manager.handle == by.id:
            return None
        return Refused(f"{by} may not create coworker {command.coworker!r}: only a workforce administrator or the manager its manifest names")
    manifest = current.active or current.versions[current.latest_version]
    if manifest.manager is not None and manifest.manager.handle == by.id:
        return None
    owner = f"its manager human:{manifest.manager.handle}" if manifest.manager is not None else "no manager"
    return Refused(f"{by} may not {command.command} coworker {command.coworker!r}: it has {owner}; only they or a workforce administrator may")


def decide(current: Coworker | None, command: CoworkerCommand, *, requirements: Requirements, others: Mapping[str, Coworker], at: datetime | None = None) -> Accepted | Refused:
    """What ``command`` (asked at ``at``) does to ``current`` (None: never applied), or why it may not."""
    outcome = _decide(current, command, requirements=requirements, others=others)
    if isinstance(outcome, Accepted) and (current is None or outcome.coworker != current):
        revision = current.revision + 1 if current is not None else 1
        return replace(outcome, coworker=replace(outcome.coworker, revision=revision, changed_at=at))
    return outcome


def _decide(current: Coworker | None, command: CoworkerCommand, *, requirements: Requirements, others: Mapping[str, Coworker]) -> Accepted | Refused:
    name = command.coworker
    if current is None and command.command != "apply":
        return Refused(f"there is no coworker {name!r}; apply a manifest first")
    if current is not None and current.state is LifecycleState.offboarded:
        return Refused(f"coworker {name!r} is offboarded; an offboarded coworker cannot be {_past(command.command)} (apply a manifest under a new name)")
    match command.command:
        case "apply":
            return _apply(current, command, requirements)
        case "publish":
            return _publish(current, others)  # type: ignore[arg-type]
        case "suspend":
            return _move(current, LifecycleState.active, LifecycleState.suspended, "suspended")  # type: ignore[arg-type]
        case "resume":
            return _move(current, LifecycleState.suspended, LifecycleState.active, "resumed")  # type: ignore[arg-type]
        case "offboard":
            assert current is not None
            return Accepted(replace(current, state=LifecycleState.offboarded, draft_version=None), current.active_version or current.latest_version, current.state)
    return Refused(f"unknown command {command.command!r}")


def _apply(current: Coworker | None, command: CoworkerCommand, requirements: Requirements) -> Accepted | Refused:
    manifest = command.manifest
    if manifest is None:
        return Refused("apply needs a manifest")
    if manifest.name != command.coworker:
        return Refused(f"the manifest is for {manifest.name!r}, not {command.coworker!r}")
    problems = skill_problems(manifest, requirements, where=manifest.name)
    if problems:
        return Refused("; ".join(problems))
    if current is None:
        return Accepted(Coworker(manifest.name, LifecycleState.draft, {1: manifest}, draft_version=1), 1, None, new_version=True)
    latest = current.versions[current.latest_version]
    if latest == manifest:
        return Accepted(current, current.latest_version, current.state)  # unchanged: no new version
    version = current.latest_version + 1
    return Accepted(replace(current, versions={**current.versions, version: manifest}, draft_version=version), version, current.state, new_version=True)


def _publish(current: Coworker, others: Mapping[str, Coworker]) -> Accepted | Refused:
    if current.state is LifecycleState.suspended:
        return Refused(f"coworker {current.name!r} is suspended; resume it before publishing a new version")
    if current.draft_version is None:
        return Refused(f"coworker {current.name!r} has no draft to publish (active version {current.active_version})")
    draft = current.versions[current.draft_version]
    if draft.manager is None:
        return Refused(f"coworker {current.name!r} has no manager; a coworker without a named human manager cannot be activated")
    missing = [s for s in draft.sub_agents if s not in others or others[s].state is LifecycleState.offboarded]
    if missing:
        return Refused(f"sub_agents: {', '.join(missing)} not found or offboarded")
    org = {name: c.active or c.draft for name, c in others.items() if (c.active or c.draft) is not None}
    if delegation_returns_to({**org, current.name: draft}, current.name):
        return Refused(f"sub_agents: delegation from {current.name!r} would come back to it")
    published = replace(current, state=LifecycleState.active, active_version=current.draft_version, draft_version=None)
    return Accepted(published, current.draft_version, current.state)


def _move(current: Coworker, required: LifecycleState, to: LifecycleState, verb: str) -> Accepted | Refused:
    if current.state is not required:
        return Refused(f"coworker {current.name!r} is {current.state.value}; only an {required.value} coworker can be {verb}")
    return Accepted(replace(current, state=to), current.active_version or current.latest_version, current.state)


def _past(command: str) -> str:
    return {"apply": "edited", "publish": "published", "suspend": "suspended", "resume": "resumed", "offboard": "offboarded"}[command]


def outcome(command: CoworkerCommanded, result: Accepted | Refused, *, source: str, actor: Actor) -> list[Envelope]:
    """The events that record a decision: the change and the coworker's new state, or the refusal."""
    data = command.data
    if isinstance(result, Refused):
        rejection = CommandRejection(command=data.command, coworker=data.coworker, reason=result.reason[:500])
        return [command.caused(CoworkerRejected, rejection, source=source, actor=actor, subject=data.coworker)]
    coworker = result.coworker
    team = _team_of(coworker) or command.team
    change = CoworkerChange(command=data.command, coworker=coworker.name, from_state=result.from_state, to_state=coworker.state, version=result.version, active_version=coworker.active_version)
    return [
        command.caused(CoworkerChanged, change, source=source, actor=actor, subject=coworker.name, team=team),
        state_event(coworker, source=source, actor=actor, correlation_id=command.correlation_id, at=command.time),
    ]


def state_event(coworker: Coworker, *, source: str, actor: Actor, correlation_id: str, at: datetime) -> CoworkerStated:
    """The coworker's current state for the compacted table. Its id is the coworker's revision, so
    the same state announced twice (say, again at start-up) is one event in the audit trail."""
    state = CoworkerState(
        coworker=coworker.name,
        revision=coworker.revision,
        state=coworker.state,
        active_version=coworker.active_version,
        active=coworker.active,
        draft_version=coworker.draft_version,
        draft=coworker.draft,
        changed_at=coworker.changed_at or at,
    )
    return CoworkerStated(
        id=derived_event_id(f"coworker:{coworker.name}", CoworkerStated.event_type(), coworker.revision),
        source=source,
        subject=coworker.name,
        team=_team_of(coworker) or "platform",
        actor=actor,
        correlation_id=correlation_id,
        data=state,
    )


def _team_of(coworker: Coworker) -> str | None:
    latest = coworker.active or coworker.draft or coworker.versions.get(coworker.latest_version)
    return latest.team if latest else None
