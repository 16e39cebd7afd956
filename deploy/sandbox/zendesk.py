"""A stand-in for a customer's Zendesk Support, as its own HTTP server speaking the Tickets API.

It answers the way https://{subdomain}.zendesk.com/api/v2 does, for what the upstream adapter uses:

- ``POST /api/v2/tickets.json``            create a ticket; its ``comment`` becomes the description
- ``GET  /api/v2/tickets.json``            list tickets (cursor paging with ``page[size]``, else offset)
- ``GET  /api/v2/tickets/{id}.json``       show a ticket
- ``PUT  /api/v2/tickets/{id}.json``       change status/priority/assignee/tags, and add a comment
  (``"public": false`` makes it an internal note)
- ``GET  /api/v2/tickets/{id}/comments.json``  list comments, oldest first, cursor or offset paging
- ``GET  /api/v2/users/{id}.json``, ``POST /api/v2/users.json``  the people tickets are about

Auth is Zendesk's: an API token as basic auth ``{email}/token:{api_token}``, or an OAuth bearer
token. Errors are Zendesk's bodies: 401 ``{"error": "Couldn't authenticate you"}``, 404
``RecordNotFound``, 422 ``RecordInvalid`` with field ``details``, and a 429 in plain text with
``Retry-After`` as the real API answers it. Cursor pages carry ``meta.has_more``,
``meta.after_cursor``/``before_cursor`` and ``links.next``/``prev``; like Zendesk, ``links.next``
is set on the last page too, so clients must stop on ``has_more`` and not on a missing link.

State is kept in PostgreSQL, in the simulator's schema (``zendesk_users``, ``zendesk_tickets``,
``zendesk_comments``, ``zendesk_audits``: migration 0007), one transaction per request, so an account
restarted mid-run still has its tickets. :class:`ZendeskStore` is the one class that touches it. An
account with no users is seeded when the server starts (and at the next request after it was emptied
from outside, by ``python -m deploy.sandbox seed --reset``): the integration's agent (``email``, an
admin) and three requesters (``SEED_USERS``).

Two ways to run it:

- In the composite simulator (``python -m deploy.sandbox serve``), under ``/zendesk``
  (``deploy/sandbox/api/zendesk.py``): the API token is one the administration API issued for
  system ``zendesk``, and the shared ``/_sandbox/faults`` apply.
- Standalone, accepting one agent's API token (and optionally one OAuth token):
  ``DATABASE_URL=postgresql://... python -m deploy.sandbox.zendesk --port 8093 --email atom-bot@acme.example --token T``
  (its schema is ``SANDBOX_SCHEMA``, default ``sandbox``: the composite's, so both see the same
  account). Its test hooks, unauthenticated and only ever bound to a local address:
  ``POST /_sandbox/faults`` ``{"status": 429, "retry_after": 1, "times": 1}`` (optionally
  ``"method"`` and ``"path"``) makes the next matching API calls fail; ``POST /_sandbox/reset``
  drops every ticket and re-seeds the users.

On a change it sends Zendesk's event webhooks (``deploy/sandbox/webhooks.py``, :func:`ticket_event`):
``zen:event-type:ticket.created``, ``ticket.comment_added`` (a comment added by an update) and
``ticket.status_changed``.

Shapes follow https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ and the
recorded examples under ``tests/fixtures/vendors/zendesk/``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import html
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.sandbox import server, webhooks
from deploy.sandbox.server import SandboxState

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("problem", "incident", "question", "task")
MAX_PAGE_SIZE = 100
#: Every account has one standard custom status per status category; these are the sandbox's ids.
CUSTOM_STATUS_IDS = {status: 36000000000 + n for n, status in enumerate(STATUSES, start=1)}
#: The fields an update may change (comments are added, not changed).
CHANGEABLE = ("status", "priority", "type", "subject", "assignee_id", "group_id", "tags", "external_id")
RATE_LIMIT = 700  # requests a minute, as an Enterprise account's X-Rate-Limit says

#: The people of the sandbox's Zendesk: the integration's agent is added from the settings.
SEED_USERS = (
    ("Priya Raman", "priya.raman@acme.example"),
    ("Jordan Lee", "jordan.lee@acme.example"),
    ("Sam Okafor", "sam.okafor@acme.example"),
)


class ZendeskSettings(BaseSettings):
    """Where the simulator listens and which credentials it accepts (``ZENDESK_SANDBOX_*``)."""

    model_config = SettingsConfigDict(env_prefix="ZENDESK_SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 8093
    email: str = "atom-bot@acme.example"
    api_token: SecretStr = SecretStr("sandbox-zendesk-token")
    oauth_token: SecretStr | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- state --------------------------------------------------------------------------------------


#: Each kind's id sequence (migration 0007), started where Zendesk's ids are.
SEQUENCES = {"user": "zendesk_user_ids", "ticket": "zendesk_ticket_ids", "comment": "zendesk_comment_ids",
             "audit": "zendesk_audit_ids", "event": "zendesk_event_ids"}
BIGINT = range(-(2**63), 2**63)


def _key(value: Any) -> int | None:
    """``value`` as a stored record's id, or None when it cannot be one (a string, a bool, out of range)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value in BIGINT else None


