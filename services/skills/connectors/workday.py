"""The Workday connector interface: what steps may ask of Workday. ``WorkdaySandbox``
(deploy/sandbox/workday.py) speaks it over PostgreSQL; a real client would speak it over
Workday's REST APIs (Staffing, Absence Management). Errors are ``ApiError``s in Workday's shape:
400 with Workday's validation codes (A1011 insufficient balance, A1008 overlapping time off, A1041
not eligible, A178 process already initiated, A219 action not valid), 404 not_found, 403
insufficient_permissions, 401 invalid_token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol


#: Termination reasons as this tenant configures them (Workday's "Primary Reason", by category).
TERMINATION_REASONS = (
    "Voluntary > Resignation",
    "Voluntary > Retirement",
    "Voluntary > Relocation",
    "Involuntary > Position Elimination",
    "Involuntary > Performance",
    "Involuntary > Misconduct",
    "Involuntary > End of Contract",
)


def weekdays(start: date, end: date) -> int:
    """The days a time-off request takes: Monday-to-Friday days from ``start`` to ``end``, both
    included (0 when end is before start)."""
    days = (end - start).days + 1
    if days <= 0:
        return 0
    full, rest = divmod(days, 7)
    return full * 5 + sum(1 for d in range(rest) if (start.weekday() + d) % 7 < 5)


@dataclass(frozen=True)
class Worker:
    id: str
    employee_id: str | None
    email: str
    first_name: str
    last_name: str
    country: str
    department: str
    job_title: str
    location: str
    hire_date: date
    status: str  # Active | Terminated | Pre-Hire
    manager_id: str | None
    manager_name: str | None
    manager_email: str | None
    annual_salary: Decimal
    currency: str
    termination_date: date | None
    termination_reason: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Balance:
    plan: str
    unit: str  # Hours | Days
    daily_quantity: Decimal  # what one day off takes (Workday's dailyDefaultQuantity)
    balance: Decimal  # accrued, not yet taken
    scheduled: Decimal  # in submitted or approved requests
    available: Decimal
    as_of: date


@dataclass(frozen=True)
class TimeOffRequest:
    id: str
    worker_id: str
    plan: str
    unit: str
    start_date: date
    end_date: date
    quantity: Decimal
    status: str  # Submitted | Approved | Denied | Canceled
    awaiting_id: str | None  # whose action the business process waits for
    awaiting_name: str | None


@dataclass(frozen=True)
class Event:
    """A completed (or rescinded) staffing business process: Hire or Termination."""

    id: str
    kind: str
    status: str  # Successfully Completed | Rescinded
    worker_id: str
    effective_date: date
    reason: str | None
    employee_id: str | None


class Workday(Protocol):
    async def get_worker(self, ref: str) -> Worker: ...

    async def find_workers(self, search: str, *, include_terminated: bool = True) -> list[Worker]: ...

    async def get_balances(self, worker_id: str) -> list[Balance]: ...

    async def list_time_off(self, worker_id: str) -> list[TimeOffRequest]: ...

    async def request_time_off(self, worker_id: str, plan: str, start: date, end: date, *, idempotency_key: str, ticket_id: str, comment: str = "") -> TimeOffRequest: ...

    async def cancel_time_off(self, request_id: str, *, idempotency_key: str) -> TimeOffRequest: ...

    async def hire(self, worker_id: str, *, idempotency_key: str, ticket_id: str) -> Event: ...

    async def terminate(self, worker_id: str, *, last_day: date, reason: str, idempotency_key: str, ticket_id: str) -> Event: ...

    async def rescind(self, event_id: str, *, idempotency_key: str) -> Event: ...
