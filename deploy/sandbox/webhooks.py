"""Outbound webhooks of the simulated Jira, ServiceNow and Zendesk, sent as each vendor sends them.

A subscription (``POST /_sandbox/webhooks``: system, URL, secret, optional events) is what the
vendor's administrator registers. A change's vendor module calls :func:`enqueue` in the change's own
transaction: one delivery per matching subscription lands in the outbox table
(``sandbox_webhook_deliveries``) and commits with the change, or not at all. The :class:`Dispatcher`
sends them after the commit, from a task of its own, so a slow or failing receiver never delays or
fails the API request; a non-2xx answer or a connection error is retried with exponential backoff,
every attempt recorded, and a delivery given up after ``attempts`` tries is ``failed``.

Each system signs as the vendor does (:data:`SIGNERS`), over the exact body sent:

- Jira: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>``,
  ``X-Atlassian-Webhook-Identifier`` (one per delivery, the same on every retry) and
  ``X-Atlassian-Webhook-Retry`` (the retry's number) on retries.
- ServiceNow (a business rule with ``sn_ws.RESTMessageV2``, its headers as the rule sets them):
  ``X-Workforce-Signature: <hex HMAC-SHA256(secret, body)>``, ``X-Workforce-Delivery: <sys_id>:<sys_mod_count>``.
- Zendesk: ``X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(secret, timestamp + body))`` with
  ``X-Zendesk-Webhook-Signature-Timestamp`` (the attempt's time, so each retry is signed afresh)
  and ``X-Zendesk-Webhook-Id`` (the subscription).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import httpx
from pydantic import BaseModel, Field, HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime import logs

log = logs.get("sandbox.webhooks")

System = Literal["jira", "servicenow", "zendesk"]
#: The events each system sends (a subscription's ``events`` is a subset of these).
EVENTS: dict[str, tuple[str, ...]] = {
    "jira": ("jira:issue_created", "jira:issue_updated", "comment_created"),
    "servicenow": ("insert", "update"),
    "zendesk": ("zen:event-type:ticket.created", "zen:event-type:ticket.comment_added", "zen:event-type:ticket.status_changed"),
}


class WebhookSettings(BaseSettings):
    """How hard the simulator tries (``SANDBOX_WEBHOOK_*``): vendors retry a failed delivery a few
    times, further apart each time."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_WEBHOOK_")

    attempts: int = Field(default=5, ge=1, le=20)  # tries in all, the first included
    backoff_s: float = Field(default=2.0, gt=0)  # the wait before the first retry; doubled each time
    timeout_s: float = Field(default=10.0, gt=0)  # a receiver slower than this is an error
    poll_s: float = Field(default=1.0, gt=0)  # how often due retries are looked for when nothing wakes it


class Subscription(BaseModel):
    system: System
    url: HttpUrl
    secret: str = Field(min_length=1, max_length=500)
    events: list[str] | None = None


# -- subscriptions -----------------------------------------------------------------------------------


def _subscription(row: asyncpg.Record) -> dict[str, Any]:
    return {"id": row["id"], "system": row["system"], "url": row["url"], "events": row["events"], "created": row["created"].isoformat()}


async def subscribe(conn: asyncpg.Connection, spec: Subscription) -> dict[str, Any]:
    """Register a subscription; an event the system does not send is refused (ValueError names it)."""
    if spec.events is not None and (unknown := [e for e in spec.events if e not in EVENTS[spec.system]]):
        raise ValueError(f"{spec.system} sends no event {unknown[0]!r}; it sends {', '.join(EVENTS[spec.system])}")
    row = await conn.fetchrow(
        "INSERT INTO sandbox_webhooks (system, url, secret, events) VALUES ($1, $2, $3, $4) RETURNING id, system, url, events, created",
        spec.system, str(spec.url), spec.secret, spec.events,
    )
    return _subscription(row)


