"""Workday's REST APIs, simulated: the Staffing, Absence Management and Business Process services of
one tenant (``acme``), under ``/ccx/api/<service>/<version>/acme`` as a Workday host serves them.

Auth is ``Authorization: Bearer <token>`` (an OAuth 2.0 API client's access token). Errors are
Workday's ``{"error": ..., "errors": [{"error", "code", "field"}]}`` with its statuses: 400 validation
(Workday's codes: A1011, A1008, A1009, A1016, A1038, A1041, A178, A219), 401 invalid token, 403
insufficient permissions, 404 resource not found. Collections page with ``limit`` (default 20, at
most 100) and ``offset`` and answer ``{"total": n, "data": [...]}``. Workday documents no rate-limit
headers; the simulator's fault hooks send ``Retry-After`` on a 429.

Documented resources (Staffing v6, Absence Management v1, Business Process v1):
``GET staffing/v6/acme/workers[?search&includeTerminatedWorkers]``, ``GET .../workers/{ID}``;
``GET absenceManagement/v1/acme/balances?worker=``, ``GET .../workers/{ID}/eligibleAbsenceTypes``,
``GET .../workers/{ID}/timeOffDetails[?fromDate]``, ``POST .../workers/{ID}/requestTimeOff``;
``GET businessProcess/v1/acme/events?worker=&businessProcess=``, ``GET .../events/{ID}``,
``GET .../events/{ID}/inProgressSteps``.

Chosen where the public REST docs are silent (Workday runs Hire, Terminate, Cancel and Rescind
through its SOAP web services and its UI): ``POST staffing/v6/acme/workers/{ID}/hires`` and
``POST .../workers/{ID}/terminations`` take the body shape of the documented ``/workers/{ID}/jobChanges``
(``date``, a reason, ``businessProcessParameters``) and answer the started event; ``POST
businessProcess/v1/acme/events/{ID}/cancel`` and ``.../rescind`` are the business process actions on
the documented event resource. Beyond the documented keys, a worker carries what a tenant exposes
through its custom reports (hire date, status, manager, compensation, termination), a time-off
entry names its ``timeOffRequest`` (as Workday's common/v1 ``timeOffEntries`` do) and canceled and
denied entries are listed too, and a staffing event carries its ``reason``.

Workday takes no idempotency key, so neither does this API: each write passes the state logic a
fresh key and acts every time; a client makes its writes safe to repeat by reading first.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from deploy.sandbox.api import ticket_of
from deploy.sandbox import workday as wd
from deploy.sandbox.server import SandboxState
from deploy.sandbox.workday import WorkdayError, WorkdaySandbox
from services.skills.connectors.workday import Event, TimeOffRequest, Worker

TENANT = "acme"
STAFFING = f"/ccx/api/staffing/v6/{TENANT}"
ABSENCE = f"/ccx/api/absenceManagement/v1/{TENANT}"
PROCESS = f"/ccx/api/businessProcess/v1/{TENANT}"
#: Workday's WID of the Submit business process action.
SUBMIT = "d9e4223e446c11de98360015c5e6daf6"
COUNTRIES = {"US": "United States of America", "IN": "India"}
#: Our request statuses as the Request Time Off business process reports them.
PROCESS_STATUS = {"Submitted": "In Progress", "Approved": "Successfully Completed", "Denied": "Denied", "Canceled": "Canceled"}


def wid(*parts: str) -> str:
    """A stable 32-hex Workday ID for a thing the state names by text (a plan, a location)."""
    return hashlib.md5("/".join(parts).encode()).hexdigest()


def ref(descriptor: str | None, id_: str | None = None) -> dict[str, Any] | None:
    if descriptor is None:
        return None
    return {"id": id_ or wid(descriptor), "descriptor": descriptor}


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def phone(w: Worker) -> str:
    """A work phone the org's data does not hold: stable per worker, in the 555 range nobody owns."""
    return f"+{1 if w.country == 'US' else 91} 555 {int(w.id[:6], 16) % 10000:04d}"


def worker_json(w: Worker) -> dict[str, Any]:
    job = {"id": wid("job", w.id), "descriptor": w.job_title, "businessTitle": w.job_title, "jobProfile": ref(w.job_title),
           "location": {**(ref(w.location) or {}), "country": {"id": wid(w.country), "descriptor": COUNTRIES.get(w.country, w.country)}},
           "supervisoryOrganization": ref(w.department)}
    manager = {"id": w.manager_id, "descriptor": w.manager_name, "email": w.manager_email} if w.manager_id else None
    return {
        "id": w.id, "descriptor": w.name, "workerId": w.employee_id, "workerType": ref("Employee"),
        "person": {"id": wid("person", w.id), "email": w.email, "phone": phone(w), "legalName": {"firstName": w.first_name, "lastName": w.last_name}},
        "primaryJob": job,
        # What a tenant's custom report adds to the documented worker:
        "status": ref(w.status), "hireDate": w.hire_date.isoformat(), "manager": manager,
        "compensation": {"annualSalary": _num(w.annual_salary), "currency": ref(w.currency)},
        "terminationDate": w.termination_date.isoformat() if w.termination_date else None,
        "primaryTerminationReason": ref(w.termination_reason),
    }


