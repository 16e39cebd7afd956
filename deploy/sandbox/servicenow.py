"""A stand-in for a customer's ServiceNow instance: the Table API for ``incident`` and the journal
(``sys_journal_field``), over HTTP, with ServiceNow's Basic auth, status codes and error bodies.

It is a separate server, reached the way a real instance is (``/api/now/table/...``), so the client
that talks to it is the client that will talk to the customer's instance. What it speaks:

- ``GET  /api/now/table/incident`` — ``sysparm_query`` (``field=value``, ``!=``, ``LIKE``,
  ``STARTSWITH``, ``^`` as AND, ``ORDERBY``/``ORDERBYDESC``; unknown fields are ignored, as ServiceNow
  ignores invalid query parts), ``sysparm_limit`` (default 10000), ``sysparm_offset``,
  ``sysparm_fields``, ``sysparm_display_value`` (``false``/``true``/``all``),
  ``sysparm_exclude_reference_link``; ``X-Total-Count`` and a ``Link`` header (first/prev/next/last).
- ``GET  /api/now/table/incident/{sys_id}``, ``POST`` (201 and a ``Location``), ``PATCH``/``PUT``.
- ``GET  /api/now/table/sys_journal_field?sysparm_query=element_id=<sys_id>^element=work_notes``.
- The versioned paths (``/api/now/v1/table/...``, ``/api/now/v2/table/...``) answer the same.

As on a real instance, ``comments`` and ``work_notes`` are journal fields: writing one appends an
entry to ``sys_journal_field``; reading the incident returns ``""`` for them with actual values
(what the documentation's examples show) and the journal text, newest first, with
``sysparm_display_value=true``. Priority is computed from impact and urgency. Resolving or closing
an incident without ``close_code`` and ``close_notes`` is refused with the 403 "Data Policy
Exception" an instance with the default data policy returns.

Stricter than a default instance, on purpose: a choice value outside the documented choices
(``state``, ``urgency``, ``impact``, ``close_code``) is a 400 in ServiceNow's error shape naming
the field, the value and the valid choices, where a real instance would store the odd value.

Like an instance with an outbound business rule on ``incident`` (after insert and update, calling
``sn_ws.RESTMessageV2`` asynchronously), every insert and update is sent to the webhooks registered
for ``servicenow`` (``deploy/sandbox/webhooks.py``): ``BUSINESS_RULE_FIELDS`` as JSON, signed.

State is kept in PostgreSQL, in the simulator's schema (``servicenow_incidents``,
``servicenow_journal``: migration 0007), one transaction per request, so an instance restarted
mid-run still has its incidents. ``IncidentStore`` is the one class that touches it.

Two ways to run it:

- In the composite simulator (``python -m deploy.sandbox serve``), under ``/servicenow``
  (``deploy/sandbox/api/servicenow.py``): the password is an API token the administration API
  issued for system ``servicenow``, and the shared ``/_sandbox/faults`` apply.
- Standalone, one instance with one API user:
  ``DATABASE_URL=postgresql://... python -m deploy.sandbox.servicenow --port 8091 --user U --password P``
  (its schema is ``SANDBOX_SCHEMA``, default ``sandbox``: the composite's, so both see the same
  incidents). Its test hooks, unauthenticated, under ``/_sandbox`` (never under ``/api``):
  ``POST /_sandbox/faults`` ``{"status": 503, "times": 2}`` (optional ``"method"``, ``"path"``,
  ``"retry_after"`` seconds for a 429) makes the next matching API requests fail before auth;
  ``POST /_sandbox/reset`` empties the instance.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from deploy.sandbox import server, webhooks
from deploy.sandbox.server import SandboxState

Record = dict[str, Any]

#: Every field of an incident, as the Table API returns it (the documentation's incident examples).
INCIDENT_FIELDS = (
    "upon_approval", "location", "expected_start", "reopen_count", "close_notes",
    "additional_assignee_list", "impact", "urgency", "correlation_id", "sys_tags", "sys_domain",
    "description", "group_list", "priority", "delivery_plan", "sys_mod_count", "work_notes_list",
    "business_service", "follow_up", "closed_at", "sla_due", "delivery_task", "sys_updated_on",
    "parent", "work_end", "number", "closed_by", "work_start", "calendar_stc", "category",
    "business_duration", "incident_state", "activity_due", "correlation_display", "company",
    "active", "due_date", "assignment_group", "caller_id", "knowledge", "made_sla",
    "comments_and_work_notes", "parent_incident", "state", "user_input", "sys_created_on",
    "approval_set", "reassignment_count", "rfc", "child_incidents", "opened_at",
    "short_description", "order", "sys_updated_by", "resolved_by", "notify", "upon_reject",
    "approval_history", "problem_id", "work_notes", "calendar_duration", "close_code", "sys_id",
    "approval", "caused_by", "severity", "sys_created_by", "resolved_at", "assigned_to",
    "business_stc", "wf_activity", "sys_domain_path", "cmdb_ci", "opened_by", "subcategory",
    "rejection_goto", "sys_class_name", "watch_list", "time_worked", "contact_type", "escalation",
    "comments",
)

#: Reference fields and the table each points at (rendered as ``{"link", "value"}``).
REFERENCES = {
    "location": "cmn_location", "sys_domain": "sys_user_group", "company": "core_company",
    "assignment_group": "sys_user_group", "caller_id": "sys_user", "assigned_to": "sys_user",
    "opened_by": "sys_user", "resolved_by": "sys_user", "closed_by": "sys_user",
    "problem_id": "problem", "cmdb_ci": "cmdb_ci", "parent_incident": "incident",
    "business_service": "cmdb_ci_service", "caused_by": "change_request", "rfc": "change_request",
}

JOURNALS = {"comments": "Additional comments", "work_notes": "Work notes"}

CHOICES = {
    "state": {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"},
    "urgency": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "impact": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"},
    "close_code": {c: c for c in (
        "Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
        "Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided", "User error",
        "Solved (Work Around)", "Solved (Permanently)", "Solved Remotely (Work Around)",
        "Solved Remotely (Permanently)", "Not Solved (Not Reproducible)", "Not Solved (Too Costly)",
        "Closed/Resolved by Caller",
    )},
}

#: The default priority lookup: (impact, urgency) -> priority.
PRIORITY = {("1", "1"): "1", ("1", "2"): "2", ("2", "1"): "2", ("1", "3"): "3", ("2", "2"): "3",
            ("3", "1"): "3", ("2", "3"): "4", ("3", "2"): "4", ("3", "3"): "5"}

RESOLVED, CLOSED = "6", "7"
READ_ONLY = {"sys_id", "number", "priority", "sys_created_on", "sys_created_by", "sys_updated_on",
             "sys_updated_by", "sys_mod_count", "sys_class_name", "incident_state", "opened_by"}

TABLES = ("incident", "sys_journal_field")

def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def as_text(value: Any) -> str:
    """A field value as the Table API stores it: every value a string, booleans "true"/"false"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def user_sys_id(user: str) -> str:
    """The sys_id the sandbox gives a user name (32 hex, stable, so a reference can be followed)."""
    return hashlib.md5(user.encode(), usedforsecurity=False).hexdigest()


