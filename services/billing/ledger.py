"""Book usage events: price each call from the price table, store it once (the event id is the
key), and add only the newly stored ones to the roll-ups (per day, per hour by team / coworker /
skill / model, per ticket) and to the leases they were reserved against.

All of that is one statement, so the roll-ups always equal the sum of the stored events, whatever is
redelivered and whenever a process dies; a replay of the topic into an empty schema rebuilds the
same totals (with the same price table version). Usage that cannot be billed (``check``: a model
with no price, counts no real call has) is never booked: the handler dead-letters it with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import asyncpg

from contracts.events import DeadLetterCode, LlmUsage
from services.billing.prices import PriceTable

#: Why the service that sent a usage (its source) may not bill this model, or None (BillingConfig.caller_refusal).
Callers = Callable[[str, str], str | None]

COLUMNS = (
    "event_id", "team", "coworker", "skill", "ticket_id", "purpose", "model", "provider", "prompt_tokens", "completion_tokens", "cost_usd", "occurred_at",
    "cached_tokens", "latency_ms", "reported_cost_usd", "litellm_cost_usd", "price_version", "flags", "leases",
)

#: A call that reads, or writes, more than this many times its model's context window (the price
#: table's ``max_input``) is a broken or lying counter, not a bill.
CONTEXT_SLACK = 2
#: The most tokens one call may read, or write, when the table does not know the model's window (local
#: models, a few snapshot entries): twice a 1,048,576-token window (Gemini's), which all but a few dozen
#: of the table's thousands of models are within. (The contract's own cap is 10M per field.)
UNKNOWN_WINDOW_MAX_TOKENS = CONTEXT_SLACK * 1_048_576
#: The longest call billed by the second (local models priced per CPU-second): ten minutes, 20 times
#: the longest default model-call timeout of any service (memory's 30 s). The contract's own cap is a day.
MAX_CALL_SECONDS = 600


@dataclass(frozen=True)
class Problem:
    event: LlmUsage
    code: DeadLetterCode
    reason: str


def check(event: LlmUsage, prices: PriceTable, callers: Callers | None = None) -> tuple[DeadLetterCode, str] | None:
    """Why ``event`` cannot be billed, as a dead-letter code and a reason, or None.

    ``unknown_model``: the model has no price (it is refused, never priced by a guess), or the service
    that made the call is not configured to call it (``callers``: source, model -> why not). ``schema``: counts
    no real call has: cached more than prompt, more tokens than twice the model's context window (or
    than ``UNKNOWN_WINDOW_MAX_TOKENS``), longer than ``MAX_CALL_SECONDS`` when billed by the second.
    (Negative counts and a missing team already fail the contract, before billing sees the event.)"""
    usage = event.data
    unknown = prices.refusal(usage.model) or (callers(event.source, usage.model) if callers is not None else None)
    if unknown is not None:
        return "unknown_model", unknown
    if usage.cached_tokens > usage.prompt_tokens:
        return "schema", f"cached_tokens {usage.cached_tokens} is more than prompt_tokens {usage.prompt_tokens}; cached tokens are part of the prompt"
    window = prices.max_input_tokens(usage.model)
    bound = CONTEXT_SLACK * window if window is not None else UNKNOWN_WINDOW_MAX_TOKENS
    for field, count in (("prompt_tokens", usage.prompt_tokens), ("completion_tokens", usage.completion_tokens)):
        if count > bound:
            why = f"whose context window is {window:,} tokens" if window is not None else f"whose context window is not in the price table (at most {bound:,} tokens a call)"
            return "schema", f"{field} {count:,} is absurd for {usage.model}, {why}"
    price = prices.lookup(usage.model)
    if price is not None and price.usd_per_second and usage.latency_ms > MAX_CALL_SECONDS * 1000:
        return "schema", f"latency_ms {usage.latency_ms:,.0f} is absurd for {usage.model}, billed by the second: no call lasts more than {MAX_CALL_SECONDS} s"
    return None


def row(event: LlmUsage, prices: PriceTable) -> tuple[object, ...]:
    usage = event.data
    coworker = usage.coworker or (event.actor.id if event.actor.kind == "coworker" else "")
    priced = prices.price(usage.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.latency_ms)
    return (
        event.id, event.team, coworker, usage.skill, usage.ticket_id, usage.purpose, usage.model, usage.provider,
        usage.prompt_tokens, usage.completion_tokens, priced.cost_usd, event.time.astimezone(UTC),
        usage.cached_tokens, usage.latency_ms, usage.cost_usd, priced.litellm_cost_usd, priced.price_version, list(priced.flags), list(usage.leases),
    )


def split(events: list[LlmUsage], prices: PriceTable, callers: Callers | None = None) -> tuple[list[LlmUsage], list[Problem]]:
    """The events that can be billed, and why each of the others cannot."""
    good, bad = [], []
    for event in events:
        refused = check(event, prices, callers)
        if refused is None:
            good.append(event)
        else:
            bad.append(Problem(event, *refused))
    return good, bad


BOOK = """
WITH booked AS (
    INSERT INTO usage_events (event_id, team, coworker, skill, ticket_id, purpose, model, provider, prompt_tokens, completion_tokens,
                              cost_usd, occurred_at, cached_tokens, latency_ms, reported_cost_usd, litellm_cost_usd, price_version, flags, leases)
    SELECT DISTINCT ON (event_id) event_id, team, coworker, skill, ticket_id, purpose, model, provider, prompt_tokens, completion_tokens,
           cost_usd, occurred_at, cached_tokens, latency_ms, reported_cost_usd, litellm_cost_usd, price_version, flags, leases
    FROM usage_incoming ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING team, coworker, coalesce(skill, '') AS skill, ticket_id, model, occurred_at, prompt_tokens, completion_tokens, cached_tokens, cost_usd, leases
), daily AS (
    INSERT INTO spend_daily AS s (team, coworker, day, calls, prompt_tokens, completion_tokens, cost_usd)
    SELECT team, coworker, (occurred_at AT TIME ZONE 'UTC')::date, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
    FROM booked GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (team, coworker, day) DO UPDATE SET
        calls = s.calls + excluded.calls,
        prompt_tokens = s.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = s.completion_tokens + excluded.completion_tokens,
        cost_usd = s.cost_usd + excluded.cost_usd
    RETURNING 1
), hourly AS (
    INSERT INTO spend_hourly AS s (team, coworker, skill, model, hour, calls, prompt_tokens, completion_tokens, cached_tokens, cost_usd)
    SELECT team, coworker, skill, model, date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           count(*), sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(cost_usd)
    FROM booked GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (team, coworker, skill, model, hour) DO UPDATE SET
        calls = s.calls + excluded.calls,
        prompt_tokens = s.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = s.completion_tokens + excluded.completion_tokens,
        cached_tokens = s.cached_tokens + excluded.cached_tokens,
        cost_usd = s.cost_usd + excluded.cost_usd
    RETURNING 1
), tickets AS (
    INSERT INTO spend_tickets AS s (team, ticket_id, calls, cost_usd, first_at, last_at)
    SELECT team, ticket_id, count(*), sum(cost_usd), min(occurred_at), max(occurred_at)
    FROM booked WHERE ticket_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (team, ticket_id) DO UPDATE SET
        calls = s.calls + excluded.calls,
        cost_usd = s.cost_usd + excluded.cost_usd,
        first_at = least(s.first_at, excluded.first_at),
        last_at = greatest(s.last_at, excluded.last_at)
    RETURNING 1
), leased AS (
    UPDATE leases l SET booked_usd = l.booked_usd + x.cost, booked_calls = l.booked_calls + x.calls
    FROM (SELECT lease_id, sum(cost_usd) AS cost, count(*) AS calls FROM booked, unnest(leases) AS lease_id GROUP BY lease_id) x
    WHERE l.lease_id = x.lease_id
    RETURNING 1
)
SELECT count(*) FROM booked
"""


async def book(conn: asyncpg.Connection, events: list[LlmUsage], prices: PriceTable) -> int:
    """Book ``events`` (already checked); return how many were new (the rest had been booked before)."""
    if not events:
        return 0
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS usage_incoming (LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        await conn.copy_records_to_table("usage_incoming", records=[row(e, prices) for e in events], columns=COLUMNS)
        return await conn.fetchval(BOOK)