def _days(r: TimeOffRequest) -> list[date]:
    span = (r.end_date - r.start_date).days + 1
    return [d for d in (r.start_date + timedelta(days=i) for i in range(span)) if d.weekday() < 5]


def entries_json(r: TimeOffRequest, worker_name: str, comment: str) -> list[dict[str, Any]]:
    days = _days(r)
    each = r.quantity / len(days) if days else r.quantity
    request = {"id": r.id, "descriptor": f"Time Off Request: {worker_name}"}
    return [
        {"id": wid(r.id, d.isoformat()), "descriptor": f"{r.plan}: {d.isoformat()}", "date": d.isoformat(), "quantity": _num(each), "unit": ref(r.unit),
         "timeOffType": ref(r.plan), "status": ref(r.status), "comment": comment, "worker": {"id": r.worker_id, "descriptor": worker_name}, "timeOffRequest": request}
        for d in days
    ]


def time_off_event_json(r: TimeOffRequest, worker_name: str) -> dict[str, Any]:
    return {"id": r.id, "descriptor": f"Request Time Off: {worker_name}", "overallBusinessProcess": ref("Request Time Off"),
            "status": ref(PROCESS_STATUS[r.status]), "for": {"id": r.worker_id, "descriptor": worker_name}, "effectiveDate": r.start_date.isoformat()}


def event_json(e: Event, worker_name: str) -> dict[str, Any]:
    return {"id": e.id, "descriptor": f"{e.kind}: {worker_name}", "overallBusinessProcess": ref(e.kind), "status": ref(e.status),
            "for": {"id": e.worker_id, "descriptor": worker_name}, "effectiveDate": e.effective_date.isoformat(),
            "reason": ref(e.reason), "workerId": e.employee_id}


def _invalid(message: str, field: str | None = None, code: str = "invalid_request") -> WorkdayError:
    return WorkdayError(400, code, message, field=field)


def page(request: web.Request, items: list[Any]) -> web.Response:
    try:
        limit, offset = int(request.query.get("limit", 20)), int(request.query.get("offset", 0))
    except ValueError:
        raise _invalid("limit and offset must be integers", "limit") from None
    if not 1 <= limit <= 100 or offset < 0:
        raise _invalid(f"limit must be 1 to 100 and offset at least 0 (limit={limit}, offset={offset})", "limit")
    return web.json_response({"total": len(items), "data": items[offset:offset + limit]})