async def subscriptions(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every subscription (never its secret, which is shown to no one once registered)."""
    return [_subscription(r) for r in await conn.fetch("SELECT id, system, url, events, created FROM sandbox_webhooks ORDER BY id")]


async def unsubscribe(conn: asyncpg.Connection, webhook_id: int) -> bool:
    return await conn.fetchval("DELETE FROM sandbox_webhooks WHERE id = $1 RETURNING true", webhook_id) is not None


# -- the outbox ----------------------------------------------------------------------------------------


async def enqueue(conn: asyncpg.Connection | asyncpg.Pool, system: str, event: str, payload: dict[str, Any] | Callable[[], dict[str, Any]], *, key: str | None = None) -> int:
    """Queue ``payload`` for every subscription of ``system`` that wants ``event``, in ``conn``'s
    transaction; return how many. ``key``: the vendor's delivery identifier (ServiceNow's
    ``sys_id:sys_mod_count``), else a new one per delivery. ``payload`` may be a function, called
    only when someone subscribed."""
    rows = await conn.fetch("SELECT id FROM sandbox_webhooks WHERE system = $1 AND (events IS NULL OR $2 = ANY(events)) ORDER BY id", system, event)
    if not rows:
        return 0
    body = json.dumps(payload() if callable(payload) else payload, separators=(",", ":"), ensure_ascii=False)
    for row in rows:
        await conn.execute(
            "INSERT INTO sandbox_webhook_deliveries (webhook_id, system, event, key, body)"
            " VALUES ($1, $2, $3, coalesce($4, gen_random_uuid()::text), $5)",
            row["id"], system, event, key, body,
        )
    return len(rows)


async def deliveries(conn: asyncpg.Connection, *, system: str | None = None, webhook_id: int | None = None) -> list[dict[str, Any]]:
    """What was sent (or is still being tried), oldest first: the event, its body, status, attempts."""
    rows = await conn.fetch(
        "SELECT id, webhook_id, system, event, key, body, status, attempts, created, delivered FROM sandbox_webhook_deliveries"
        " WHERE ($1::text IS NULL OR system = $1) AND ($2::bigint IS NULL OR webhook_id = $2) ORDER BY id",
        system, webhook_id,
    )
    return [
        {"id": r["id"], "webhook_id": r["webhook_id"], "system": r["system"], "event": r["event"], "key": r["key"], "status": r["status"],
         "attempts": len(tried := json.loads(r["attempts"])), "tries": tried, "payload": json.loads(r["body"]),
         "created": r["created"].isoformat(), "delivered": r["delivered"].isoformat() if r["delivered"] else None}
        for r in rows
    ]


# -- signing, as each vendor signs -----------------------------------------------------------------------


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def jira_headers(secret: str, body: bytes, key: str, attempt: int, webhook_id: int) -> dict[str, str]:
    headers = {"X-Hub-Signature": f"sha256={_hex(secret, body)}", "X-Atlassian-Webhook-Identifier": key, "User-Agent": "Atlassian Webhook HTTP Client"}
    if attempt > 1:
        headers["X-Atlassian-Webhook-Retry"] = str(attempt - 1)
    return headers


def servicenow_headers(secret: str, body: bytes, key: str, attempt: int, webhook_id: int) -> dict[str, str]:
    return {"X-Workforce-Signature": _hex(secret, body), "X-Workforce-Delivery": key, "User-Agent": "ServiceNow/1.0"}


def zendesk_headers(secret: str, body: bytes, key: str, attempt: int, webhook_id: int) -> dict[str, str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return {"X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Id": f"01SANDBOX{webhook_id:017d}", "User-Agent": "Zendesk Webhook"}


SIGNERS = {"jira": jira_headers, "servicenow": servicenow_headers, "zendesk": zendesk_headers}


# -- sending --------------------------------------------------------------------------------------------


class Dispatcher:
    """Sends the outbox: each due delivery is claimed (its ``due`` pushed past the timeout, so no
    other dispatcher on the schema takes it meanwhile), sent outside any transaction, and its attempt
    recorded: delivered on a 2xx, else due again after the backoff, or failed after the last try."""

    def __init__(self, pool: asyncpg.Pool, settings: WebhookSettings | None = None, client: httpx.AsyncClient | None = None) -> None:
        self.pool, self.settings = pool, settings or WebhookSettings()
        self.client = client or httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)
        self.wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.send_due()
            except (OSError, asyncpg.PostgresError) as exc:  # the database is away: try again at the next tick
                log.warning("webhook dispatch skipped a round", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.poll_s)
            self.wake.clear()

    async def send_due(self) -> None:
        lease = self.settings.timeout_s + 5
        rows = await self.pool.fetch(
            "UPDATE sandbox_webhook_deliveries d SET due = now() + make_interval(secs => $1)"
            " FROM sandbox_webhooks w WHERE w.id = d.webhook_id AND d.id IN ("
            "   SELECT id FROM sandbox_webhook_deliveries WHERE status = 'pending' AND due <= now() ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED)"
            " RETURNING d.id, d.webhook_id, d.system, d.key, d.body, jsonb_array_length(d.attempts) AS tried, w.url, w.secret",
            lease,
        )
        for row in sorted(rows, key=lambda r: r["id"]):
            task = asyncio.create_task(self._send(row))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, row: asyncpg.Record) -> None:
        attempt = row["tried"] + 1
        body = row["body"].encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **SIGNERS[row["system"]](row["secret"], body, row["key"], attempt, row["webhook_id"])}
        started, status, error = time.perf_counter(), None, None
        try:
            response = await self.client.post(row["url"], content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        tried = {"at": datetime.now(UTC).isoformat(), "status": status, "error": error, "ms": round((time.perf_counter() - started) * 1000, 1)}
        delivered = status is not None and 200 <= status < 300
        outcome = "delivered" if delivered else "failed" if attempt >= self.settings.attempts else "pending"
        wait = self.settings.backoff_s * 2 ** (attempt - 1)
        await self.pool.execute(
            "UPDATE sandbox_webhook_deliveries SET attempts = attempts || $2::jsonb, status = $3,"
            " due = now() + make_interval(secs => $4), delivered = CASE WHEN $3 = 'delivered' THEN now() END WHERE id = $1",
            row["id"], json.dumps([tried]), outcome, wait,
        )
        log.info("webhook attempt", delivery=row["id"], system=row["system"], attempt=attempt, status=status, error=error, outcome=outcome)
        if outcome == "pending":
            asyncio.get_running_loop().call_later(wait, self.wake.set)

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=5)
        await self.client.aclose()


@contextlib.asynccontextmanager
async def dispatching(pool: asyncpg.Pool, settings: WebhookSettings | None = None) -> AsyncIterator[Dispatcher]:
    """A dispatcher running until the block ends (the simulator's lifetime)."""
    dispatcher = Dispatcher(pool, settings)
    runner = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        runner.cancel()
        await asyncio.wait({runner}, timeout=5)  # a query cancelled mid-flight must not hold the shutdown
        await asyncio.wait_for(dispatcher.close(), 10)
