"""Leases: billing, the only writer of budget truth, grants each caller instance a slice of what
remains of every budget that applies to its calls. The caller reserves against its slice in its own
process; the slices outstanding never add up to more than what remains, so no interleaving of calls,
callers or billing instances overspends a budget.

A grant is decided under a per-team advisory lock, in one statement's snapshot of spend and open
leases, and stored before it is announced; a redelivered request gets the stored answer again."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from contracts.envelope import Actor
from contracts.events import BudgetLeaseGranted, BudgetLeaseRequested, BudgetLeaseReturned, LeaseGrant
from services.billing.budgets import Budget, Budgets, Standing, standings
from services.billing.ledger import Callers
from services.billing.prices import PriceTable


def team_lock(team: str) -> int:
    return int.from_bytes(hashlib.sha256(f"billing-lease:{team}".encode()).digest()[:8], "big", signed=True)


def budgets_for(request: BudgetLeaseRequested, budgets: Budgets, now: datetime) -> tuple[list[Budget], Decimal | None]:
    """The budgets a lease counts against, and the per-ticket cap that applies to its scope."""
    data = request.data
    if data.kind == "ticket":
        ticket = budgets.ticket(request.team, data.coworker, data.ticket_id) if data.ticket_id else None
        return ([ticket] if ticket is not None else []), (ticket.limit_usd if ticket else None)
    return budgets.chain(request.team, data.coworker, data.skill, now), budgets.ticket_cap(request.team, data.coworker)


def decide(
    request: BudgetLeaseRequested, standing: list[Standing], ticket_cap: Decimal | None, prices: PriceTable, now: datetime, *, ttl_s: float, actor: Actor, source: str, callers: Callers | None = None
) -> BudgetLeaseGranted:
    """How much of what it asked the holder gets: never more than any applicable budget has left, and
    nothing for a call to a model with no price, or one the holder's service is not configured to call
    (its usage would be refused, so the call is refused first)."""
    data = request.data
    expires = now + timedelta(seconds=ttl_s)
    amount: Decimal | None = None
    reason = "no budget applies"
    if standing:
        tightest = min(standing, key=lambda s: s.available_usd)
        amount = max(Decimal(0), min(data.amount_usd, tightest.available_usd))
        expires = min([expires, *(s.budget.window.end for s in standing)])
        reason = tightest.refusal() if amount <= 0 else f"tightest budget {tightest.budget.id}: {tightest.available_usd:.4f} USD left"
    refusals = (prices.refusal(m) or (callers(request.source, m) if callers is not None else None) for m in data.models)
    unpriced = next((why for why in refusals if why is not None), None)
    if unpriced is not None:
        amount, reason = Decimal(0), unpriced
    known = {m: price for m in data.models if (price := prices.lookup(m)) is not None}
    grant = LeaseGrant(
        lease_id=data.lease_id,
        holder=data.holder,
        kind=data.kind,
        budgets=[s.budget.id for s in standing],
        amount_usd=amount.quantize(Decimal("0.0000000001")) if amount is not None else None,
        expires_at=expires,
        reason=reason[:500],
        ticket_cap_usd=ticket_cap,
        prices=known,
        price_version=prices.version,
    )
    return request.caused(BudgetLeaseGranted, grant, source=source, actor=actor, subject=data.holder)


async def grant(
    conn: asyncpg.Connection, request: BudgetLeaseRequested, budgets: Budgets, prices: PriceTable, now: datetime, *, ttl_s: float, grace_s: float, actor: Actor, source: str, callers: Callers | None = None
) -> tuple[BudgetLeaseGranted, list[Standing]]:
    """Decide and store the answer to ``request`` (or find the answer given before)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", team_lock(request.team))
        stored = await conn.fetchval("SELECT grant_event FROM leases WHERE lease_id = $1", request.data.lease_id)
        if stored is not None:
            return BudgetLeaseGranted.model_validate_json(stored), []
        chain, cap = budgets_for(request, budgets, now)
        # Read after the lock: every grant decided before this one is in this statement's snapshot.
        standing = await standings(conn, chain, now, grace_s=grace_s)
        answer = decide(request, standing, cap, prices, now, ttl_s=ttl_s, actor=actor, source=source, callers=callers)
        g = answer.data
        await conn.execute(
            "INSERT INTO leases (lease_id, holder, team, kind, budgets, amount_usd, granted_at, expires_at, grant_event)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            g.lease_id, g.holder, request.team, g.kind, g.budgets, g.amount_usd, now, g.expires_at, answer.model_dump_json(by_alias=True),
        )
    if g.amount_usd is not None and g.amount_usd > 0:
        standing = [Standing(s.budget, s.spent_usd, s.reserved_usd + g.amount_usd) for s in standing]
    return answer, standing


async def give_back(conn: asyncpg.Connection, event: BudgetLeaseReturned) -> str | None:
    """Record what the holder spent on a lease; the rest is free again. Returns the team, if known."""
    data = event.data
    return await conn.fetchval(
        "UPDATE leases SET returned_at = coalesce(returned_at, now()), used_usd = coalesce(used_usd, $2), used_calls = coalesce(used_calls, $3)"
        " WHERE lease_id = $1 AND holder = $4 RETURNING team",
        data.lease_id, data.used_usd, data.calls, data.holder,
    )