async def body_of(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise _invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    return body


def _date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(f"{field} must be a date in yyyy-mm-dd format, not {value!r}.", field, "A1038") from None


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def create_app(state: SandboxState) -> web.Application:
    Handler = Callable[[WorkdaySandbox, web.Request], Awaitable[web.StreamResponse]]

    def route(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def run(request: web.Request) -> web.StreamResponse:
            async with state.session(WorkdaySandbox, _bearer(request)) as api:
                await api.caller()  # a bad token is a 401 before anything else
                return await handler(api, request)

        return run

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except WorkdayError as exc:
            return web.json_response(exc.body, status=exc.status)
        except web.HTTPNotFound:
            return web.json_response({"error": "Resource not found.", "errors": [{"error": f"No resource at {request.path}", "code": "not_found"}]}, status=404)
        except web.HTTPMethodNotAllowed:
            return web.json_response({"error": "Invalid resource or operation.", "errors": [{"error": f"{request.method} is not allowed on {request.path}"}]}, status=405)

    async def name_of(api: WorkdaySandbox, worker_id: str) -> str:
        """The worker's name for descriptors (the scope of the call itself is checked by the state logic)."""
        name = await api.conn.fetchval("SELECT first_name || ' ' || last_name FROM workday_workers WHERE id = $1", worker_id)
        if name is None:
            raise WorkdayError(404, "not_found", f"Resource not found: {worker_id} (Worker)")
        return str(name)

    # --- staffing ---------------------------------------------------------------------------

    async def list_workers(api: WorkdaySandbox, request: web.Request) -> web.Response:
        terminated = request.query.get("includeTerminatedWorkers", "false").lower() == "true"
        search = request.query.get("search", "")
        found = await api.find_workers(search, include_terminated=terminated) if search else []
        return page(request, [worker_json(w) for w in found])

    async def get_worker(api: WorkdaySandbox, request: web.Request) -> web.Response:
        return web.json_response(worker_json(await api.get_worker(request.match_info["id"])))

    async def hire(api: WorkdaySandbox, request: web.Request) -> web.Response:
        await body_of(request)
        event = await api.hire(request.match_info["id"], idempotency_key=uuid.uuid4().hex, ticket_id=ticket_of(request))
        return web.json_response(staffing_answer(event, await name_of(api, event.worker_id)), status=201)

    async def terminate(api: WorkdaySandbox, request: web.Request) -> web.Response:
        body = await body_of(request)
        reason = body.get("primaryReason") or {}
        if not isinstance(reason, dict) or not reason.get("descriptor"):
            raise _invalid("Primary Reason is required and must have a value.", "primaryReason")
        last_day = _date(body.get("date"), "terminationDate")
        event = await api.terminate(request.match_info["id"], last_day=last_day, reason=str(reason["descriptor"]), idempotency_key=uuid.uuid4().hex, ticket_id=ticket_of(request))
        return web.json_response(staffing_answer(event, await name_of(api, event.worker_id)), status=201)

    def staffing_answer(e: Event, name: str) -> dict[str, Any]:
        return {"id": e.id, "descriptor": f"{e.kind}: {name}", "date": e.effective_date.isoformat(), "primaryReason": ref(e.reason),
                "worker": {"id": e.worker_id, "descriptor": name}, "workerId": e.employee_id,
                "businessProcessParameters": {"overallBusinessProcess": ref(e.kind, e.id), "overallStatus": e.status, "action": {"id": SUBMIT, "descriptor": "Submit"}}}

    # --- absence management -----------------------------------------------------------------

    async def balances(api: WorkdaySandbox, request: web.Request) -> web.Response:
        worker_id = request.query.get("worker")
        if not worker_id:
            raise _invalid("The worker query parameter is required.", "worker")
        rows = await api.get_balances(worker_id)
        name = await name_of(api, worker_id)
        return page(request, [{"id": wid(worker_id, b.plan), "absencePlan": {**(ref(b.plan) or {}), "timeoffs": b.plan}, "unit": ref(b.unit), "quantity": _num(b.balance),
                               "effectiveDate": b.as_of.isoformat(), "category": ref("Time Off"), "worker": {"id": worker_id, "descriptor": name}} for b in rows])

    async def eligible_types(api: WorkdaySandbox, request: web.Request) -> web.Response:
        rows = await api.get_balances(request.match_info["id"])
        return page(request, [{"id": wid(b.plan), "descriptor": b.plan, "unitOfTime": ref(b.unit), "dailyDefaultQuantity": _num(b.daily_quantity),
                               "category": ref("Time Off"), "positionBased": False, "reasonRequired": False} for b in rows])

    async def time_off_details(api: WorkdaySandbox, request: web.Request) -> web.Response:
        worker_id = request.match_info["id"]
        since = _date(request.query["fromDate"], "fromDate") if "fromDate" in request.query else None
        requests = await api.list_time_off(worker_id)
        comments = await wd.time_off_comments(api.conn, await api.caller(), worker_id)
        name = await name_of(api, worker_id)
        entries = [e for r in requests for e in entries_json(r, name, comments.get(r.id, ""))]
        return page(request, [e for e in entries if since is None or e["date"] >= since.isoformat()])

    async def request_time_off(api: WorkdaySandbox, request: web.Request) -> web.Response:
        worker_id, body = request.match_info["id"], await body_of(request)
        days = body.get("days")
        if not isinstance(days, list) or not days or not all(isinstance(d, dict) for d in days):
            raise _invalid("Date is required and must have a value.", "days", "A1038")
        type_ids = {str((d.get("timeOffType") or {}).get("id", "")) for d in days}
        known = {wid(p): p for p in await api.conn.fetchval("SELECT array_agg(name) FROM workday_time_off_plans") or []}
        if len(type_ids) != 1 or (type_id := type_ids.pop()) not in known:
            raise _invalid("Type is required and must have a value.", "timeOffType", "A1009")
        plan = known[type_id]
        dates = sorted(_date(d.get("date"), "date") for d in days)
        comment = str(days[0].get("comment") or (body.get("businessProcessParameters") or {}).get("comment") or "")
        made = await api.request_time_off(worker_id, plan, dates[0], dates[-1], idempotency_key=uuid.uuid4().hex, ticket_id=ticket_of(request), comment=comment)
        name = await name_of(api, worker_id)
        entries = entries_json(made, name, comment)
        return web.json_response({
            "businessProcessParameters": {"overallBusinessProcess": {"id": made.id, "descriptor": f"Request Time Off: {name}"},
                                          "overallStatus": PROCESS_STATUS[made.status], "action": {"id": SUBMIT, "descriptor": "Submit"}},
            "days": [{"id": e["id"], "descriptor": e["descriptor"], "date": e["date"], "dailyQuantity": e["quantity"], "timeOffType": e["timeOffType"], "comment": comment} for e in entries],
        }, status=201)

    # --- business process events -----------------------------------------------------------

    async def kind_of(api: WorkdaySandbox, event_id: str) -> str:
        kind = await api.conn.fetchval(
            "SELECT 'staffing' FROM workday_staffing_events WHERE id = $1 UNION ALL SELECT 'time_off' FROM workday_time_off_requests WHERE id = $1", event_id)
        if kind is None:
            raise WorkdayError(404, "not_found", f"Resource not found: {event_id} (Business Process Event)")
        return str(kind)

    async def event_of(api: WorkdaySandbox, event_id: str) -> dict[str, Any]:
        caller = await api.caller()
        if await kind_of(api, event_id) == "staffing":
            event = await wd.get_event(api.conn, caller, event_id)
            return event_json(event, await name_of(api, event.worker_id))
        r = await wd.get_time_off(api.conn, caller, event_id)
        return time_off_event_json(r, await name_of(api, r.worker_id))

    async def list_events(api: WorkdaySandbox, request: web.Request) -> web.Response:
        worker_id = request.query.get("worker")
        if not worker_id:
            return page(request, [])  # Workday: without a worker, an empty answer
        wanted = set(request.query.getall("businessProcess", [])) or {"Hire", "Termination", "Request Time Off"}
        name, caller, found = await name_of(api, worker_id), await api.caller(), []
        staffing = tuple(k for k in ("Hire", "Termination") if k in wanted)
        if staffing:
            found += [event_json(e, name) for e in await wd.list_events(api.conn, caller, worker_id, staffing)]
        if "Request Time Off" in wanted:
            found += [time_off_event_json(r, name) for r in reversed(await api.list_time_off(worker_id))]
        return page(request, found)

    async def get_event(api: WorkdaySandbox, request: web.Request) -> web.Response:
        return web.json_response(await event_of(api, request.match_info["id"]))

    async def in_progress_steps(api: WorkdaySandbox, request: web.Request) -> web.Response:
        event_id = request.match_info["id"]
        if await kind_of(api, event_id) == "staffing":
            await wd.get_event(api.conn, await api.caller(), event_id)
            return page(request, [])  # a completed hire or termination awaits nobody
        r = await wd.get_time_off(api.conn, await api.caller(), event_id)
        if r.status != "Submitted":
            return page(request, [])
        awaiting = [{"id": r.awaiting_id, "descriptor": r.awaiting_name}] if r.awaiting_id else []
        return page(request, [{"id": wid(r.id, "approval"), "descriptor": "Approval by Manager", "status": ref("Awaiting Action"), "awaitingPersons": awaiting}])

    async def cancel(api: WorkdaySandbox, request: web.Request) -> web.Response:
        event_id = request.match_info["id"]
        await body_of(request)
        if await kind_of(api, event_id) != "time_off":
            raise _invalid("The business process action isn't valid: a completed staffing event is rescinded, not canceled.", "action", "A219")
        r = await api.cancel_time_off(event_id, idempotency_key=uuid.uuid4().hex)
        return web.json_response(time_off_event_json(r, await name_of(api, r.worker_id)))

    async def rescind(api: WorkdaySandbox, request: web.Request) -> web.Response:
        event_id = request.match_info["id"]
        await body_of(request)
        if await kind_of(api, event_id) != "staffing":
            raise _invalid("The business process action isn't valid: a time off request is canceled, not rescinded.", "action", "A219")
        e = await api.rescind(event_id, idempotency_key=uuid.uuid4().hex)
        return web.json_response(event_json(e, await name_of(api, e.worker_id)))

    app = web.Application(middlewares=[errors])
    r = app.router
    r.add_get(f"{STAFFING}/workers", route(list_workers))
    r.add_get(f"{STAFFING}/workers/{{id}}", route(get_worker))
    r.add_post(f"{STAFFING}/workers/{{id}}/hires", route(hire))
    r.add_post(f"{STAFFING}/workers/{{id}}/terminations", route(terminate))
    r.add_get(f"{ABSENCE}/balances", route(balances))
    r.add_get(f"{ABSENCE}/workers/{{id}}/eligibleAbsenceTypes", route(eligible_types))
    r.add_get(f"{ABSENCE}/workers/{{id}}/timeOffDetails", route(time_off_details))
    r.add_post(f"{ABSENCE}/workers/{{id}}/requestTimeOff", route(request_time_off))
    r.add_get(f"{PROCESS}/events", route(list_events))
    r.add_get(f"{PROCESS}/events/{{id}}", route(get_event))
    r.add_get(f"{PROCESS}/events/{{id}}/inProgressSteps", route(in_progress_steps))
    r.add_post(f"{PROCESS}/events/{{id}}/cancel", route(cancel))
    r.add_post(f"{PROCESS}/events/{{id}}/rescind", route(rescind))
    return app