class TableError(Exception):
    """A refusal in ServiceNow's shape: ``{"error": {"message", "detail"}, "status": "failure"}``."""

    def __init__(self, status: int, message: str, detail: str | None) -> None:
        super().__init__(f"{status} {message}: {detail}")
        self.status, self.message, self.detail = status, message, detail


def not_found() -> TableError:
    return TableError(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def error_response(error: TableError, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": error.message, "detail": error.detail}, "status": "failure"}
    return web.json_response(body, status=error.status, headers=headers)


@dataclass
class Condition:
    field: str
    operator: str  # "=", "!=", "LIKE", "STARTSWITH", "ENDSWITH"
    value: str

    def holds(self, record: Record) -> bool:
        actual = str(record.get(self.field, ""))
        return {
            "=": actual == self.value, "!=": actual != self.value, "LIKE": self.value in actual,
            "STARTSWITH": actual.startswith(self.value), "ENDSWITH": actual.endswith(self.value),
        }[self.operator]


@dataclass
class Query:
    """The subset of an encoded query the sandbox understands; the rest is ignored, as ServiceNow
    ignores the invalid parts of a query."""

    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)

    @classmethod
    def parse(cls, encoded: str, known: Iterable[str]) -> Query:
        known, query = set(known), cls()
        for part in filter(None, encoded.split("^")):
            if part.startswith("ORDERBYDESC"):
                query.order.append((part.removeprefix("ORDERBYDESC"), True))
            elif part.startswith("ORDERBY"):
                query.order.append((part.removeprefix("ORDERBY"), False))
            else:
                for operator in ("!=", "STARTSWITH", "ENDSWITH", "LIKE", "="):
                    name, found, value = part.partition(operator)
                    if found and name in known:
                        query.conditions.append(Condition(name, operator, value))
                        break
        return query

    def select(self, records: Iterable[Record]) -> list[Record]:
        chosen = [r for r in records if all(c.holds(r) for c in self.conditions)]
        for name, descending in reversed(self.order):
            chosen.sort(key=lambda r: str(r.get(name, "")), reverse=descending)
        return chosen


class IncidentStore:
    """Keeps the instance's incidents and journal entries in PostgreSQL (the simulator's schema); its
    one job is to store and find rows. Over ``state``'s pool each call stands alone; ``async with
    store.transaction() as tx`` gives one whose calls share a transaction (one request's)."""

    def __init__(self, state: SandboxState, conn: asyncpg.Connection | None = None) -> None:
        self.state, self.conn = state, conn

    @property
    def db(self) -> asyncpg.Pool | asyncpg.Connection:
        return self.conn if self.conn is not None else self.state.pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[IncidentStore]:
        async with self.state.transaction() as conn:
            yield IncidentStore(self.state, conn)

    async def reset(self) -> None:
        """Empty the instance; incident numbers start again at INC0010001."""
        await self.db.execute("TRUNCATE servicenow_journal, servicenow_incidents RESTART IDENTITY")

    async def next_number(self) -> str:
        sequence = await self.db.fetchval("SELECT nextval('servicenow_incident_numbers')")
        return f"INC{sequence:07d}"

    async def insert(self, record: Record) -> Record:
        await self.db.execute("INSERT INTO servicenow_incidents (sys_id, number, fields) VALUES ($1, $2, $3)",
                              record["sys_id"], record["number"], json.dumps(record))
        return record

    async def get(self, sys_id: str, *, lock: bool = False) -> Record | None:
        """``lock``: hold the row until the transaction ends (an update reads, changes and replaces it)."""
        found = await self.db.fetchval("SELECT fields FROM servicenow_incidents WHERE sys_id = $1" + (" FOR UPDATE" if lock else ""), sys_id)
        return json.loads(found) if found is not None else None

    async def replace(self, record: Record) -> Record:
        await self.db.execute("UPDATE servicenow_incidents SET fields = $2 WHERE sys_id = $1", record["sys_id"], json.dumps(record))
        return record

    async def all(self) -> list[Record]:
        return [json.loads(r["fields"]) for r in await self.db.fetch("SELECT fields FROM servicenow_incidents ORDER BY position")]

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM servicenow_incidents"))

    async def add_entry(self, entry: Record) -> None:
        await self.db.execute(f"INSERT INTO servicenow_journal ({', '.join(JOURNAL_FIELDS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                              *(entry[name] for name in JOURNAL_FIELDS))

    async def entries(self, element_id: str | None = None) -> list[Record]:
        rows = await self.db.fetch(f"SELECT {', '.join(JOURNAL_FIELDS)} FROM servicenow_journal"
                                   " WHERE $1::text IS NULL OR element_id = $1 ORDER BY position", element_id)
        return [dict(row) for row in rows]


#: A journal entry's fields, in the order the Table API returns them.
JOURNAL_FIELDS = ("sys_id", "element", "element_id", "name", "value", "sys_created_by", "sys_created_on", "sys_tags")

#: The store behind a running app, for a test that wants to look inside.
STORE = web.AppKey("store", IncidentStore)


@dataclass
class Fault:
    status: int
    times: int
    method: str | None = None
    path: str | None = None
    retry_after: int = 1

    def matches(self, request: web.Request) -> bool:
        return (self.method in (None, request.method)) and (self.path is None or request.path.startswith(self.path))


class Instance:
    """The incident rules of a ServiceNow instance, over an ``IncidentStore`` (one request's)."""

    def __init__(self, store: IncidentStore, clock: Callable[[], str] = now) -> None:
        self.store, self.clock = store, clock

    def validate(self, fields: Record) -> None:
        for name, choices in CHOICES.items():
            blank_ok = name == "close_code" and fields.get(name) in ("", None)
            if name in fields and name != "priority" and str(fields[name]) not in choices and not blank_ok:
                raise TableError(400, "Invalid value for field", (
                    f"{name} '{fields[name]}' is not one of the choices for incident.{name}: {', '.join(choices)}"))
        for name, value in fields.items():
            if name in INCIDENT_FIELDS and not isinstance(value, str | int | float | bool | None):
                raise TableError(400, "Invalid value for field", f"{name} must be a string, got {type(value).__name__}")

    async def create(self, fields: Record, user: str) -> Record:
        self.validate(fields)
        stamp = self.clock()
        record: Record = dict.fromkeys(INCIDENT_FIELDS, "")
        record.update({
            "upon_approval": "proceed", "reopen_count": "0", "impact": "3", "urgency": "3",
            "sys_domain": "global", "sys_mod_count": "0", "number": await self.store.next_number(), "category": "inquiry",
            "incident_state": "1", "active": "true", "knowledge": "false", "made_sla": "true", "state": "1",
            "reassignment_count": "0", "child_incidents": "0", "opened_at": stamp, "notify": "1",
            "upon_reject": "cancel", "sys_id": uuid.uuid4().hex, "approval": "not requested", "severity": "3",
            "sys_created_by": user, "sys_created_on": stamp, "sys_updated_by": user, "sys_updated_on": stamp,
            "sys_domain_path": "/", "opened_by": user_sys_id(user), "sys_class_name": "incident",
            "contact_type": "phone", "escalation": "0",
        })
        notes = self.assign(record, fields)
        self.check_policy(record)
        await self.store.insert(record)
        await self.write_journal(record, notes, user, stamp)
        return record

    async def update(self, sys_id: str, fields: Record, user: str) -> Record:
        current = await self.store.get(sys_id, lock=True)
        if current is None:
            raise not_found()
        self.validate(fields)
        record, stamp = dict(current), self.clock()
        notes = self.assign(record, fields)
        if record["state"] != current["state"]:
            self.transition(record, user, stamp)
        self.check_policy(record)
        record.update(sys_updated_by=user, sys_updated_on=stamp, sys_mod_count=str(int(record["sys_mod_count"]) + 1))
        await self.store.replace(record)
        await self.write_journal(record, notes, user, stamp)
        return record

    def assign(self, record: Record, fields: Record) -> dict[str, str]:
        """Copies the writable fields onto the record and returns the journal entries to append."""
        notes = {}
        for name, value in fields.items():
            if name in JOURNALS:
                if str(value).strip():
                    notes[name] = str(value)
            elif name in INCIDENT_FIELDS and name not in READ_ONLY:
                record[name] = as_text(value)
        record["priority"] = PRIORITY[(record["impact"], record["urgency"])]
        record["incident_state"] = record["state"]
        return notes

    def transition(self, record: Record, user: str, stamp: str) -> None:
        if record["state"] in (RESOLVED, CLOSED) and not record["resolved_at"]:
            record.update(resolved_at=stamp, resolved_by=user_sys_id(user))
        if record["state"] == CLOSED:
            record.update(closed_at=stamp, closed_by=user_sys_id(user), active="false")
        if record["state"] not in (RESOLVED, CLOSED):
            record.update(resolved_at="", resolved_by="", closed_at="", closed_by="", active="true")

    def check_policy(self, record: Record) -> None:
        if record["state"] in (RESOLVED, CLOSED):
            missing = [label for name, label in (("close_code", "Resolution code"), ("close_notes", "Close notes"))
                       if not record[name].strip()]
            if missing:
                raise TableError(403, "Operation Failed",
                                 "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(missing))

    async def write_journal(self, record: Record, notes: dict[str, str], user: str, stamp: str) -> None:
        for element, value in notes.items():
            await self.store.add_entry({
                "sys_id": uuid.uuid4().hex, "element": element, "element_id": record["sys_id"], "name": "incident",
                "value": value, "sys_created_by": user, "sys_created_on": stamp, "sys_tags": "",
            })

    async def journal_text(self, sys_id: str, elements: Iterable[str]) -> str:
        """A journal field as ServiceNow displays it: entries newest first, each under its header."""
        wanted = set(elements)
        entries = [e for e in await self.store.entries(sys_id) if e["element"] in wanted]
        return "".join(f"{e['sys_created_on']} - {e['sys_created_by']} ({JOURNALS[e['element']]})\n{e['value']}\n\n"
                       for e in reversed(entries))


@dataclass
class View:
    """How one request wants records rendered (``sysparm_fields``, display values, reference links)."""

    base: str  # the instance's root: where ``/api/now/table`` is (under ``/servicenow`` in the composite)
    fields: list[str] | None
    display: str  # "false", "true", "all"
    links: bool

    @classmethod
    def of(cls, request: web.Request) -> View:
        q = request.query
        fields = [f.strip() for f in q.get("sysparm_fields", "").split(",") if f.strip()] or None
        display = q.get("sysparm_display_value", "false").lower()
        return cls(base_url(request), fields, display if display in ("true", "all") else "false",
                   q.get("sysparm_exclude_reference_link", "false").lower() != "true")

    async def incident(self, record: Record, instance: Instance) -> Record:
        names = [f for f in self.fields if f in record] if self.fields else list(INCIDENT_FIELDS)
        return {name: await self.value(name, record, instance) for name in names}

    async def value(self, name: str, record: Record, instance: Instance) -> Any:
        raw = record[name]
        if name in JOURNALS or name == "comments_and_work_notes":
            if self.display == "false":
                return ""  # a journal field reads as "" with actual values
            text = await instance.journal_text(record["sys_id"], JOURNALS if name == "comments_and_work_notes" else [name])
            return text if self.display == "true" else {"display_value": text, "value": ""}
        shown = CHOICES.get(name, {}).get(raw, raw)
        if name in REFERENCES and raw:
            link = f"{self.base}/api/now/table/{REFERENCES[name]}/{raw}"
            if self.display == "true":
                return shown
            reference = {"display_value": shown, "link": link, "value": raw} if self.display == "all" else {"link": link, "value": raw}
            if not self.links:
                reference.pop("link")
                return reference if self.display == "all" else raw
            return reference
        if self.display == "true":
            return shown
        if self.display == "all":
            return {"display_value": shown, "value": raw}
        return raw

    def entry(self, entry: Record) -> Record:
        names = [f for f in self.fields if f in entry] if self.fields else list(entry)
        return {name: entry[name] for name in names}


#: What the instance's outbound business rule (async, after insert/update on incident, posting with
#: ``sn_ws.RESTMessageV2``) puts in its JSON body, in this order: the rule the desk's administrator
#: installs (``deploy/desk/servicenow_business_rule.js``). ``comments`` is the additional comment the
#: change added ("" when it added none); the caller's and updater's e-mail and name come from the
#: user record (here: the organisation's directory, ``okta_users``, that an instance's sys_user is
#: synchronised from).
BUSINESS_RULE_FIELDS = ("operation", "table", "sys_id", "number", "short_description", "description", "caller_id", "caller_email", "caller_name",
                        "urgency", "impact", "priority", "category", "assignment_group", "state", "contact_type", "comments", "sys_updated_by",
                        "updated_by_email", "sys_mod_count", "sys_created_on")


def caller_email(record: Record) -> str:
    """The caller's e-mail as the rule reads it (``current.caller_id.email``): the sandbox keeps no
    user table, so a caller given by e-mail is its own address, and a caller left to default (or set
    to the opener's sys_id) is the user who opened it, when that user name is an address."""
    caller, opener = record["caller_id"], record["sys_created_by"]
    if "@" in caller:
        return caller
    if caller in ("", user_sys_id(opener)) and "@" in opener:
        return opener
    return ""


def business_rule_payload(operation: str, record: Record, given: Record, caller_name: str = "") -> Record:
    """The body the rule sends for ``operation`` (insert, update) of ``record``, ``given`` the fields written."""
    updater = record["sys_updated_by"]
    values = {**record, "operation": operation, "table": "incident", "caller_email": caller_email(record), "caller_name": caller_name,
              "comments": str(given.get("comments") or "").strip(), "updated_by_email": updater if "@" in updater else ""}
    return {name: as_text(values[name]) for name in BUSINESS_RULE_FIELDS}


async def send_business_rule(store: IncidentStore, operation: str, record: Record, given: Record) -> None:
    """Queue the rule's call in the change's transaction (sent once it commits); the receiver tells a
    redelivery by ``sys_id:sys_mod_count``, the header the rule sets as ``X-Workforce-Delivery``.
    Sent on every insert and update (the installed rule's condition narrows it to inserts and new
    comments; the receiver ignores the other updates either way)."""
    email = caller_email(record)
    name = await store.db.fetchval("SELECT first_name || ' ' || last_name FROM okta_users WHERE lower(email) = lower($1) LIMIT 1", email) if email else None
    await webhooks.enqueue(store.db, "servicenow", operation, lambda: business_rule_payload(operation, record, given, name or ""),
                           key=f"{record['sys_id']}:{record['sys_mod_count']}")


def base_url(request: web.Request) -> str:
    """The instance's root as this request reached it: the origin, and the prefix it is mounted under."""
    return str(request.url.origin()) + request.path[: request.path.find("/api/")]


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


#: Who a request authenticates as: the user name, or None (the instance answers 401).
Authenticate = Callable[[web.Request, IncidentStore], Awaitable[str | None]]

INSTANCE = web.RequestKey("servicenow_instance", Instance)
USER = web.RequestKey("servicenow_user", str)


def one_user(user: str, password: str) -> Authenticate:
    """A standalone instance's one API user, by Basic auth."""

    async def authenticate(request: web.Request, store: IncidentStore) -> str | None:
        return user if basic_credentials(request) == (user, password) else None

    return authenticate


def table_api(store: IncidentStore, authenticate: Authenticate, *, clock: Callable[[], str] = now, hooks: bool = False) -> web.Application:
    """The Table API over ``store``, each request in one transaction as the user ``authenticate``
    names; with ``hooks``, the standalone test hooks under ``/_sandbox`` too."""
    faults: list[Fault] = []

    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        if "/api/" not in request.path:
            return await handler(request)
        for fault in faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                if fault.status == 429:
                    return error_response(TableError(429, "Too Many Requests",
                                                     f"Rate limit exceeded for user; retry after {fault.retry_after} seconds"),
                                          headers={"Retry-After": str(fault.retry_after)})
                return web.Response(status=fault.status, content_type="text/html",
                                    text="<html><body><h1>Service Unavailable</h1></body></html>")
        await request.read()  # the whole body before a connection is taken: a slow sender holds none
        try:
            async with store.transaction() as tx:
                user = await authenticate(request, tx)
                if user is None:
                    return error_response(TableError(401, "User Not Authenticated", "Required to provide Auth information"),
                                          headers={"WWW-Authenticate": 'BASIC realm="Service-now"'})
                request[INSTANCE], request[USER] = Instance(tx, clock), user
                return await handler(request)
        except TableError as error:
            return error_response(error)

    def table(request: web.Request) -> str:
        name = request.match_info["table"]
        if name not in TABLES:
            raise TableError(400, f"Invalid table {name}", None)
        return name

    async def body(request: web.Request) -> Record:
        try:
            payload = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise TableError(400, "Exception while reading request", "The payload is not valid JSON.")
        return payload

    def page(request: web.Request, rows: list[Record]) -> tuple[list[Record], dict[str, str]]:
        try:
            limit = int(request.query.get("sysparm_limit", "10000"))
            offset = int(request.query.get("sysparm_offset", "0"))
        except ValueError as bad:
            raise TableError(400, "Invalid value for parameter", f"sysparm_limit and sysparm_offset must be integers ({bad})") from None
        limit, offset, total = max(limit, 1), max(offset, 0), len(rows)
        headers = {"X-Total-Count": str(total)}
        if request.query.get("sysparm_suppress_pagination_header", "false").lower() != "true":
            def url(at: int) -> str:
                params = {**request.query, "sysparm_offset": str(at), "sysparm_limit": str(limit)}
                return f"<{request.url.origin()}{request.path}?{urlencode(params)}>"
            last = max((total - 1) // limit * limit, 0)
            links = [f'{url(0)};rel="first"']
            if offset > 0:
                links.append(f'{url(max(offset - limit, 0))};rel="prev"')
            if offset + limit < total:
                links.append(f'{url(offset + limit)};rel="next"')
            links.append(f'{url(last)};rel="last"')
            headers["Link"] = ",".join(links)
        return rows[offset:offset + limit], headers

    async def list_records(request: web.Request) -> web.Response:
        name, view, instance = table(request), View.of(request), request[INSTANCE]
        encoded = request.query.get("sysparm_query", "")
        if name == "incident":
            rows = Query.parse(encoded, INCIDENT_FIELDS).select(await instance.store.all())
            chosen, headers = page(request, rows)
            return web.json_response({"result": [await view.incident(r, instance) for r in chosen]}, headers=headers)
        rows = Query.parse(encoded, ("sys_id", "element", "element_id", "name", "value", "sys_created_on",
                                     "sys_created_by")).select(await instance.store.entries())
        chosen, headers = page(request, rows)
        return web.json_response({"result": [view.entry(e) for e in chosen]}, headers=headers)

    async def get_record(request: web.Request) -> web.Response:
        name, view, sys_id, instance = table(request), View.of(request), request.match_info["sys_id"], request[INSTANCE]
        if name == "sys_journal_field":
            found = [e for e in await instance.store.entries() if e["sys_id"] == sys_id]
            if not found:
                raise not_found()
            return web.json_response({"result": view.entry(found[0])})
        record = await instance.store.get(sys_id)
        if record is None:
            raise not_found()
        return web.json_response({"result": await view.incident(record, instance)})

    def writable(name: str) -> None:
        if name != "incident":
            raise TableError(403, "Operation Failed", f"the sandbox's {name} table is read-only over REST")

    async def create_record(request: web.Request) -> web.Response:
        name, instance = table(request), request[INSTANCE]
        writable(name)
        given = await body(request)
        record = await instance.create(given, request[USER])
        await send_business_rule(instance.store, "insert", record, given)
        location = f"{base_url(request)}/api/now/table/incident/{record['sys_id']}"
        if request.headers.get("X-no-response-body", "").lower() == "true":
            return web.Response(status=201, headers={"Location": location})
        return web.json_response({"result": await View.of(request).incident(record, instance)}, status=201,
                                 headers={"Location": location})

    async def update_record(request: web.Request) -> web.Response:
        name, instance = table(request), request[INSTANCE]
        writable(name)
        given = await body(request)
        record = await instance.update(request.match_info["sys_id"], given, request[USER])
        await send_business_rule(instance.store, "update", record, given)
        if request.headers.get("X-no-response-body", "").lower() == "true":
            return web.Response(status=200)
        return web.json_response({"result": await View.of(request).incident(record, instance)})

    async def add_fault(request: web.Request) -> web.Response:
        spec = await request.json()
        fault = Fault(status=int(spec["status"]), times=int(spec.get("times", 1)), method=spec.get("method"),
                      path=spec.get("path"), retry_after=int(spec.get("retry_after", 1)))
        faults.append(fault)
        return web.json_response({"faults": len(faults)}, status=201)

    async def reset(request: web.Request) -> web.Response:
        await store.reset()
        faults.clear()
        return web.Response(status=204)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "incidents": await store.count()})

    app = web.Application(middlewares=[gate])
    for prefix in ("/api/now/table", "/api/now/{version:v[0-9]+}/table"):
        app.router.add_get(prefix + "/{table}", list_records)
        app.router.add_post(prefix + "/{table}", create_record)
        app.router.add_get(prefix + "/{table}/{sys_id}", get_record)
        app.router.add_patch(prefix + "/{table}/{sys_id}", update_record)
        app.router.add_put(prefix + "/{table}/{sys_id}", update_record)
    if hooks:
        app.router.add_post("/_sandbox/faults", add_fault)
        app.router.add_post("/_sandbox/reset", reset)
        app.router.add_get("/_sandbox/health", health)
    app[STORE] = store
    return app


def create_app(*, user: str, password: str, store: IncidentStore, clock: Callable[[], str] = now) -> web.Application:
    """The standalone simulator: one instance with one API user (Basic auth), over ``store``, with
    its test hooks. ``store``'s database is opened by the caller (``main`` opens it at startup)."""
    return table_api(store, one_user(user, password), clock=clock, hooks=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.sandbox.servicenow",
                                     description="A local ServiceNow instance (Table API: incident, sys_journal_field), "
                                                 "its state in DATABASE_URL (schema SANDBOX_SCHEMA, default sandbox).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--user", default="workforce.integration")
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    database = server.database(os.environ.get("DATABASE_URL"), os.environ.get("SANDBOX_SCHEMA", server.SCHEMA))
    app = create_app(user=args.user, password=args.password, store=IncidentStore(SandboxState(database)))

    async def database_open(app: web.Application) -> AsyncIterator[None]:
        await database.open()
        yield
        await database.close()

    app.cleanup_ctx.append(database_open)
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
