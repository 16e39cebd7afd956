"""A Workday-like HR system in PostgreSQL: workers, time off, and the Hire and Terminate business processes.

Mirrors the parts of Workday's REST APIs (Staffing, Absence Management) the HR skills touch:
workers with a status (Active, Terminated, Pre-Hire) and a manager; time-off plans and balances by
country (US in hours, India in days); ``POST /workers/{ID}/requestTimeOff``, which starts the
Request Time Off business process: the request is *Submitted* and awaits the worker's manager, who
approves or denies it in Workday (``decide_time_off``), or it is *Canceled*; the Hire business
process that makes a pre-hire a worker, the Terminate one, and the rescission of either. Errors
come in Workday's shape (``error`` and ``errors[]``): 400 validation errors carry Workday's codes
where Workday documents one (A1011 insufficient balance, A1008 overlapping time off, A1016 no
quantity, A1041 not eligible, A178 process already initiated, A219 action not valid), 404 resource
not found, 401 and 403 for a token that is not valid or lacks the scope. Every call carries the
calling coworker's own token; writes take an idempotency key and a repeated key returns the
first result. ``WorkdaySandbox`` is the Workday connector over it.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from runtime.vendor.errors import ApiError
from services.skills.connectors.workday import TERMINATION_REASONS, Balance, Event, TimeOffRequest, Worker, weekdays
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "workday"


class WorkdayError(ApiError):
    """An error as Workday's REST API reports it: ``{"error": ..., "errors": [{"error", "code", "field"}]}``."""

    def __init__(self, status: int, code: str, summary: str, *, field: str | None = None) -> None:
        super().__init__(status, code, summary)
        self.body: dict[str, Any] = {"error": summary, "errors": [{"error": summary, "code": code, **({"field": field} if field else {})}]}


def _invalid(code: str, message: str, *, field: str | None = None) -> WorkdayError:
    return WorkdayError(400, code, message, field=field)


