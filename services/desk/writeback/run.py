"""Writing our events on their upstream tickets, each step exactly once despite crashes and
redeliveries (``WriteBacks.write``).

Each step of the plan is recorded before the vendor is called (intent) and after it answered (the
vendor's ids). A step found with its intent but no outcome is one a crash interrupted: the comment
or child it may have made is looked for upstream by its marker and adopted rather than made twice;
state changes (resolve, reassign) are applied again, which changes nothing the second time. 429,
5xx and an unreachable system are retried (tenacity, ``VendorWait``: the vendor's ``Retry-After``
first), a bounded number of times; a refusal, a missing ticket, a missing configuration or
credential, or retries run out end the write-back with ``ticket.write_back_failed`` naming what was
already done. The outcome is kept, so a redelivered event yields the same event again."""

from __future__ import annotations

from dataclasses import replace

from collections.abc import Awaitable, Callable
import asyncpg
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from contracts.envelope import Actor, Envelope
from contracts.events import Child, TicketWriteBackFailed, TicketWrittenBack, WriteBack, WriteBackFailure
from runtime import logs
from runtime.vendor.errors import ApiError
from runtime.vendor.retries import VendorWait, transient
from services.desk.config import DeskConfig, Resolve
from services.desk.writeback import NotConfigured, notes
from services.desk.writeback.clients import Clients, Writer
from services.desk.writeback.plan import Op, UpstreamTicket, plan

log = logs.get(__name__)

SOURCE, ACTOR = "/services/desk", Actor.system("desk")


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(op: Op, ticket: UpstreamTicket, ref: str, *, adopted: bool) -> str:
    """What a step did, in words, with the vendor's ids."""
    earlier = " (found, made by an earlier try)" if adopted else ""
    if op.kind == "comment":
        what = "public comment" if op.public else "internal note"
        return _short(f"{what} on {ticket}: {ref}{earlier}")
    if op.kind == "resolve":
        return _short(f"resolved {ticket}: {ref}")
    if op.kind == "reassign":
        return _short(f"reassigned {ticket} to {ref}")
    return _short(f"created {ref} for {op.title[:200]!r}, linked to {ticket}{earlier}")


def failure_code(exc: Exception) -> str:
    if isinstance(exc, NotConfigured):
        return "not_configured"
    if isinstance(exc, ApiError) and exc.status == 404:
        return "not_found"
    if isinstance(exc, ApiError) and exc.transient:
        return "unreachable"
    return "refused"


