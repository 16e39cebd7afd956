"""The Workday connector over Workday's REST APIs, for the simulator (deploy/sandbox/api/workday.py)
and a real tenant alike: the base URL is the tenant's host (``https://wd2-impl-services1.workday.com``
or the simulator's ``.../workday``) and the tenant name is a constructor argument.

It speaks Staffing v6 (``/workers``, ``/workers/{ID}``, and the Hire and Termination business
processes at ``/workers/{ID}/hires`` and ``/terminations``, a shape the public docs do not hold: see the
simulator's docstring), Absence Management v1 (``/balances``, ``/eligibleAbsenceTypes``,
``/timeOffDetails``, ``/requestTimeOff``) and Business Process v1 (``/events``, ``/events/{ID}``,
``/inProgressSteps``, and the ``cancel`` and ``rescind`` actions). The credential is an OAuth 2.0
access token sent as ``Authorization: Bearer``. Workday's errors (``{"error", "errors": [{"error",
"code", "field"}]}``) become ``WorkdayError``s with Workday's code; 429 and 5xx are transient.

Workday takes no idempotency key, so each write is made safe to repeat here:
- ``request_time_off`` marks every day it submits with ``[wf:<idempotency key>]`` in the entry's
  comment, and first reads the worker's time-off entries from the start date: an entry carrying the
  mark is the earlier request, returned instead of submitting a second one.
- ``cancel_time_off`` and ``rescind`` read the event first; one already Canceled (Rescinded) is
  returned as it is, with no second action.
- ``hire`` reads the worker first: one no longer a pre-hire, with a completed Hire event, is returned
  that event. ``terminate`` likewise returns the completed Termination on the same last day and
  reason of a worker already terminated; a different earlier termination is left for Workday to
  refuse (A178). A repeat after a rescind would act again: the runner's outcome record covers that.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.errors import ApiError
from runtime.vendor.http import VendorHttp
from services.skills.connectors.workday import Balance, Event, TimeOffRequest, Worker

SUBMIT = "d9e4223e446c11de98360015c5e6daf6"  # Workday's WID of the Submit business process action
COUNTRIES = {"United States of America": "US", "India": "IN"}
#: Request Time Off event statuses, for an event whose entries are not listed.
EVENT_STATUS = {"In Progress": "Submitted", "Successfully Completed": "Approved", "Denied": "Denied", "Canceled": "Canceled"}
WID = re.compile(r"^[0-9a-f]{32}$")
PAGE = 100
MAX_PAGES = 50


class WorkdayError(ApiError):
    """An error as Workday's REST API reports it, with its body kept for the field errors."""

    def __init__(self, status: int, code: str, summary: str, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(status, code, summary)
        self.body = body or {"error": summary, "errors": []}


def mark(idempotency_key: str) -> str:
    """What a time-off entry's comment carries to say which step submitted it."""
    return f"[wf:{idempotency_key}]"


def error_from(response: httpx.Response) -> WorkdayError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return WorkdayError(response.status_code, f"HTTP{response.status_code}", response.reason_phrase or "error")
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    first = errors[0] if errors else {}
    code = str(first.get("code") or f"HTTP{response.status_code}")
    summary = "; ".join(str(e.get("error")) for e in errors if e.get("error")) or str(body.get("error") or response.reason_phrase)
    field = first.get("field")
    return WorkdayError(response.status_code, code, (summary + (f" (field {field})" if field else ""))[:500], body=body)


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _desc(value: Any) -> str | None:
    return value.get("descriptor") if isinstance(value, dict) else None


def _dec(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def worker_from(body: dict[str, Any]) -> Worker:
    person, job = body.get("person") or {}, body.get("primaryJob") or {}
    legal = person.get("legalName") or {}
    first, _, last = (body.get("descriptor") or "").partition(" ")
    country = (job.get("location") or {}).get("country") or {}
    manager = body.get("manager") or {}
    pay = body.get("compensation") or {}
    return Worker(
        id=body["id"], employee_id=body.get("workerId"), email=person.get("email") or body.get("primaryWorkEmail") or "",
        first_name=legal.get("firstName") or first, last_name=legal.get("lastName") or last,
        country=COUNTRIES.get(_desc(country) or "", (_desc(country) or "")[:2].upper()),
        department=_desc(job.get("supervisoryOrganization")) or "", job_title=job.get("businessTitle") or "", location=_desc(job.get("location")) or "",
        hire_date=_d(body.get("hireDate")) or date.min, status=_desc(body.get("status")) or "Active",
        manager_id=manager.get("id"), manager_name=manager.get("descriptor"), manager_email=manager.get("email"),
        annual_salary=_dec(pay.get("annualSalary")), currency=_desc(pay.get("currency")) or "",
        termination_date=_d(body.get("terminationDate")), termination_reason=_desc(body.get("primaryTerminationReason")),
    )


class WorkdayHttp(VendorHttp):
    """The Workday connector over HTTP, as the coworker whose access token it holds."""

    system = "workday"

    def __init__(self, base_url: str, credential: str | None, client: httpx.AsyncClient, *, limiter: AsyncLimiter | None = None, ticket: str | None = None, tenant: str = "acme") -> None:
        super().__init__(base_url, credential, client, limiter=limiter, ticket=ticket)
        self.tenant = tenant

    def error_from(self, response: httpx.Response) -> ApiError:
        return error_from(response)

    def _path(self, service: str, path: str) -> str:
        return f"/ccx/api/{service}/{self.tenant}{path}"

    async def _get(self, service: str, path: str, params: Any = None) -> Any:
        return (await self.call("GET", self._path(service, path), params=params)).json()

    async def _post(self, service: str, path: str, body: dict[str, Any]) -> Any:
        return (await self.call("POST", self._path(service, path), json=body)).json()

    async def _all(self, service: str, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a ``limit``/``offset`` collection."""
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = await self._get(service, path, {**(params or {}), "limit": PAGE, "offset": len(items)})
            items += body.get("data") or []
            if not body.get("data") or len(items) >= int(body.get("total") or 0):
                break
        return items

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="")

    # --- workers ----------------------------------------------------------------------------

    async def get_worker(self, ref: str) -> Worker:
        """By Workday ID directly; an employee ID or email through the worker search."""
        ref = ref.strip()
        if WID.match(ref.lower()):
            return worker_from(await self._get("staffing/v6", f"/workers/{self._id(ref)}"))
        for worker in await self.find_workers(ref):
            if ref.lower() in (worker.id, (worker.employee_id or "").lower(), worker.email.lower()):
                return worker
        raise WorkdayError(404, "not_found", f"Resource not found: {ref} (Worker)")

    async def find_workers(self, search: str, *, include_terminated: bool = True) -> list[Worker]:
        found = await self._all("staffing/v6", "/workers", {"search": search.strip(), "includeTerminatedWorkers": str(include_terminated).lower()})
        return [worker_from(w) for w in found]

    # --- time off ---------------------------------------------------------------------------

    async def _types(self, worker_id: str) -> dict[str, dict[str, Any]]:
        return {t["descriptor"]: t for t in await self._all("absenceManagement/v1", f"/workers/{self._id(worker_id)}/eligibleAbsenceTypes")}

    async def _entries(self, worker_id: str, since: date | None = None) -> list[dict[str, Any]]:
        params = {"fromDate": since.isoformat()} if since else None
        return await self._all("absenceManagement/v1", f"/workers/{self._id(worker_id)}/timeOffDetails", params)

    async def get_balances(self, worker_id: str) -> list[Balance]:
        rows = await self._all("absenceManagement/v1", "/balances", {"worker": worker_id})
        types = await self._types(worker_id)
        scheduled: dict[str, Decimal] = {}
        for e in await self._entries(worker_id):
            if _desc(e.get("status")) in ("Submitted", "Approved"):
                plan = _desc(e.get("timeOffType")) or ""
                scheduled[plan] = scheduled.get(plan, Decimal(0)) + _dec(e.get("quantity"))
        out = []
        for b in rows:
            plan = _desc(b.get("absencePlan")) or ""
            balance, held = _dec(b.get("quantity")), scheduled.get(plan, Decimal(0))
            daily = _dec((types.get(plan) or {}).get("dailyDefaultQuantity") or 1)
            out.append(Balance(plan, _desc(b.get("unit")) or "", daily, balance, held, balance - held, _d(b.get("effectiveDate")) or date.today()))
        return out

    async def _awaiting(self, request_id: str) -> tuple[str | None, str | None]:
        steps = await self._get("businessProcess/v1", f"/events/{self._id(request_id)}/inProgressSteps")
        people = [p for s in steps.get("data") or [] for p in s.get("awaitingPersons") or []]
        return (people[0].get("id"), people[0].get("descriptor")) if people else (None, None)

    async def _group(self, worker_id: str, entries: list[dict[str, Any]]) -> list[TimeOffRequest]:
        """Time-off entries (one a day) as the requests they belong to."""
        by: dict[str, list[dict[str, Any]]] = {}
        for e in entries:
            by.setdefault((e.get("timeOffRequest") or {}).get("id") or e.get("id", ""), []).append(e)
        out = []
        for request_id, days in by.items():
            dates = sorted(date.fromisoformat(d["date"]) for d in days)
            status = _desc(days[0].get("status")) or ""
            # Entries without a link to their request (Workday's v1 view has none) cannot name who it awaits.
            awaiting = await self._awaiting(request_id) if status == "Submitted" and request_id else (None, None)
            out.append(TimeOffRequest(request_id, worker_id, _desc(days[0].get("timeOffType")) or "", _desc(days[0].get("unit")) or "",
                                      dates[0], dates[-1], sum((_dec(d.get("quantity")) for d in days), Decimal(0)), status, awaiting[0], awaiting[1]))
        return sorted(out, key=lambda r: r.start_date)

    async def list_time_off(self, worker_id: str) -> list[TimeOffRequest]:
        return await self._group(worker_id, await self._entries(worker_id))

    async def _time_off(self, worker_id: str, request_id: str) -> TimeOffRequest:
        for r in await self.list_time_off(worker_id):
            if r.id == request_id:
                return r
        raise WorkdayError(404, "not_found", f"Resource not found: {request_id} (Time Off Request)")

    async def request_time_off(self, worker_id: str, plan: str, start: date, end: date, *, idempotency_key: str, ticket_id: str, comment: str = "") -> TimeOffRequest:
        marker = mark(idempotency_key)
        earlier = [e for e in await self._entries(worker_id, start) if marker in (e.get("comment") or "")]
        if earlier:
            return (await self._group(worker_id, earlier))[0]
        kind = (await self._types(worker_id)).get(plan)
        # One entry a weekday; none at all is sent as the start day, for Workday to refuse in its words.
        days = [d for d in (start + timedelta(days=i) for i in range((end - start).days + 1)) if d.weekday() < 5] or [start]
        noted = f"{comment} {marker}".strip()
        body = {
            "days": [{"date": d.isoformat(), "dailyQuantity": (kind or {}).get("dailyDefaultQuantity", 0), "timeOffType": {"id": (kind or {}).get("id", plan)}, "comment": noted} for d in days],
            "businessProcessParameters": {"action": {"id": SUBMIT}, "comment": f"Workforce ticket {ticket_id} {marker}"},
        }
        made = await self._post("absenceManagement/v1", f"/workers/{self._id(worker_id)}/requestTimeOff", body)
        return await self._time_off(worker_id, made["businessProcessParameters"]["overallBusinessProcess"]["id"])

    async def cancel_time_off(self, request_id: str, *, idempotency_key: str) -> TimeOffRequest:
        event = await self._get("businessProcess/v1", f"/events/{self._id(request_id)}")
        worker_id = event["for"]["id"]
        if _desc(event.get("status")) != "Canceled":
            await self._post("businessProcess/v1", f"/events/{self._id(request_id)}/cancel", {"comment": mark(idempotency_key)})
        return await self._time_off(worker_id, request_id)

    # --- staffing ---------------------------------------------------------------------------

    def _event(self, body: dict[str, Any], employee_id: str | None) -> Event:
        return Event(body["id"], _desc(body.get("overallBusinessProcess")) or "", _desc(body.get("status")) or "", body["for"]["id"],
                     date.fromisoformat(body["effectiveDate"]), _desc(body.get("reason")), employee_id)

    async def _completed(self, worker: Worker, kind: str) -> Event | None:
        events = await self._all("businessProcess/v1", "/events", {"worker": worker.id, "businessProcess": kind})
        done = [e for e in events if _desc(e.get("status")) == "Successfully Completed"]
        return self._event(done[0], worker.employee_id) if done else None

    async def _answer(self, body: dict[str, Any]) -> Event:
        """A started event, as the event resource reports it."""
        event = await self._get("businessProcess/v1", f"/events/{self._id(body['id'])}")
        return self._event(event, body.get("workerId"))

    async def hire(self, worker_id: str, *, idempotency_key: str, ticket_id: str) -> Event:
        worker = await self.get_worker(worker_id)
        if worker.status != "Pre-Hire" and (done := await self._completed(worker, "Hire")) is not None:
            return done
        body = {"businessProcessParameters": {"action": {"id": SUBMIT}, "comment": f"Workforce ticket {ticket_id} {mark(idempotency_key)}"}}
        return await self._answer(await self._post("staffing/v6", f"/workers/{self._id(worker.id)}/hires", body))

    async def terminate(self, worker_id: str, *, last_day: date, reason: str, idempotency_key: str, ticket_id: str) -> Event:
        worker = await self.get_worker(worker_id)
        if worker.status == "Terminated" and (done := await self._completed(worker, "Termination")) is not None:
            if (done.effective_date, done.reason) == (last_day, reason):
                return done
        body = {"date": last_day.isoformat(), "primaryReason": {"descriptor": reason},
                "businessProcessParameters": {"action": {"id": SUBMIT}, "comment": f"Workforce ticket {ticket_id} {mark(idempotency_key)}"}}
        return await self._answer(await self._post("staffing/v6", f"/workers/{self._id(worker.id)}/terminations", body))

    async def rescind(self, event_id: str, *, idempotency_key: str) -> Event:
        event = await self._get("businessProcess/v1", f"/events/{self._id(event_id)}")
        if _desc(event.get("status")) != "Rescinded":
            event = await self._post("businessProcess/v1", f"/events/{self._id(event_id)}/rescind", {"comment": mark(idempotency_key)})
        return self._event(event, event.get("workerId"))