def _not_found(what: str) -> WorkdayError:
    return WorkdayError(404, "not_found", f"Resource not found: {what}")


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise WorkdayError(403, "insufficient_permissions", f"User has insufficient permissions ({caller.coworker}'s token lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise WorkdayError(401, "invalid_token", "Invalid resource or operation: the bearer token is not valid")
    return caller


_WORKER = (
    "SELECT w.id, w.employee_id, w.email, w.first_name, w.last_name, w.country, w.department, w.job_title, w.location,"
    " w.hire_date, w.status, w.manager_id, m.first_name || ' ' || m.last_name AS manager_name, m.email AS manager_email,"
    " w.annual_salary, w.currency, w.termination_date, w.termination_reason"
    " FROM workday_workers w LEFT JOIN workday_workers m ON m.id = w.manager_id"
)


async def _worker(conn: asyncpg.Connection, worker_id: str) -> Worker:
    row = await conn.fetchrow(f"{_WORKER} WHERE w.id = $1", worker_id)
    if row is None:
        raise _not_found(f"{worker_id} (Worker)")
    return Worker(**dict(row))


async def get_worker(conn: asyncpg.Connection, caller: Caller, ref: str) -> Worker:
    """A worker by Workday ID, employee ID or email (``GET /workers/{ID}``)."""
    _require(caller, "workers.read")
    row = await conn.fetchrow(f"{_WORKER} WHERE w.id = $1 OR w.employee_id = $1 OR w.email = lower($1)", ref.strip())
    if row is None:
        raise _not_found(f"{ref} (Worker)")
    return Worker(**dict(row))


async def find_workers(conn: asyncpg.Connection, caller: Caller, search: str, *, include_terminated: bool = True) -> list[Worker]:
    """Workers whose ID, employee ID, email, login or name matches ``search`` (``GET /workers?search=``);
    pre-hires included, terminated workers when asked for, as ``includeTerminatedWorkers`` does."""
    _require(caller, "workers.read")
    text = search.strip().lower()
    rows = await conn.fetch(
        f"{_WORKER} WHERE (w.id = $1 OR w.employee_id = $1 OR w.email = $1 OR split_part(w.email, '@', 1) = $1"
        " OR lower(w.first_name || ' ' || w.last_name) = $1) AND ($2 OR w.status <> 'Terminated') ORDER BY w.email LIMIT 20",
        text,
        include_terminated,
    )
    return [Worker(**dict(r)) for r in rows]


# --- time off ------------------------------------------------------------------------------------


async def get_balances(conn: asyncpg.Connection, caller: Caller, worker_id: str) -> list[Balance]:
    """The worker's balance in each of their time-off plans (``GET /balances?worker=``)."""
    _require(caller, "time_off.read")
    await _worker(conn, worker_id)
    rows = await conn.fetch(
        "SELECT b.plan, p.unit, p.daily_quantity, b.balance, b.as_of, coalesce(sum(r.quantity) FILTER (WHERE r.status IN ('Submitted', 'Approved')), 0) AS scheduled"
        " FROM workday_time_off_balances b JOIN workday_time_off_plans p ON p.name = b.plan"
        " LEFT JOIN workday_time_off_requests r ON r.worker_id = b.worker_id AND r.plan = b.plan"
        " WHERE b.worker_id = $1 GROUP BY b.plan, p.unit, p.daily_quantity, b.balance, b.as_of, p.position ORDER BY p.position",
        worker_id,
    )
    return [Balance(r["plan"], r["unit"], r["daily_quantity"], r["balance"], r["scheduled"], r["balance"] - r["scheduled"], r["as_of"]) for r in rows]


_REQUEST = (
    "SELECT r.id, r.worker_id, r.plan, p.unit, r.start_date, r.end_date, r.quantity, r.status, r.awaiting AS awaiting_id,"
    " a.first_name || ' ' || a.last_name AS awaiting_name"
    " FROM workday_time_off_requests r JOIN workday_time_off_plans p ON p.name = r.plan LEFT JOIN workday_workers a ON a.id = r.awaiting"
)


async def _request(conn: asyncpg.Connection, where: str, value: str) -> TimeOffRequest | None:
    row = await conn.fetchrow(f"{_REQUEST} WHERE r.{where} = $1", value)
    return TimeOffRequest(**dict(row)) if row else None


async def list_time_off(conn: asyncpg.Connection, caller: Caller, worker_id: str) -> list[TimeOffRequest]:
    _require(caller, "time_off.read")
    await _worker(conn, worker_id)
    rows = await conn.fetch(f"{_REQUEST} WHERE r.worker_id = $1 ORDER BY r.start_date", worker_id)
    return [TimeOffRequest(**dict(r)) for r in rows]


async def request_time_off(conn: asyncpg.Connection, caller: Caller, worker_id: str, plan: str, start: date, end: date, *, idempotency_key: str, ticket_id: str, comment: str = "") -> TimeOffRequest:
    """Start the Request Time Off business process for the worker (``POST /workers/{ID}/requestTimeOff``
    with the submit action): the request is Submitted and awaits the worker's manager."""
    _require(caller, "time_off.request")
    if (earlier := await _request(conn, "idempotency_key", idempotency_key)) is not None:
        return earlier
    worker = await conn.fetchrow("SELECT status, country, manager_id FROM workday_workers WHERE id = $1 FOR UPDATE", worker_id)
    if worker is None:
        raise _not_found(f"{worker_id} (Worker)")
    spec = await conn.fetchrow("SELECT country, unit, daily_quantity FROM workday_time_off_plans WHERE name = $1", plan)
    if spec is None:
        raise _invalid("A1009", "Type is required and must have a value.", field="timeOffType")
    if worker["status"] != "Active" or spec["country"] != worker["country"]:
        raise _invalid("A1041", f"The worker isn't eligible for the time off type {plan} (worker status {worker['status']}, country {worker['country']}).", field="timeOffType")
    days = weekdays(start, end)
    if days == 0:
        raise _invalid("A1016", "Enter an hourly or daily quantity that is greater than zero.", field="days")
    quantity = spec["daily_quantity"] * days
    overlapping = await conn.fetchval(
        "SELECT id FROM workday_time_off_requests WHERE worker_id = $1 AND status IN ('Submitted', 'Approved') AND start_date <= $3 AND end_date >= $2 LIMIT 1",
        worker_id,
        start,
        end,
    )
    if overlapping is not None:
        raise _invalid("A1008", "Some of the start and end times you're trying to submit overlap with start and end times for an existing time off request on the same date(s).", field="days")
    available = await conn.fetchval(
        "SELECT b.balance - coalesce((SELECT sum(quantity) FROM workday_time_off_requests WHERE worker_id = $1 AND plan = $2 AND status IN ('Submitted', 'Approved')), 0)"
        " FROM workday_time_off_balances b WHERE b.worker_id = $1 AND b.plan = $2",
        worker_id,
        plan,
    )
    if available is None or available < quantity:
        raise _invalid("A1011", f"You don't have a sufficient balance or aren't eligible to satisfy the request for {plan} as of {start.isoformat()}.", field="days")
    request_id = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO workday_time_off_requests (id, worker_id, plan, start_date, end_date, quantity, status, awaiting, comment, idempotency_key, requested_by, ticket_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'Submitted', $7, $8, $9, $10, $11)",
        request_id,
        worker_id,
        plan,
        start,
        end,
        quantity,
        worker["manager_id"],
        comment,
        idempotency_key,
        caller.coworker,
        ticket_id,
    )
    created = await _request(conn, "id", request_id)
    assert created is not None
    return created


