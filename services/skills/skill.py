"""What a skill is: a named, bounded list of at most five steps, each one action on one system."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from contracts.events import SkillRequest

MAX_STEPS = 5


class StepFailed(Exception):
    """The system refused the action (not an outage): the skill stops and a human takes over."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class StepContext:
    conn: asyncpg.Connection  # the sandbox's connection, inside the step's transaction
    request: SkillRequest
    idempotency_key: str
    earlier: Mapping[str, Mapping[str, Any]]  # outputs of the steps before, by step name
    credential: str | None = None  # the coworker's own credential for the step's system; never logged


@dataclass(frozen=True)
class Step:
    name: str
    system: str
    operation: str  # the tool scope the step needs, e.g. users.reset_password
    run: Callable[[StepContext], Awaitable[dict[str, Any]]]
    describe: Callable[[SkillRequest], dict[str, Any]] = lambda request: {}  # the step's inputs, for the record


@dataclass(frozen=True)
class Skill:
    name: str
    steps: tuple[Step, ...]
    summarise: Callable[[Mapping[str, Mapping[str, Any]]], str]
    systems: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.steps) <= MAX_STEPS:
            raise ValueError(f"skill {self.name!r} has {len(self.steps)} steps; a skill has 1 to {MAX_STEPS}")
        object.__setattr__(self, "systems", frozenset(s.system for s in self.steps))
