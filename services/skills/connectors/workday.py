"""The Workday connector interface: what steps may ask of Workday. ``WorkdaySandbox``
(services/skills/sandbox/workday.py) speaks it over PostgreSQL; a real client would speak it over
Workday's REST APIs (Staffing, Absence Management). Errors are ``ApiError``s in Workday's shape:
400 with Workday's validation codes (A1011 insufficient balance, A1008 overlapping time off, A1041
not eligible, A178 process already initiated, A219 action not valid), 404 not_found, 403
insufficient_permissions, 401 invalid_token."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from services.skills.sandbox.workday import Balance, Event, TimeOffRequest, Worker


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