async def cancel_time_off(conn: asyncpg.Connection, caller: Caller, request_id: str, *, idempotency_key: str) -> TimeOffRequest:
    """Cancel a submitted or approved time-off request (the Cancel action on its business process).
    Canceling a canceled request changes nothing; a denied one cannot be canceled."""
    _require(caller, "time_off.request")
    row = await conn.fetchrow("SELECT status FROM workday_time_off_requests WHERE id = $1 FOR UPDATE", request_id)
    if row is None:
        raise _not_found(f"{request_id} (Time Off Request)")
    if row["status"] == "Denied":
        raise _invalid("A219", "The business process action isn't valid: the request was denied.", field="action")
    if row["status"] != "Canceled":
        await conn.execute(
            "UPDATE workday_time_off_requests SET status = 'Canceled', awaiting = NULL, cancel_key = $2, updated_at = now() WHERE id = $1",
            request_id,
            idempotency_key,
        )
    canceled = await _request(conn, "id", request_id)
    assert canceled is not None
    return canceled


async def decide_time_off(conn: asyncpg.Connection, request_id: str, *, approve: bool, by: str) -> TimeOffRequest:
    """The manager approves or denies a request in Workday (a person in Workday's inbox, not an API
    caller): only the worker the business process awaits may decide it."""
    row = await conn.fetchrow("SELECT status, awaiting FROM workday_time_off_requests WHERE id = $1 FOR UPDATE", request_id)
    if row is None:
        raise _not_found(f"{request_id} (Time Off Request)")
    if row["status"] != "Submitted" or row["awaiting"] != by:
        raise _invalid("A219", f"The business process action isn't valid: the request is {row['status']} and awaits {row['awaiting']}.", field="action")
    await conn.execute(
        "UPDATE workday_time_off_requests SET status = $2, awaiting = NULL, decided_by = $3, updated_at = now() WHERE id = $1",
        request_id,
        "Approved" if approve else "Denied",
        by,
    )
    decided = await _request(conn, "id", request_id)
    assert decided is not None
    return decided


# --- staffing ------------------------------------------------------------------------------------


async def _event(conn: asyncpg.Connection, where: str, value: str) -> Event | None:
    row = await conn.fetchrow(
        f"SELECT e.id, e.kind, e.status, e.worker_id, e.effective_date, e.reason, w.employee_id FROM workday_staffing_events e"
        f" JOIN workday_workers w ON w.id = e.worker_id WHERE e.{where} = $1",
        value,
    )
    return Event(**dict(row)) if row else None


async def _record(conn: asyncpg.Connection, caller: Caller, worker_id: str, kind: str, effective: date, reason: str | None, idempotency_key: str, ticket_id: str) -> Event:
    event_id = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO workday_staffing_events (id, worker_id, kind, status, effective_date, reason, idempotency_key, initiated_by, ticket_id)"
        " VALUES ($1, $2, $3, 'Successfully Completed', $4, $5, $6, $7, $8)",
        event_id,
        worker_id,
        kind,
        effective,
        reason,
        idempotency_key,
        caller.coworker,
        ticket_id,
    )
    event = await _event(conn, "id", event_id)
    assert event is not None
    return event


