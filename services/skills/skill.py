"""What a skill is: a named, bounded list of at most five steps, each one action on one system.

A step says which tool scope it needs, whether it is *destructive* (it changes something a person
would want to approve: a supervised coworker asks its manager first; an autonomous one does not),
how long one attempt may take and how often a transient failure is retried, and how to undo it
(its *compensation*) if a later step fails. A skill also has a time budget: past it, it stops
before its next step and a person takes over.

A step's outputs are its record (``skill.step``) and what the steps after it read. Personal
identifiers (an employee id, a PAN, a national id, a bank account) are not put in a record: a value
a later step needs is kept under a key starting with ``_`` (``_employee_id``), which later steps and
the step's undo read, and which no record, summary or resolution shows (``shown``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.events import SkillRequest
from services.skills.identity import Person

MAX_STEPS = 5

Outputs = Mapping[str, Mapping[str, Any]]

#: Output keys of this form are for later steps only (see the module's docstring).
INTERNAL = "_"
#: Names under which a value is a personal identifier: never shown in a record, whatever a step returns.
PERSONAL_IDS = frozenset({"employee_id", "employee_number", "pan", "pan_corrected", "uan", "ssn", "aadhaar", "national_id", "bank_account", "iban", "card_number"})


def shown(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a record shows of a step's outputs: all but its internal values and personal identifiers."""
    return {k: v for k, v in outputs.items() if not k.startswith(INTERNAL) and k not in PERSONAL_IDS}


class StepFailed(Exception):
    """The system refused the action (not an outage): the skill stops and a human takes over."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


class NeedInput(Exception):
    """The step cannot go on without something only the requester knows: ask them, and resume when
    they answer (their answer becomes the request's input ``field``)."""

    def __init__(self, field: str, question: str) -> None:
        super().__init__(f"{field}: {question}")
        self.field, self.question = field, question


@dataclass(frozen=True)
class StepContext:
    request: SkillRequest
    idempotency_key: str
    earlier: Outputs  # outputs of the steps before, by step name
    credential: str | None = None  # the coworker's own credential for the step's system; never logged
    system: Any = None  # the connector for the step's system (its HTTP client), opened with ``credential``
    requester: Person | None = None  # who asked, as the directory resolved them before the first step

    @property
    def inputs(self) -> Mapping[str, Any]:
        return self.request.inputs


@dataclass(frozen=True)
class Step:
    name: str
    system: str
    operation: str  # the tool scope the step needs, e.g. users.reset_password
    run: Callable[[StepContext], Awaitable[dict[str, Any]]]
    describe: Callable[[SkillRequest], dict[str, Any]] = lambda request: {}  # the step's inputs, for the record
    #: Changes something a person would want to approve; a supervised coworker asks first.
    destructive: bool = False
    #: Undoes the step's effect (given the context and the step's own outputs) when a later step fails.
    compensate: Callable[[StepContext, Mapping[str, Any]], Awaitable[dict[str, Any]]] | None = None
    #: One attempt's time limit, and how many attempts a transient failure (outage, timeout, 429/5xx) gets.
    timeout_s: float = 10.0
    attempts: int = 3

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_s <= 0:
            raise ValueError(f"step {self.name!r}: attempts must be >= 1 and timeout_s > 0")


@dataclass(frozen=True)
class Skill:
    name: str
    steps: tuple[Step, ...]
    summarise: Callable[[Outputs], str]
    #: Wall-clock budget from the request's first step; past it the skill stops before its next step.
    time_budget_s: float = 120.0
    #: Ask memory what it recalls of the ticket before the first step (steps read ``request.recall``).
    recall: bool = False
    systems: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.steps) <= MAX_STEPS:
            raise ValueError(f"skill {self.name!r} has {len(self.steps)} steps; a skill has 1 to {MAX_STEPS}")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"skill {self.name!r} has two steps with the same name")
        object.__setattr__(self, "systems", frozenset(s.system for s in self.steps))

    def step_number(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps, start=1) if s.name == name)