class WriteBacks:
    """Writes events back on an asyncpg ``pool`` (the desk's schema, migration 0003) through ``clients``."""

    def __init__(self, pool: asyncpg.Pool, clients: Clients, config: DeskConfig, *, attempts: int = 5, cap_s: float = 30.0, backoff_s: float = 0.5) -> None:
        self.pool, self.clients, self.config = pool, clients, config
        self.attempts, self.cap_s, self.backoff_s = attempts, cap_s, backoff_s

    async def write(self, event: Envelope, ticket: UpstreamTicket) -> Envelope:
        """Write ``event`` (question, resolved, escalated, split) on ``ticket``; the event to publish:
        ``TicketWrittenBack`` or ``TicketWriteBackFailed``. Call it one event at a time per ticket."""
        stored = await self.pool.fetchrow("SELECT outcome, envelope FROM writeback_results WHERE event_id = $1", event.id)
        if stored is not None:
            kind = TicketWrittenBack if stored["outcome"] == "written" else TicketWriteBackFailed
            return kind.model_validate_json(stored["envelope"])
        ops = plan(event, ticket, self.config)
        if not ops:
            raise ValueError(f"event {event.id} is a {event.type}: nothing of it is written back upstream")
        upstream = event.upstream or ticket.ref
        base = {"ticket_id": event.data.ticket_id, "upstream": upstream, "cause_type": event.type, "cause_id": event.id}
        done: list[str] = []
        created: list[tuple[Child, str]] = []
        tries = 1
        bound = log.bind(ticket_id=base["ticket_id"], event_id=event.id, upstream=upstream)
        try:
            writer = self.clients.get(ticket.system)
            for op in ops:
                ref, action, took = await self._step(writer, event, ticket, op, created)
                tries = max(tries, took)
                done.append(action)
                if op.kind == "create_child" and op.child is not None:
                    created.append((op.child, ref))
            result: Envelope = event.caused(TicketWrittenBack, WriteBack(**base, actions=done, attempts=tries), source=SOURCE, actor=ACTOR)
            bound.info("written back", actions=done)
            outcome = "written"
        except (ApiError, NotConfigured) as exc:
            code = failure_code(exc)
            took = getattr(exc, "tries", tries)
            reason = _short(f"{ticket}: {exc}")
            result = event.caused(TicketWriteBackFailed, WriteBackFailure(**base, reason_code=code, reason=reason, done=done, attempts=max(tries, took)),
                                  source=SOURCE, actor=ACTOR)
            bound.warning("write-back failed", reason_code=code, reason=reason, done=done)
            outcome = "failed"
        await self.pool.execute(
            "INSERT INTO writeback_results (event_id, upstream, outcome, envelope) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            event.id, upstream, outcome, result.model_dump_json(),
        )
        return result

    async def children(self, event_id: str, parent: UpstreamTicket) -> list[UpstreamTicket]:
        """The tickets a split's write-back made upstream, in the order of the split's parts."""
        rows = await self.pool.fetch("SELECT ref FROM writeback_ops WHERE event_id = $1 AND kind = 'create_child' AND state = 'done' ORDER BY op_index", event_id)
        return [child_of(parent, row["ref"]) for row in rows]

    async def _step(self, writer: Writer, event: Envelope, ticket: UpstreamTicket, op: Op, created: list[tuple[Child, str]]) -> tuple[str, str, int]:
        """One step exactly once: (the vendor's ref, the action in words, tries it took)."""
        row = await self.pool.fetchrow("SELECT state, ref, action, tries FROM writeback_ops WHERE event_id = $1 AND op_index = $2", event.id, op.index)
        if row is not None and row["state"] == "done":
            return row["ref"], row["action"], max(1, row["tries"])
        recovering = row is not None
        if not recovering:
            await self.pool.execute(
                "INSERT INTO writeback_ops (event_id, op_index, upstream, kind, state) VALUES ($1, $2, $3, $4, 'intent') ON CONFLICT DO NOTHING",
                event.id, op.index, event.upstream or ticket.ref, op.kind,
            )
        if op.children:  # the split's note names the children made before it
            op = Op(op.index, op.kind, notes.finish(notes.split(event.data, created), event.id, ticket.system), public=op.public, marker=op.marker)
        ref, adopted, tries = await self._retrying(lambda: self._apply(writer, ticket, op, recovering))
        action = describe(op, ticket, ref, adopted=adopted)
        await self._record_done(event.id, op.index, ref, action, tries)
        return ref, action, tries

    async def _apply(self, writer: Writer, ticket: UpstreamTicket, op: Op, recovering: bool) -> tuple[str, bool]:
        """Call the vendor for ``op``: (its ref, whether an earlier try's was adopted)."""
        if op.kind == "comment":
            if recovering and (found := await writer.find_comment(ticket, op.marker)) is not None:
                return found, True
            return await writer.comment(ticket, op.text, public=op.public), False
        if op.kind == "create_child":
            if recovering and (found := await writer.find_child(ticket, op.marker)) is not None:
                return found, True
            return await writer.create_child(ticket, op.title, op.text, op.marker), False
        if op.kind == "resolve":
            return await writer.resolve(ticket, op.text, self._resolve(ticket)), False
        assert op.group is not None
        return await writer.reassign(ticket, op.group), False

    def _resolve(self, ticket: UpstreamTicket) -> Resolve:
        found = self.config.system(ticket.system)
        return found.resolve if found is not None else Resolve()

    async def _retrying(self, call: Callable[[], Awaitable[tuple[str, bool]]]) -> tuple[str, bool, int]:
        retrying = AsyncRetrying(stop=stop_after_attempt(self.attempts), wait=VendorWait(self.backoff_s, self.cap_s), retry=retry_if_exception(transient), reraise=True)
        tries = 0
        try:
            async for attempt in retrying:
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    ref, adopted = await call()
        except ApiError as exc:
            exc.tries = tries  # type: ignore[attr-defined]
            raise
        return ref, adopted, tries

    async def _record_done(self, event_id: str, index: int, ref: str, action: str, tries: int) -> None:
        """The outcome of a step (a crash before this is what recovery is for)."""
        await self.pool.execute(
            "UPDATE writeback_ops SET state = 'done', ref = $3, action = $4, tries = $5, done_at = now() WHERE event_id = $1 AND op_index = $2",
            event_id, index, ref, action, tries,
        )



def child_of(parent: UpstreamTicket, ref: str) -> UpstreamTicket:
    """A child ticket from the ref its creation returned: Jira's ``KEY (id)``, ServiceNow's
    ``NUMBER (sys_id)``, Zendesk's ``#id``; in the parent's project, for the parent's requester."""
    if parent.system in ("jira", "servicenow"):
        key, _, native = ref.partition(" (")
        return replace(parent, native_id=native.rstrip(")"), key=key)
    native = ref.lstrip("#")
    return replace(parent, native_id=native, key=native)