async def hire(conn: asyncpg.Connection, caller: Caller, worker_id: str, *, idempotency_key: str, ticket_id: str) -> Event:
    """Complete the Hire business process for a pre-hire on their proposed start date: they become an
    Active worker with an employee ID, enrolled in their country's time-off plans."""
    _require(caller, "workers.create")
    if (earlier := await _event(conn, "idempotency_key", idempotency_key)) is not None:
        return earlier
    worker = await conn.fetchrow("SELECT status, hire_date, country FROM workday_workers WHERE id = $1 FOR UPDATE", worker_id)
    if worker is None:
        raise _not_found(f"{worker_id} (Pre-Hire)")
    if worker["status"] != "Pre-Hire":
        raise _invalid("A178", f"The business process has already been initiated: the worker is {worker['status']}, not a pre-hire.", field="preHire")
    await conn.execute(
        "UPDATE workday_workers SET status = 'Active', employee_id = nextval('workday_employee_ids')::text, updated_at = now() WHERE id = $1",
        worker_id,
    )
    await conn.execute(
        "INSERT INTO workday_time_off_balances (worker_id, plan, balance, as_of) SELECT $1, name, 0, $2 FROM workday_time_off_plans WHERE country = $3 ON CONFLICT DO NOTHING",
        worker_id,
        worker["hire_date"],
        worker["country"],
    )
    return await _record(conn, caller, worker_id, "Hire", worker["hire_date"], None, idempotency_key, ticket_id)


async def terminate(conn: asyncpg.Connection, caller: Caller, worker_id: str, *, last_day: date, reason: str, idempotency_key: str, ticket_id: str) -> Event:
    """Complete the Terminate Employee business process: the worker's last day of work and primary reason."""
    _require(caller, "workers.terminate")
    if (earlier := await _event(conn, "idempotency_key", idempotency_key)) is not None:
        return earlier
    worker = await conn.fetchrow("SELECT status, hire_date FROM workday_workers WHERE id = $1 FOR UPDATE", worker_id)
    if worker is None:
        raise _not_found(f"{worker_id} (Worker)")
    if worker["status"] == "Terminated":
        raise _invalid("A178", "The business process has already been initiated: the worker is already terminated.", field="worker")
    if worker["status"] != "Active":
        raise _invalid("invalid_request", f"Only an active worker can be terminated; this worker is a {worker['status']} (rescind the offer instead).", field="worker")
    if reason not in TERMINATION_REASONS:
        raise _invalid("invalid_request", f"Primary Reason {reason!r} is not valid; valid reasons: {', '.join(TERMINATION_REASONS)}.", field="primaryReason")
    if last_day < worker["hire_date"]:
        raise _invalid("invalid_request", f"The termination date {last_day.isoformat()} must be on or after the hire date {worker['hire_date'].isoformat()}.", field="terminationDate")
    await conn.execute(
        "UPDATE workday_workers SET status = 'Terminated', termination_date = $2, termination_reason = $3, updated_at = now() WHERE id = $1",
        worker_id,
        last_day,
        reason,
    )
    return await _record(conn, caller, worker_id, "Termination", last_day, reason, idempotency_key, ticket_id)


async def rescind(conn: asyncpg.Connection, caller: Caller, event_id: str, *, idempotency_key: str) -> Event:
    """Rescind a completed Hire (the worker is a pre-hire again) or Termination (the worker is active
    again), as Workday's Rescind action on a business process does. Rescinding twice changes nothing."""
    event = await _event(conn, "id", event_id)
    if event is None:
        raise _not_found(f"{event_id} (Business Process Event)")
    _require(caller, "workers.create" if event.kind == "Hire" else "workers.terminate")
    if event.status == "Rescinded":
        return event
    later = await conn.fetchval(
        "SELECT kind FROM workday_staffing_events WHERE worker_id = $1 AND status = 'Successfully Completed' AND seq > (SELECT seq FROM workday_staffing_events WHERE id = $2) LIMIT 1",
        event.worker_id,
        event_id,
    )
    if later is not None:
        raise _invalid("A219", f"The business process action isn't valid: a later {later} depends on this {event.kind}.", field="action")
    if event.kind == "Hire":
        await conn.execute("UPDATE workday_workers SET status = 'Pre-Hire', employee_id = NULL, updated_at = now() WHERE id = $1", event.worker_id)
        await conn.execute(
            "DELETE FROM workday_time_off_balances b WHERE worker_id = $1 AND NOT EXISTS (SELECT 1 FROM workday_time_off_requests r WHERE r.worker_id = b.worker_id)",
            event.worker_id,
        )
    else:
        await conn.execute("UPDATE workday_workers SET status = 'Active', termination_date = NULL, termination_reason = NULL, updated_at = now() WHERE id = $1", event.worker_id)
    await conn.execute("UPDATE workday_staffing_events SET status = 'Rescinded', rescind_key = $2, rescinded_at = now() WHERE id = $1", event_id, idempotency_key)
    rescinded = await _event(conn, "id", event_id)
    assert rescinded is not None
    return rescinded


