"""The coworker manifest: an AI coworker's job description, the way an employee has one.

A role, not a task list: who it is (name, role, tone, soul), what it is for (goals), who answers
for it (manager), whose budget it spends (team, budget), what it may do (skills, tools with
scopes, autonomy per skill) and whom it may hand work to (sub_agents). Shared by governance (which
owns the lifecycle), triage (which routes to coworkers) and skills (which authorises every step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.files import read_yaml

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Scope = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class Autonomy(StrEnum):
    autonomous = "autonomous"  # acts without asking
    supervised = "supervised"  # a human approves each destructive action before it runs


class LifecycleState(StrEnum):
    draft = "draft"
    active = "active"
    suspended = "suspended"
    offboarded = "offboarded"


class Manager(BaseModel):
    """The named human who answers for the coworker, approves its supervised actions and takes its escalations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]

    @property
    def handle(self) -> str:
        """The manager as an actor id and an escalation queue: the email's local part."""
        return self.email.split("@")[0].lower()


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: Text
    metric: Literal["resolution_rate", "escalation_rate", "routing_accuracy", "satisfaction", "first_response_seconds", "cost_per_ticket_usd"]
    target: Annotated[float, Field(ge=0)]
    skill: Name | None = None

    @model_validator(mode="after")
    def _rates_are_fractions(self) -> Goal:
        if self.metric.endswith(("_rate", "_accuracy")):
            if self.target > 1:
                raise ValueError(f"{self.metric} is a fraction between 0 and 1; got {self.target} (write 0.7 for 70%)")
        return self


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    monthly_usd: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    per_ticket_usd: Annotated[Decimal | None, Field(ge=0, max_digits=14, decimal_places=4)] = None


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    on_offboard: Literal["delete", "keep"] = "delete"


class CoworkerManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    display_name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Text
    tone: Text
    soul: Annotated[list[Text], Field(min_length=1, max_length=20, description="Behavioural principles.")]
    goals: Annotated[list[Goal], Field(max_length=20)] = []
    manager: Manager | None = None
    team: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)]
    skills: Annotated[list[Name], Field(max_length=50)] = []
    tools: Annotated[dict[Name, list[Scope]], Field(max_length=20, description="Connected systems and the scopes granted on each.")] = {}
    autonomy: dict[Name, Autonomy] = {}
    budget: Budget
    sub_agents: Annotated[list[Name], Field(max_length=20)] = []
    memory: MemoryPolicy = MemoryPolicy()

    @model_validator(mode="after")
    def _consistent(self) -> CoworkerManifest:
        unknown = sorted(set(self.autonomy) - set(self.skills))
        if unknown:
            raise ValueError(f"autonomy names skills the coworker does not hold: {', '.join(unknown)}")
        unheld = sorted({g.skill for g in self.goals if g.skill and g.skill not in self.skills})
        if unheld:
            raise ValueError(f"goals name skills the coworker does not hold: {', '.join(unheld)}")
        if self.name in self.sub_agents:
            raise ValueError("a coworker cannot be its own sub-agent")
        for system, scopes in self.tools.items():
            if len(set(scopes)) != len(scopes):
                raise ValueError(f"tools.{system} lists a scope twice")
        return self

    def autonomy_for(self, skill: str) -> Autonomy:
        """Unlisted skills are supervised: acting without a human is granted, never assumed."""
        return self.autonomy.get(skill, Autonomy.supervised)

    def grants(self, system: str, scope: str) -> bool:
        return scope in self.tools.get(system, [])

    @property
    def granted_scopes(self) -> set[str]:
        return {f"{system}:{scope}" for system, scopes in self.tools.items() for scope in scopes}


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, the field and what is wrong."""


def parse_manifest(raw: object, *, source: str) -> CoworkerManifest:
    try:
        return CoworkerManifest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "(manifest)"
            problems.append(f"{field}: {err['msg']}")
        raise ManifestError(f"{source}: " + "; ".join(problems)) from None


def load_manifest(path: Path) -> CoworkerManifest:
    return parse_manifest(read_yaml(path, ManifestError), source=str(path))


def load_workforce(folder: Path) -> dict[str, CoworkerManifest]:
    """Every ``*.yaml`` manifest in ``folder``, keyed by coworker name; names must be unique."""
    found: dict[str, tuple[Path, CoworkerManifest]] = {}
    for path in sorted(folder.glob("*.yaml")):
        manifest = load_manifest(path)
        if manifest.name in found:
            raise ManifestError(f"{path}: name: coworker {manifest.name!r} is also declared in {found[manifest.name][0]}")
        found[manifest.name] = (path, manifest)
    return {name: manifest for name, (_, manifest) in found.items()}


def skill_problems(manifest: CoworkerManifest, requirements: Mapping[str, Mapping[str, Iterable[str]]], *, where: str) -> list[str]:
    """What is wrong with a manifest's skills: unknown skills, or scopes a held skill needs but is not granted."""
    problems = []
    for skill in manifest.skills:
        if skill not in requirements:
            problems.append(f"{where}: skills: {skill!r} is not in the skill catalog")
            continue
        for system, scopes in requirements[skill].items():
            missing = [s for s in scopes if not manifest.grants(system, s)]
            if missing:
                granted = ", ".join(manifest.tools.get(system, [])) or "nothing"
                problems.append(f"{where}: tools.{system}: skill {skill!r} needs {', '.join(missing)}; granted: {granted}")
    return problems


def check_workforce(workforce: Mapping[str, CoworkerManifest], requirements: Mapping[str, Mapping[str, Iterable[str]]], *, sources: Mapping[str, str] | None = None) -> None:
    """Cross-checks no single manifest can make: skills exist and are granted what they need,
    sub-agents exist, and delegation has no cycles. ``requirements`` is skill -> system -> scopes."""
    problems = []
    for name, manifest in workforce.items():
        where = (sources or {}).get(name, name)
        problems += skill_problems(manifest, requirements, where=where)
        problems += [f"{where}: sub_agents: no coworker named {sub!r}" for sub in manifest.sub_agents if sub not in workforce]
        if delegation_returns_to(workforce, name):
            problems.append(f"{where}: sub_agents: delegation from {name!r} comes back to it")
    if problems:
        raise ManifestError("; ".join(problems))


def path_to_holder(start: str, skill: str, working: Mapping[str, CoworkerManifest]) -> tuple[str, ...] | None:
    """The shortest chain of coworkers in ``working`` from ``start`` down its sub-agents to one that
    holds ``skill`` (``(start,)`` when it holds it itself), or None."""
    if start not in working:
        return None
    frontier: list[tuple[str, ...]] = [(start,)]
    seen = {start}
    while frontier:
        path = frontier.pop(0)
        manifest = working[path[-1]]
        if skill in manifest.skills:
            return path
        for sub in manifest.sub_agents:
            if sub in working and sub not in seen:
                seen.add(sub)
                frontier.append((*path, sub))
    return None


def delegation_returns_to(workforce: Mapping[str, CoworkerManifest], start: str) -> bool:
    seen: set[str] = set()
    todo = list(workforce[start].sub_agents)
    while todo:
        name = todo.pop()
        if name == start:
            return True
        if name in seen or name not in workforce:
            continue
        seen.add(name)
        todo.extend(workforce[name].sub_agents)
    return False
