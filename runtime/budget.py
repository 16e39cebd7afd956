"""Budgets for callers of models: reserve before the call, commit after, in-process and cheap.

Billing is the only writer of budget truth. It grants this process (a *holder*) leases: slices of
what remains of every budget that applies to a kind of call (team, coworker, skill), and, when a
per-ticket cap applies, of that ticket's cap. A call reserves its worst-case cost against its
leases (a few dictionary operations, no I/O), then commits its actual cost, which travels on the
``llm.usage`` event with the lease ids. Billing never grants more than remains, so however many calls
run at once, in however many processes, no budget is overspent; at the limit the grant is zero and
the call is refused with the budget's reason.

Only the first call of a kind (and the first of each capped ticket) waits for billing: one round
trip through Kafka, shared by every call waiting for the same lease. Leases expire; one is used only
while a whole call still fits before its expiry, and is returned (what was spent on it, the rest
back to the budgets) when it expires or the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import codec
from contracts.envelope import Actor, Envelope
from contracts.events import BudgetLeaseGranted, BudgetLeaseRequested, BudgetLeaseReturned, LeaseGrant, LeaseRequest, LeaseReturn, Price
from contracts.topics import BUDGET_LEASE_GRANTED, BUDGET_LEASE_REQUESTED, BUDGET_LEASE_RETURNED, Topic
from runtime import header_keys, logs
from runtime.fetching import FetchPace
from runtime.settings import ServiceSettings
from runtime.signing import Keyring, Refusal, Signer

log = logs.get(__name__)
ZERO = Decimal(0)


class BudgetRefused(Exception):
    """The call may not be made: a budget that applies is spent (the message names it), or billing
    could not be asked. Nothing was reserved."""


@dataclass
class Lease:
    grant: LeaseGrant
    team: str
    deadline: float  # monotonic time after which it must not be used at all
    reserved: Decimal = ZERO
    used: Decimal = ZERO
    calls: int = 0
    inflight: int = 0
    returned: bool = False

    @property
    def id(self) -> str:
        return self.grant.lease_id

    @property
    def unlimited(self) -> bool:
        return self.grant.amount_usd is None

    @property
    def free(self) -> Decimal:
        if self.grant.amount_usd is None:
            return Decimal("Infinity")
        return self.grant.amount_usd - self.reserved - self.used

    def usable(self, now: float, call_s: float) -> bool:
        return not self.returned and now + call_s < self.deadline


@dataclass
class Reservation:
    leases: list[Lease]
    estimate_usd: Decimal
    price: Price
    done: bool = False

    @property
    def lease_ids(self) -> list[str]:
        return [lease.id for lease in self.leases]


@dataclass
class _Key:
    kind: str
    team: str
    coworker: str | None
    skill: str | None
    ticket_id: str | None

    def tuple(self) -> tuple[str | None, ...]:
        return (self.kind, self.team, self.coworker, self.skill, self.ticket_id)


@dataclass
class _Slot:
    leases: list[Lease] = field(default_factory=list)
    pending: asyncio.Future[Lease] | None = None
    refused: tuple[float, str] | None = None  # (until, reason): not asked again before then


class BudgetClient:
    """One per process that calls models. ``reserve`` → call → ``commit`` (or ``release``)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        service: str,
        call_timeout_s: float,
        slice_usd: Decimal = Decimal("0.50"),
        slice_calls: int = 50,
        answer_timeout_s: float = 10.0,
        refusal_ttl_s: float = 1.0,
        holder: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.service = service
        self.holder = holder or f"{service}-{uuid.uuid4().hex[:12]}"
        self._holder_key = self.holder.encode()
        self._keyring: Keyring | None = None
        self._signer: Signer | None = None
        self.source = f"/services/{service}"
        self.actor = Actor.system(service)
        #: Grants come only after a request: a quiet client fetches rarely (runtime/fetching.py).
        self._pace = FetchPace.of(ServiceSettings())
        self.call_s = call_timeout_s + 2.0  # a whole call, and the time to emit its usage, must fit in a lease
        self.slice_usd, self.slice_calls = slice_usd, slice_calls
        self.answer_timeout_s, self.refusal_ttl_s = answer_timeout_s, refusal_ttl_s
        self._slots: dict[tuple[str | None, ...], _Slot] = {}
        self._waiting: dict[str, asyncio.Future[Lease]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Round trips to billing, for the benchmark and the logs.
        self.requests = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def _send(self, topic: Topic, event: Envelope[Any]) -> None:
        assert self._producer is not None and self._signer is not None
        key, value = topic.key(event), codec.encode(event)
        await self._producer.send_and_wait(topic.name, value, key=key, headers=self._signer.headers(topic.name, key, value, codec.HEADERS))

    async def start(self) -> None:
        self._keyring = Keyring.from_env()
        self._signer = self._keyring.signer(self.service)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=1, client_id=f"workforce-budget-{self.holder}")
        await self._producer.start()
        header_keys.install()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=self._pace.wait_ms, client_id=f"workforce-budget-{self.holder}")
        await self._consumer.start()
        partitions = [TopicPartition(BUDGET_LEASE_GRANTED.name, p) for p in range(BUDGET_LEASE_GRANTED.partitions)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end now: a grant for us can only come after our request
            await self._consumer.position(tp)
        self._tasks = [asyncio.create_task(self._follow(), name="budget-grants"), asyncio.create_task(self._sweep(), name="budget-sweep")]

    async def stop(self) -> None:
        """Return every lease (what was spent on it), then stop."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._return([lease for slot in self._slots.values() for lease in slot.leases if not lease.returned])
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    # --- the hot path -----------------------------------------------------------------------

    def try_reserve(self, team: str, *, coworker: str | None, skill: str | None, ticket_id: str | None, model: str, prompt_tokens: int, completion_tokens: int) -> Reservation | None:
        """Reserve the call's worst case against leases in hand, or None if a lease must be asked for
        first. Raises ``BudgetRefused`` while billing's last word on a needed lease was no."""
        now = time.monotonic()
        scope_slot = self._slots.get(("scope", team, coworker, skill, None))
        if scope_slot is None:
            return None
        scope = self._pick(scope_slot, now, model, prompt_tokens, completion_tokens)
        if scope is None:
            self._check_refused(scope_slot, now)  # no room in hand, and billing just said no
            return None
        price = scope.grant.prices[model]
        estimate = price.cost(prompt_tokens, completion_tokens)
        leases = [scope]
        if scope.grant.ticket_cap_usd is not None and ticket_id is not None:
            ticket_slot = self._slots.get(("ticket", team, coworker, None, ticket_id))
            if ticket_slot is None:
                return None
            ticket = next((lease for lease in ticket_slot.leases if lease.usable(now, self.call_s) and lease.free >= estimate), None)
            if ticket is None:
                self._check_refused(ticket_slot, now)
                return None
            leases.append(ticket)
        for lease in leases:
            lease.reserved += estimate
            lease.inflight += 1
        return Reservation(leases, estimate, price)

    def _pick(self, slot: _Slot, now: float, model: str, prompt_tokens: int, completion_tokens: int) -> Lease | None:
        for lease in slot.leases:
            if model in lease.grant.prices and lease.usable(now, self.call_s) and lease.free >= lease.grant.prices[model].cost(prompt_tokens, completion_tokens):
                return lease
        return None

    def _check_refused(self, slot: _Slot, now: float) -> None:
        if slot.refused is not None:
            until, reason = slot.refused
            if now < until:
                raise BudgetRefused(reason)
            slot.refused = None

    def commit(self, reservation: Reservation, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, latency_ms: float = 0.0) -> Decimal:
        """The call is over and these are its counts: book its actual cost against the leases.
        Returns the cost, as billing will price it (put it, and ``lease_ids``, on the usage event)."""
        cost = reservation.price.cost(prompt_tokens, completion_tokens, cached_tokens, seconds=latency_ms / 1000 if reservation.price.usd_per_second else 0.0)
        self._settle(reservation, cost)
        if cost > reservation.estimate_usd:
            log.error("a call cost more than its reservation; estimate an upper bound", estimate_usd=str(reservation.estimate_usd), cost_usd=str(cost), leases=reservation.lease_ids)
        return cost

    def release(self, reservation: Reservation) -> None:
        """The call did not happen (or returned no usage): free its reservation."""
        self._settle(reservation, None)

    def _settle(self, reservation: Reservation, cost: Decimal | None) -> None:
        if reservation.done:
            return
        reservation.done = True
        for lease in reservation.leases:
            lease.reserved -= reservation.estimate_usd
            lease.inflight -= 1
            if cost is not None:
                lease.used += cost
                lease.calls += 1

    # --- asking billing ---------------------------------------------------------------------

    async def reserve(self, team: str, *, coworker: str | None, skill: str | None = None, ticket_id: str | None = None, model: str, prompt_tokens: int, completion_tokens: int) -> Reservation:
        """``try_reserve``, asking billing for the leases it needs first (at most a few tries)."""
        for _ in range(4):
            reservation = self.try_reserve(team, coworker=coworker, skill=skill, ticket_id=ticket_id, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            if reservation is not None:
                return reservation
            scope_key = _Key("scope", team, coworker, skill, None)
            scope = await self._lease(scope_key, model, prompt_tokens, completion_tokens, None)
            if scope.grant.ticket_cap_usd is not None and ticket_id is not None:
                await self._lease(_Key("ticket", team, coworker, None, ticket_id), model, prompt_tokens, completion_tokens, scope.grant.ticket_cap_usd)
        raise BudgetRefused(f"no lease large enough for this call after 4 tries (team {team}, coworker {coworker}, ticket {ticket_id})")

    async def _lease(self, key: _Key, model: str, prompt_tokens: int, completion_tokens: int, cap: Decimal | None) -> Lease:
        """A usable lease for ``key`` with room for this call, asking billing if there is none."""
        slot = self._slots.setdefault(key.tuple(), _Slot())
        now = time.monotonic()
        for lease in slot.leases:
            if model in lease.grant.prices and lease.usable(now, self.call_s):
                estimate = lease.grant.prices[model].cost(prompt_tokens, completion_tokens)
                if lease.free >= estimate:
                    return lease
        self._check_refused(slot, now)
        if slot.pending is None or slot.pending.done():
            known = next((lease.grant.prices[model] for lease in slot.leases if model in lease.grant.prices), None)
            estimate = known.cost(prompt_tokens, completion_tokens) if known else ZERO
            amount = cap if cap is not None else max(self.slice_usd, estimate * self.slice_calls)
            slot.pending = asyncio.ensure_future(self._ask(key, amount, [model]))
        lease = await asyncio.shield(slot.pending)
        if lease.grant.amount_usd is not None and lease.grant.amount_usd <= 0:
            slot.refused = (time.monotonic() + self.refusal_ttl_s, lease.grant.reason)
            raise BudgetRefused(lease.grant.reason)
        return lease

    async def _ask(self, key: _Key, amount: Decimal, models: list[str]) -> Lease:
        assert self._producer is not None, "start() the budget client first"
        lease_id = str(uuid.uuid4())
        request = BudgetLeaseRequested.create(
            LeaseRequest(lease_id=lease_id, holder=self.holder, kind=key.kind, coworker=key.coworker, skill=key.skill, ticket_id=key.ticket_id, amount_usd=amount.quantize(Decimal("0.0000000001")), models=models),
            source=self.source,
            team=key.team,
            actor=self.actor,
            correlation_id=key.ticket_id or lease_id,
            subject=self.holder,
        )
        answer: asyncio.Future[Lease] = asyncio.get_running_loop().create_future()
        self._waiting[lease_id] = answer
        self.requests += 1
        try:
            self._pace.expect()  # the grant is the next thing to read: fetch as if busy
            await self._send(BUDGET_LEASE_REQUESTED, request)
            lease = await asyncio.wait_for(answer, self.answer_timeout_s)
        except TimeoutError:
            raise BudgetRefused(f"billing did not answer a budget lease request within {self.answer_timeout_s:g}s; no call without a budget") from None
        except Exception as exc:
            raise BudgetRefused(f"billing could not be asked for a budget lease: {exc!r}") from exc
        finally:
            self._waiting.pop(lease_id, None)
        slot = self._slots.setdefault(key.tuple(), _Slot())
        if lease.grant.amount_usd is None or lease.grant.amount_usd > 0:
            slot.leases.append(lease)
        else:
            lease.returned = True  # nothing to give back
        return lease

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._pace.poll(self._consumer, max_records=1000)
            for records in batch.values():
                for record in records:
                    if record.key != self._holder_key:
                        continue
                    if (why := header_keys.why_unreadable(record.headers)) is not None:
                        log.error("lease grant skipped", reason_code="schema", reason=why)
                        continue
                    signer = self._keyring.verify(BUDGET_LEASE_GRANTED, record.key, record.value, record.headers) if self._keyring else "billing"
                    if isinstance(signer, Refusal):  # only billing grants leases
                        log.error("lease grant not from billing skipped", reason_code=signer.code, reason=signer.reason[:300])
                        continue
                    try:
                        event = codec.decode_as(record.value, BudgetLeaseGranted)
                    except codec.DecodeError as exc:
                        log.error("unreadable lease grant skipped", reason=exc.reason[:300])
                        continue
                    waiter = self._waiting.get(event.data.lease_id)
                    if waiter is not None and not waiter.done():
                        remaining = (event.data.expires_at - datetime.now(UTC)).total_seconds()
                        waiter.set_result(Lease(event.data, event.team, time.monotonic() + remaining))

    # --- giving back ------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.return_spent()
            except Exception:
                log.exception("returning leases failed; retried in a second")

    async def return_spent(self) -> int:
        """Return the leases that can take no more calls and have none in flight."""
        now = time.monotonic()
        done = []
        for key, slot in list(self._slots.items()):
            for lease in slot.leases:
                if not lease.returned and lease.inflight == 0 and not lease.usable(now, self.call_s):
                    done.append(lease)
            slot.leases = [lease for lease in slot.leases if lease not in done]
            if not slot.leases and slot.pending is None and slot.refused is None:
                self._slots.pop(key, None)
        await self._return(done)
        return len(done)

    async def _return(self, leases: Iterable[Lease]) -> None:
        if self._producer is None:
            return
        sends = []
        for lease in leases:
            if lease.returned or lease.unlimited:
                lease.returned = True
                continue
            lease.returned = True
            event = BudgetLeaseReturned.create(
                LeaseReturn(lease_id=lease.id, holder=self.holder, used_usd=lease.used, calls=lease.calls),
                source=self.source,
                team=lease.team,
                actor=self.actor,
                correlation_id=lease.id,
                subject=self.holder,
            )
            sends.append(self._send(BUDGET_LEASE_RETURNED, event))
        if sends:
            await asyncio.gather(*sends)

    def leases(self) -> list[Lease]:
        return [lease for slot in self._slots.values() for lease in slot.leases]