# --- business process events (reads for a client that reconciles) ---------------------------------


async def get_time_off(conn: asyncpg.Connection, caller: Caller, request_id: str) -> TimeOffRequest:
    """One Request Time Off event by its ID (``GET /businessProcess/v1/{tenant}/events/{ID}``)."""
    _require(caller, "time_off.read")
    found = await _request(conn, "id", request_id)
    if found is None:
        raise _not_found(f"{request_id} (Business Process Event)")
    return found


async def time_off_comments(conn: asyncpg.Connection, caller: Caller, worker_id: str) -> dict[str, str]:
    """Each of the worker's time-off requests' comment, by request ID (what a client marks its requests with)."""
    _require(caller, "time_off.read")
    await _worker(conn, worker_id)
    return {r["id"]: r["comment"] for r in await conn.fetch("SELECT id, comment FROM workday_time_off_requests WHERE worker_id = $1", worker_id)}


async def get_event(conn: asyncpg.Connection, caller: Caller, event_id: str) -> Event:
    """One staffing business process event (Hire or Termination) by its ID."""
    _require(caller, "workers.read")
    found = await _event(conn, "id", event_id)
    if found is None:
        raise _not_found(f"{event_id} (Business Process Event)")
    return found


async def list_events(conn: asyncpg.Connection, caller: Caller, worker_id: str, kinds: tuple[str, ...] = ("Hire", "Termination")) -> list[Event]:
    """The worker's staffing events of ``kinds``, most recent first (``GET /events?worker=``)."""
    _require(caller, "workers.read")
    rows = await conn.fetch("SELECT id FROM workday_staffing_events WHERE worker_id = $1 AND kind = ANY($2::text[]) ORDER BY seq DESC", worker_id, list(kinds))
    return [e for r in rows if (e := await _event(conn, "id", r["id"])) is not None]


class WorkdaySandbox(SandboxConnector):
    """The Workday connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def get_worker(self, ref: str) -> Worker:
        return await get_worker(self.conn, await self.caller(), ref)

    async def find_workers(self, search: str, *, include_terminated: bool = True) -> list[Worker]:
        return await find_workers(self.conn, await self.caller(), search, include_terminated=include_terminated)

    async def get_balances(self, worker_id: str) -> list[Balance]:
        return await get_balances(self.conn, await self.caller(), worker_id)

    async def list_time_off(self, worker_id: str) -> list[TimeOffRequest]:
        return await list_time_off(self.conn, await self.caller(), worker_id)

    async def request_time_off(self, worker_id: str, plan: str, start: date, end: date, *, idempotency_key: str, ticket_id: str, comment: str = "") -> TimeOffRequest:
        return await request_time_off(self.conn, await self.caller(), worker_id, plan, start, end, idempotency_key=idempotency_key, ticket_id=ticket_id, comment=comment)

    async def cancel_time_off(self, request_id: str, *, idempotency_key: str) -> TimeOffRequest:
        return await cancel_time_off(self.conn, await self.caller(), request_id, idempotency_key=idempotency_key)

    async def hire(self, worker_id: str, *, idempotency_key: str, ticket_id: str) -> Event:
        return await hire(self.conn, await self.caller(), worker_id, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def terminate(self, worker_id: str, *, last_day: date, reason: str, idempotency_key: str, ticket_id: str) -> Event:
        return await terminate(self.conn, await self.caller(), worker_id, last_day=last_day, reason=reason, idempotency_key=idempotency_key, ticket_id=ticket_id)

    async def rescind(self, event_id: str, *, idempotency_key: str) -> Event:
        return await rescind(self.conn, await self.caller(), event_id, idempotency_key=idempotency_key)