class ZendeskStore:
    """Every user, ticket, comment and audit of the sandbox, in PostgreSQL (the simulator's schema),
    with ids handed out as Zendesk does (one increasing sequence per kind). Keeps records only: no
    HTTP, no validation. Over ``state``'s pool each call stands alone; ``async with
    store.transaction() as tx`` gives one whose calls share a transaction (one request's)."""

    def __init__(self, state: SandboxState, clock: Callable[[], str] = _now, conn: asyncpg.Connection | None = None) -> None:
        self.state, self.clock, self.conn = state, clock, conn

    @property
    def db(self) -> asyncpg.Pool | asyncpg.Connection:
        return self.conn if self.conn is not None else self.state.pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ZendeskStore]:
        async with self.state.transaction() as conn:
            yield ZendeskStore(self.state, self.clock, conn)

    async def empty(self) -> bool:
        """Whether the account has no users yet. If so, the transaction now holds the account's seeding
        lock, so that of two first requests one seeds and the other then finds it seeded."""
        if await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM zendesk_users)"):
            return False
        await self.db.execute("SELECT pg_advisory_xact_lock(hashtext('zendesk account seed'))")
        return not await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM zendesk_users)")

    async def next_id(self, kind: str) -> int:
        return int(await self.db.fetchval("SELECT nextval($1::regclass)", SEQUENCES[kind]))

    async def clear(self) -> None:
        """Forget everything; ids start again as a new account's."""
        await self.db.execute("TRUNCATE zendesk_audits, zendesk_comments, zendesk_tickets, zendesk_users RESTART IDENTITY")

    async def add_user(self, user: dict[str, Any]) -> dict[str, Any]:
        user = {**user, "id": await self.next_id("user")}
        await self.db.execute("INSERT INTO zendesk_users (id, email, record) VALUES ($1, $2, $3)", user["id"], user["email"], json.dumps(user))
        return user

    async def user(self, user_id: Any) -> dict[str, Any] | None:
        if (key := _key(user_id)) is None:
            return None
        found = await self.db.fetchval("SELECT record FROM zendesk_users WHERE id = $1", key)
        return json.loads(found) if found is not None else None

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        found = await self.db.fetchval("SELECT record FROM zendesk_users WHERE lower(email) = lower($1) ORDER BY id LIMIT 1", email)
        return json.loads(found) if found is not None else None

    async def count_users(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM zendesk_users"))

    async def add_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        ticket = {**ticket, "id": await self.next_id("ticket")}
        await self.db.execute("INSERT INTO zendesk_tickets (id, record) VALUES ($1, $2)", ticket["id"], json.dumps(ticket))
        return ticket

    async def ticket(self, ticket_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
        """``lock``: hold the row until the transaction ends (an update reads, changes and replaces it)."""
        if (key := _key(ticket_id)) is None:
            return None
        found = await self.db.fetchval("SELECT record FROM zendesk_tickets WHERE id = $1" + (" FOR UPDATE" if lock else ""), key)
        return json.loads(found) if found is not None else None

    async def replace_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        await self.db.execute("UPDATE zendesk_tickets SET record = $2 WHERE id = $1", ticket["id"], json.dumps(ticket))
        return ticket

    async def tickets(self) -> list[dict[str, Any]]:
        return [json.loads(r["record"]) for r in await self.db.fetch("SELECT record FROM zendesk_tickets ORDER BY id")]

    async def add_comment(self, ticket_id: int, comment: dict[str, Any]) -> dict[str, Any]:
        comment = {**comment, "id": await self.next_id("comment")}
        await self.db.execute("INSERT INTO zendesk_comments (id, ticket_id, record) VALUES ($1, $2, $3)", comment["id"], ticket_id, json.dumps(comment))
        return comment

    async def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's comments, oldest first."""
        return [json.loads(r["record"]) for r in await self.db.fetch("SELECT record FROM zendesk_comments WHERE ticket_id = $1 ORDER BY id", ticket_id)]

    async def add_audit(self, ticket_id: int, audit: dict[str, Any]) -> dict[str, Any]:
        """An audit's id is taken first (``next_id("audit")``): its comment names it."""
        await self.db.execute("INSERT INTO zendesk_audits (id, ticket_id, record) VALUES ($1, $2, $3)", audit["id"], ticket_id, json.dumps(audit))
        return audit


@dataclass
class Fault:
    status: int
    retry_after: int | None
    times: int
    method: str | None = None
    path: str | None = None

    def matches(self, request: web.Request) -> bool:
        return (self.method is None or self.method.upper() == request.method) and (self.path is None or self.path == request.path)


# --- Zendesk's bodies ---------------------------------------------------------------------------


def not_found() -> web.Response:
    return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)


def invalid(details: dict[str, list[dict[str, str]]]) -> web.Response:
    return web.json_response({"error": "RecordInvalid", "description": "Record validation errors", "details": details}, status=422)


def bad_page(description: str) -> web.Response:
    return web.json_response({"error": "InvalidPaginationParameter", "description": description}, status=400)


def _detail(field_name: str, description: str, error: str) -> dict[str, list[dict[str, str]]]:
    return {field_name: [{"description": description, "error": error}]}


def _html_body(body: str) -> str:
    paragraphs = "".join(f'<p dir="auto">{html.escape(p)}</p>' for p in body.split("\n\n"))
    return f'<div class="zd-comment" dir="auto">{paragraphs}</div>'


def _event_value(value: Any) -> Any:
    """An audit event's value as Zendesk writes it: a string (ids too), an array for tags."""
    return value if isinstance(value, list) or value is None else str(value)


def _via() -> dict[str, Any]:
    return {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}


# --- its webhooks (Zendesk's event webhooks, "zen:event-type:ticket.*") ------------------------------

#: The account's id and its one brand, as its event webhooks name them.
ACCOUNT_ID = 10016001
BRAND_ID = "360000016001"
#: A ticket's channel as events name it: the API is ``web_service`` there.
CHANNELS = {"api": "web_service"}


def _id_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _meta(sequence: int, position: int, total: int) -> dict[str, Any]:
    return {"sequence": {"id": f"{sequence:032X}", "position": position, "total": total}}


def ticket_event(kind: str, ticket: dict[str, Any], actor_id: int, *, sequence: int, event: dict[str, Any]) -> dict[str, Any]:
    """One ticket event as a Zendesk webhook subscribed to it receives it: ids as strings, status,
    priority and type in capitals, the ticket in ``detail`` and what happened in ``event``."""
    detail = {
        "actor_id": _id_text(actor_id), "assignee_id": _id_text(ticket["assignee_id"]), "brand_id": BRAND_ID,
        "created_at": ticket["created_at"], "custom_status": _id_text(ticket["custom_status_id"]), "description": ticket["description"],
        "external_id": _id_text(ticket["external_id"]), "form_id": None, "group_id": _id_text(ticket["group_id"]), "id": str(ticket["id"]),
        "is_public": ticket["is_public"], "organization_id": _id_text(ticket["organization_id"]),
        "priority": ticket["priority"].upper() if ticket["priority"] else None, "requester_id": _id_text(ticket["requester_id"]),
        "status": ticket["status"].upper(), "subject": ticket["subject"], "submitter_id": _id_text(ticket["submitter_id"]),
        "tags": list(ticket["tags"]), "type": ticket["type"].upper() if ticket["type"] else None, "updated_at": ticket["updated_at"],
        "via": {"channel": CHANNELS.get(ticket["via"]["channel"], ticket["via"]["channel"])},
    }
    return {"type": f"zen:event-type:{kind}", "account_id": ACCOUNT_ID, "id": str(uuid.uuid4()), "time": _now(),
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket['id']}", "detail": detail, "event": event}


# --- the server ---------------------------------------------------------------------------------


class ZendeskSandbox:
    """The HTTP face of one sandboxed Zendesk account over a :class:`ZendeskStore`. Each API request
    is served by a copy of it bound to that request (:meth:`bound`): ``store`` in the request's
    transaction and ``agent_id`` the agent its credentials act as."""

    #: Whether the standalone test hooks (``/_sandbox/faults``, ``/_sandbox/reset``) are served.
    hooks = True

    def __init__(self, settings: ZendeskSettings, store: ZendeskStore) -> None:
        self.settings, self.store = settings, store
        self.faults: list[Fault] = []
        self.agent_id = 0

    def bound(self, store: ZendeskStore, agent_id: int = 0) -> ZendeskSandbox:
        account = copy.copy(self)
        account.store, account.agent_id = store, agent_id
        return account

    async def seed(self) -> None:
        """The account as new: every record dropped, then the integration's agent and the requesters."""
        await self.store.clear()
        await self.populate()

    async def seed_if_new(self) -> None:
        """Seed an account that has no users yet (a new database, or one reset from outside)."""
        if await self.store.empty():
            await self.populate()

    async def populate(self) -> None:
        await self.integration_agent()
        for name, email in SEED_USERS:
            await self.store.add_user(self._new_user(name, email))

    async def integration_agent(self) -> int:
        """The agent the integration's credentials act as (``settings.email``, an admin), added if missing."""
        found = await self.store.user_by_email(self.settings.email)
        return (found or await self.store.add_user(self._new_user("Atom (Workforce)", self.settings.email, role="admin")))["id"]

    def _new_user(self, name: str, email: str, role: str = "end-user") -> dict[str, Any]:
        now = self.store.clock()
        return {"name": name, "email": email, "role": role, "created_at": now, "updated_at": now, "time_zone": "UTC",
                "locale": "en-US", "active": True, "verified": True, "suspended": False, "organization_id": None,
                "phone": None, "external_id": None, "tags": []}

    # views: a stored record as Zendesk renders it

    @staticmethod
    def base(request: web.Request) -> str:
        """Resource URLs name this server (and the prefix it is mounted under), so a client can
        follow ``url`` and ``links.next``."""
        return f"{request.scheme}://{request.host}{request.path[: request.path.find('/api/v2')]}/api/v2"

    def user_view(self, request: web.Request, user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "url": f"{self.base(request)}/users/{user['id']}.json", **{k: v for k, v in user.items() if k != "id"}}

    def ticket_view(self, request: web.Request, ticket: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base(request)}/tickets/{ticket['id']}.json"
        return {"id": ticket["id"], "url": url, **{k: v for k, v in ticket.items() if k != "id"}}

    # the doors

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        app.router.add_post("/api/v2/tickets.json", _door("create_ticket"))
        app.router.add_get("/api/v2/tickets.json", _door("list_tickets"))
        app.router.add_get(r"/api/v2/tickets/{id:\d+}.json", _door("show_ticket"))
        app.router.add_put(r"/api/v2/tickets/{id:\d+}.json", _door("update_ticket"))
        app.router.add_get(r"/api/v2/tickets/{id:\d+}/comments.json", _door("list_comments"))
        app.router.add_post("/api/v2/users.json", _door("create_user"))
        app.router.add_get(r"/api/v2/users/{id:\d+}.json", _door("show_user"))
        if self.hooks:
            app.router.add_post("/_sandbox/faults", self.add_fault)
            app.router.add_post("/_sandbox/reset", self.reset)
        app.on_startup.append(self.open_account)
        return app

    async def open_account(self, app: web.Application) -> None:
        """At startup (once the database is open): a new account is seeded before its first request."""
        async with self.store.transaction() as store:
            await self.bound(store).seed_if_new()

    def authenticated(self, request: web.Request) -> bool:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.settings.oauth_token is not None:
            return credential == self.settings.oauth_token.get_secret_value()
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{self.settings.email}/token:{self.settings.api_token.get_secret_value()}"

    async def authenticate(self, request: web.Request) -> int | None:
        """The id of the agent the request's credentials act as, or None (a 401). Standalone: the one
        API token of ``settings.email``, or the OAuth token, both acting as that agent."""
        return await self.integration_agent() if self.authenticated(request) else None

    @web.middleware
    async def gate(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await handler(request)
        for fault in self.faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return self._fault_response(fault)
        await request.read()  # the whole body before a connection is taken: a slow sender holds none
        async with self.store.transaction() as store:
            account = self.bound(store)
            await account.seed_if_new()
            if (agent_id := await account.authenticate(request)) is None:
                return web.json_response({"error": "Couldn't authenticate you"}, status=401)
            account.agent_id, request[ACCOUNT] = agent_id, account
            response: web.StreamResponse = await handler(request)
        response.headers["X-Rate-Limit"] = str(RATE_LIMIT)
        response.headers["X-Rate-Limit-Remaining"] = str(RATE_LIMIT - 1)
        return response

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.status == 429:  # Zendesk answers its rate limit in plain text, not JSON
            headers |= {"X-Rate-Limit": str(RATE_LIMIT), "X-Rate-Limit-Remaining": "0"}
            return web.Response(status=429, text="Number of allowed API requests per minute exceeded", headers=headers)
        return web.Response(status=fault.status, text="Service Unavailable" if fault.status == 503 else "Internal Server Error",
                            headers=headers)

    async def _body(self, request: web.Request, root: str) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "Unprocessable Entity", "description": "Server could not parse JSON"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get(root), dict):
            return invalid(_detail("base", f"{root.capitalize()}: the request body must be an object under '{root}'", "InvalidValue"))
        return body[root]

    # tickets

    async def _check_fields(self, fields: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        errors: dict[str, list[dict[str, str]]] = {}
        if "status" in fields and fields["status"] not in STATUSES:
            errors |= _detail("status", f"Status: '{fields['status']}' is not one of {', '.join(STATUSES)}", "InvalidValue")
        if fields.get("priority") is not None and fields["priority"] not in PRIORITIES:
            errors |= _detail("priority", f"Priority: '{fields['priority']}' is not one of {', '.join(PRIORITIES)}", "InvalidValue")
        if fields.get("type") is not None and fields["type"] not in TYPES:
            errors |= _detail("type", f"Type: '{fields['type']}' is not one of {', '.join(TYPES)}", "InvalidValue")
        for key in ("assignee_id", "submitter_id"):
            if fields.get(key) is not None and await self.store.user(fields[key]) is None:
                name = key.removesuffix("_id")
                errors |= _detail(name, f"{name.capitalize()}: user {fields[key]} does not exist", "InvalidValue")
        if "tags" in fields and not (isinstance(fields["tags"], list) and all(isinstance(t, str) for t in fields["tags"])):
            errors |= _detail("tags", "Tags: must be a list of strings", "InvalidValue")
        return errors

    async def _comment_event(self, comment: dict[str, Any]) -> dict[str, Any]:
        """A comment as its audit lists it: a ``Comment`` event."""
        shown = ("author_id", "body", "html_body", "plain_body", "public", "attachments", "audit_id")
        return {"id": await self.store.next_id("event"), "type": "Comment", **{k: comment[k] for k in shown}}

    async def _comment(self, ticket_id: int, audit_id: int, given: dict[str, Any], author_id: int) -> dict[str, Any]:
        body = str(given.get("body") or "")
        return await self.store.add_comment(ticket_id, {
            "type": "Comment", "author_id": author_id, "body": body, "html_body": given.get("html_body") or _html_body(body),
            "plain_body": body, "public": bool(given.get("public", True)), "attachments": [], "audit_id": audit_id,
            "via": _via(), "created_at": self.store.clock(), "metadata": {"system": {}, "custom": {}},
        })

    async def create_ticket(self, request: web.Request) -> web.Response:
        given = await self._body(request, "ticket")
        if isinstance(given, web.Response):
            return given
        comment = given.get("comment") if isinstance(given.get("comment"), dict) else {}
        errors = await self._check_fields(given)
        if not str(comment.get("body") or comment.get("html_body") or "").strip():
            errors |= _detail("base", "Description: cannot be blank", "BlankValue")
        requester_id = given.get("requester_id")
        requester = given.get("requester")
        if requester_id is None and isinstance(requester, dict) and requester.get("email"):
            found = await self.store.user_by_email(requester["email"])
            found = found or await self.store.add_user(self._new_user(requester.get("name") or requester["email"], requester["email"]))
            requester_id = found["id"]
        if requester_id is None:
            requester_id = self.agent_id  # Zendesk makes the caller the requester when none is named
        elif await self.store.user(requester_id) is None:
            errors |= _detail("requester", f"Requester: user {requester_id} does not exist", "InvalidValue")
        if errors:
            return invalid(errors)
        now = self.store.clock()
        submitter_id = given.get("submitter_id") or self.agent_id
        assignee_id = given.get("assignee_id")
        status = given.get("status") or ("open" if assignee_id else "new")
        subject = str(given.get("subject") or "")
        body = str(comment.get("body") or comment.get("html_body"))
        ticket = await self.store.add_ticket({
            "external_id": given.get("external_id"), "type": given.get("type"), "subject": subject, "raw_subject": subject,
            "description": body, "priority": given.get("priority"), "status": status,
            "custom_status_id": CUSTOM_STATUS_IDS[status], "recipient": None, "from_messaging_channel": False,
            "requester_id": requester_id, "submitter_id": submitter_id, "assignee_id": assignee_id,
            "organization_id": None, "group_id": given.get("group_id"), "collaborator_ids": [], "follower_ids": [],
            "email_cc_ids": [], "problem_id": None, "has_incidents": False, "is_public": bool(comment.get("public", True)),
            "due_at": None, "tags": list(given.get("tags") or []),
            "custom_fields": [{"id": f["id"], "value": f.get("value")} for f in given.get("custom_fields") or []],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "via": _via(), "created_at": now, "updated_at": now,
            "allow_channelback": False, "allow_attachments": True,
        })
        audit_id = await self.store.next_id("audit")
        made = await self._comment(ticket["id"], audit_id, comment, author_id=submitter_id)
        events = [await self._comment_event(made)]
        events += [{"id": await self.store.next_id("event"), "type": "Create", "field_name": name, "value": _event_value(ticket[name])}
                   for name in ("subject", "status", "priority", "requester_id", "tags") if ticket[name] not in (None, "", [])]
        audit = await self._audit(ticket["id"], audit_id, submitter_id, events)
        await webhooks.enqueue(self.store.db, "zendesk", "zen:event-type:ticket.created", lambda: ticket_event(
            "ticket.created", ticket, submitter_id, sequence=audit_id, event={"meta": _meta(audit_id, 1, 1)}))
        return web.json_response({"ticket": self.ticket_view(request, ticket), "audit": audit}, status=201)

    async def _audit(self, ticket_id: int, audit_id: int, author_id: int, events: list[dict[str, Any]]) -> dict[str, Any]:
        audit = {"id": audit_id, "ticket_id": ticket_id, "created_at": self.store.clock(), "author_id": author_id,
                 "metadata": {"system": {}, "custom": {}}, "via": _via(), "events": events}
        return await self.store.add_audit(ticket_id, audit)

    async def _ticket(self, request: web.Request, *, lock: bool = False) -> dict[str, Any] | None:
        return await self.store.ticket(int(request.match_info["id"]), lock=lock)

    async def show_ticket(self, request: web.Request) -> web.Response:
        if (ticket := await self._ticket(request)) is None:
            return not_found()
        return web.json_response({"ticket": self.ticket_view(request, ticket)})

    async def update_ticket(self, request: web.Request) -> web.Response:
        if (ticket := await self._ticket(request, lock=True)) is None:
            return not_found()
        given = await self._body(request, "ticket")
        if isinstance(given, web.Response):
            return given
        if ticket["status"] == "closed":
            return invalid(_detail("base", "Status: closed prevents ticket update", "ClosedTicket"))
        errors = await self._check_fields(given)
        comment = given.get("comment")
        if comment is not None and not (isinstance(comment, dict) and str(comment.get("body") or comment.get("html_body") or "").strip()):
            errors |= _detail("base", "Comment: cannot be blank", "BlankValue")
        if given.get("status") == "new" and ticket["status"] != "new":
            errors |= _detail("status", f"Status: cannot go back to new from {ticket['status']}", "InvalidValue")
        if errors:
            return invalid(errors)
        audit_id = await self.store.next_id("audit")
        events: list[dict[str, Any]] = []
        previous_status = ticket["status"]
        if comment is not None:
            made = await self._comment(ticket["id"], audit_id, comment, author_id=comment.get("author_id") or self.agent_id)
            events.append(await self._comment_event(made))
        changes = {k: given[k] for k in CHANGEABLE if k in given}
        if changes.get("assignee_id") and ticket["status"] == "new" and "status" not in changes:
            changes["status"] = "open"  # as Zendesk does when a new ticket gets an assignee
        for name, value in changes.items():
            if ticket[name] != value:
                events.append({"id": await self.store.next_id("event"), "type": "Change", "field_name": name,
                               "value": _event_value(value), "previous_value": _event_value(ticket[name])})
                ticket[name] = value
        ticket["custom_status_id"] = CUSTOM_STATUS_IDS[ticket["status"]]
        if "subject" in changes:
            ticket["raw_subject"] = ticket["subject"]
        ticket["updated_at"] = self.store.clock()
        await self.store.replace_ticket(ticket)
        audit = await self._audit(ticket["id"], audit_id, self.agent_id, events)
        await self._send_update_events(ticket, audit_id, changes, made if comment is not None else None, previous_status)
        return web.json_response({"ticket": self.ticket_view(request, ticket), "audit": audit})

    async def _send_update_events(self, ticket: dict[str, Any], audit_id: int, changes: dict[str, Any], made: dict[str, Any] | None, previous_status: str) -> None:
        """The update's webhook events, as Zendesk's event webhooks send them: one per comment added and
        per status change, in one sequence (the audit)."""
        sent: list[tuple[str, dict[str, Any]]] = []
        if made is not None:
            author = await self.store.user(made["author_id"]) or {}
            sent.append(("ticket.comment_added", {"comment": {
                "id": str(made["id"]), "body": made["body"], "is_public": made["public"],
                "author": {"id": str(made["author_id"]), "is_staff": author.get("role") in ("agent", "admin"), "name": author.get("name", "")}}}))
        if ticket["status"] != previous_status:
            sent.append(("ticket.status_changed", {"current": ticket["status"].upper(), "previous": previous_status.upper()}))
        for position, (kind, event) in enumerate(sent, start=1):
            await webhooks.enqueue(self.store.db, "zendesk", f"zen:event-type:{kind}", lambda kind=kind, event=event, position=position: ticket_event(
                kind, ticket, self.agent_id, sequence=audit_id, event={**event, "meta": _meta(audit_id, position, len(sent))}))

    async def list_tickets(self, request: web.Request) -> web.Response:
        tickets = [self.ticket_view(request, t) for t in await self.store.tickets()]
        return self._page(request, "tickets", tickets, f"{self.base(request)}/tickets.json")

    async def list_comments(self, request: web.Request) -> web.Response:
        if (ticket := await self._ticket(request)) is None:
            return not_found()
        comments = await self.store.comments(ticket["id"])
        if request.query.get("sort_order") == "desc" or request.query.get("sort") == "-created_at":
            comments.reverse()
        return self._page(request, "comments", comments, f"{self.base(request)}/tickets/{ticket['id']}/comments.json")

    def _page(self, request: web.Request, root: str, items: list[dict[str, Any]], url: str) -> web.Response:
        """Cursor paging when ``page[size]`` is given (``page[after]``/``page[before]``), else
        Zendesk's offset paging (``page``/``per_page``, ``next_page``, ``count``)."""
        query = request.query
        if "page[size]" not in query:
            try:
                per_page, number = min(int(query.get("per_page", MAX_PAGE_SIZE)), MAX_PAGE_SIZE), int(query.get("page", 1))
            except ValueError:
                return bad_page("page and per_page must be integers")
            start = (number - 1) * per_page
            more = start + per_page < len(items)
            return web.json_response({root: items[start : start + per_page], "count": len(items),
                                      "next_page": f"{url}?page={number + 1}&per_page={per_page}" if more else None,
                                      "previous_page": f"{url}?page={number - 1}&per_page={per_page}" if number > 1 else None})
        try:
            size = int(query["page[size]"])
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            return bad_page(f"page[size] must be between 1 and {MAX_PAGE_SIZE}, not {query['page[size]']!r}")
        ids = [item["id"] for item in items]
        try:
            if after := query.get("page[after]"):
                start = ids.index(_decode_cursor(after)) + 1
                stop = start + size
            elif before := query.get("page[before]"):
                stop = ids.index(_decode_cursor(before))
                start = max(stop - size, 0)
            else:
                start, stop = 0, size
        except ValueError:
            return bad_page("page[after] or page[before] is not a cursor of this list")
        page = items[start:stop]
        after_cursor = _encode_cursor(page[-1]["id"]) if page else None
        before_cursor = _encode_cursor(page[0]["id"]) if page else None
        return web.json_response({
            root: page,
            "meta": {"has_more": stop < len(items), "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {"prev": f"{url}?page[before]={before_cursor}&page[size]={size}" if before_cursor else None,
                      "next": f"{url}?page[after]={after_cursor}&page[size]={size}" if after_cursor else None},
        })

    # users

    async def show_user(self, request: web.Request) -> web.Response:
        if (user := await self.store.user(int(request.match_info["id"]))) is None:
            return not_found()
        return web.json_response({"user": self.user_view(request, user)})

    async def create_user(self, request: web.Request) -> web.Response:
        given = await self._body(request, "user")
        if isinstance(given, web.Response):
            return given
        errors: dict[str, list[dict[str, str]]] = {}
        if not str(given.get("name") or "").strip():
            errors |= _detail("name", "Name: cannot be blank", "BlankValue")
        email = str(given.get("email") or "")
        if email and "@" not in email:
            errors |= _detail("email", f"Email: {email} is not properly formatted", "InvalidFormat")
        elif email and await self.store.user_by_email(email):
            errors |= _detail("email", f"Email: {email} is already being used by another user", "DuplicateValue")
        if errors:
            return invalid(errors)
        role = given.get("role") if given.get("role") in ("end-user", "agent", "admin") else "end-user"
        user = await self.store.add_user(self._new_user(given["name"], email, role=role))
        return web.json_response({"user": self.user_view(request, user)}, status=201)

    # test hooks

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        status = body.get("status")
        if not isinstance(status, int) or not 400 <= status <= 599:
            return web.json_response({"error": f"fault 'status' must be an HTTP error status 400-599, not {status!r}"}, status=400)
        fault = Fault(status=status, retry_after=body.get("retry_after"), times=int(body.get("times", 1)),
                      method=body.get("method"), path=body.get("path"))
        self.faults.append(fault)
        return web.json_response({"faults": len(self.faults)}, status=201)

    async def reset(self, request: web.Request) -> web.Response:
        self.faults.clear()
        async with self.store.transaction() as store:
            await self.bound(store).seed()
            users = await store.count_users()
        return web.json_response({"users": users, "tickets": 0})


def _encode_cursor(item_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{item_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("id:"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a cursor: {cursor!r}") from exc


#: Where a test finds the :class:`ZendeskSandbox` behind an application.
SANDBOX: web.AppKey[ZendeskSandbox] = web.AppKey("sandbox", ZendeskSandbox)
#: The account bound to one API request (its transaction, its agent): what the route handlers run on.
ACCOUNT = web.RequestKey("zendesk_account", ZendeskSandbox)


def _door(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A route to the handler ``name`` of the account bound to the request (by the gate)."""

    async def door(request: web.Request) -> web.StreamResponse:
        return await getattr(request[ACCOUNT], name)(request)

    return door


def create_app(settings: ZendeskSettings | None, store: ZendeskStore, sandbox: type[ZendeskSandbox] = ZendeskSandbox) -> web.Application:
    """The simulator as an aiohttp application over ``store`` (whose database the caller opens:
    ``main`` opens it at startup); ``app[SANDBOX]`` is its :class:`ZendeskSandbox`."""
    account = sandbox(settings or ZendeskSettings(), store)
    app = account.app()
    app[SANDBOX] = account
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.sandbox.zendesk",
                                     description="A Zendesk Support Tickets API simulator, its state in DATABASE_URL "
                                                 "(schema SANDBOX_SCHEMA, default sandbox).")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8093)")
    parser.add_argument("--email", help="the agent whose API token is accepted ({email}/token:{token})")
    parser.add_argument("--token", help="the API token accepted for that agent")
    parser.add_argument("--oauth-token", help="an OAuth bearer token accepted as well")
    args = parser.parse_args(argv)
    given = {"host": args.host, "port": args.port, "email": args.email, "api_token": args.token,
             "oauth_token": args.oauth_token}
    settings = ZendeskSettings(**{k: v for k, v in given.items() if v is not None})
    database = server.database(os.environ.get("DATABASE_URL"), os.environ.get("SANDBOX_SCHEMA", server.SCHEMA))
    app = create_app(settings, ZendeskStore(SandboxState(database)))

    async def database_open(app: web.Application) -> AsyncIterator[None]:  # before the account is opened
        await database.open()
        yield
        await database.close()

    app.cleanup_ctx.append(database_open)
    web.run_app(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
