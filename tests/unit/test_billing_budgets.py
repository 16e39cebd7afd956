"""Budgets, pure: which apply to a call (all of them, nested), periods that reset at a stated time,
what a lease may be, alert thresholds, and the caller's in-process reservations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from contracts.envelope import Actor
from contracts.events import BudgetLeaseRequested, LeaseGrant, LeaseRequest, Price
from runtime.budget import BudgetClient, BudgetRefused, Lease, _Slot
from services.billing.budgets import ALWAYS, Budget, Budgets, Standing, crossed
from services.billing.config import BillingConfig
from services.billing.leases import decide
from services.billing.periods import Period
from services.billing.prices import PriceTable
from tests.conftest import coworker_row

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
CONFIG = BillingConfig.model_validate({
    "teams": {
        "it-support": {
            "budget": {"limit_usd": 600, "period": "month"},
            "per_ticket_usd": "0.50",
            "skills": {"password-reset": {"limit_usd": 100, "period": "week", "resets_at": "06:00", "timezone": "Europe/London"}},
        }
    }
})


@pytest.fixture
def budgets(workforce) -> Budgets:  # noqa: ANN001
    return Budgets(CONFIG, {"jordan": coworker_row(workforce["jordan"]).data})


def test_every_budget_that_applies_to_a_call_is_in_its_chain_not_only_the_narrowest(budgets: Budgets) -> None:
    chain = budgets.chain("it-support", "jordan", "password-reset", NOW)
    assert [(b.id, b.limit_usd, b.window.label) for b in chain] == [
        ("team:it-support", Decimal(600), "2026-11"),
        ("coworker:jordan", Decimal(250), "2026-11"),
        ("skill:it-support/password-reset", Decimal(100), "2026-W48"),
    ]
    assert [b.id for b in budgets.chain("hr", "nobody", None, NOW)] == []


def test_the_per_ticket_cap_is_the_smaller_of_the_teams_and_the_coworkers(budgets: Budgets) -> None:
    assert budgets.ticket_cap("it-support", "jordan") == Decimal("0.15")  # jordan's manifest: 0.15; the team: 0.50
    assert budgets.ticket_cap("it-support", None) == Decimal("0.50")
    assert budgets.ticket_cap("hr", None) is None
    assert budgets.ticket("it-support", "jordan", "T-1").window is ALWAYS


@pytest.mark.parametrize(
    ("period", "moment", "label", "resets"),
    [
        (Period("month"), datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "2026-11", datetime(2026, 12, 1, tzinfo=UTC)),
        (Period("month"), datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "2026-12", datetime(2027, 1, 1, tzinfo=UTC)),
        (Period("week", time(6), "Europe/London"), datetime(2026, 11, 30, 5, 59, tzinfo=UTC), "2026-W48", datetime(2026, 11, 30, 6, tzinfo=UTC)),
        (Period("week", time(6), "Europe/London"), datetime(2026, 11, 30, 6, 0, tzinfo=UTC), "2026-W49", datetime(2026, 12, 7, 6, tzinfo=UTC)),
        (Period("day", time(9), "America/New_York"), datetime(2026, 7, 1, 12, 59, tzinfo=UTC), "2026-06-30", datetime(2026, 7, 1, 13, tzinfo=UTC)),
        (Period("day", time(9), "America/New_York"), datetime(2026, 12, 1, 14, 0, tzinfo=UTC), "2026-12-01", datetime(2026, 12, 2, 14, tzinfo=UTC)),
    ],
)
def test_a_period_resets_at_its_stated_time_in_its_time_zone(period: Period, moment: datetime, label: str, resets: datetime) -> None:
    window = period.window(moment)
    assert (window.label, window.end) == (label, resets)
    assert moment in window and window.end not in window


def _request(amount: str, kind: str = "scope", model: str = "gpt-4o-mini") -> BudgetLeaseRequested:
    data = LeaseRequest(lease_id="l-1", holder="h", kind=kind, coworker="jordan", ticket_id="T-1", amount_usd=Decimal(amount), models=[model])
    return BudgetLeaseRequested.create(data, source="/tests", team="it-support", actor=Actor.system("tests"), correlation_id="T-1")


def _standing(budget_id: str, limit: str, spent: str, reserved: str = "0") -> Standing:
    window = Period("month").window(NOW)
    return Standing(Budget(budget_id, "it-support", Decimal(limit), window), Decimal(spent), Decimal(reserved))


PRICES = PriceTable.load()


def test_a_lease_is_never_more_than_the_tightest_budget_has_left() -> None:
    standing = [_standing("team:it-support", "600", "100"), _standing("coworker:jordan", "250", "249.90", "0.05"), _standing("skill:it-support/password-reset", "100", "1")]
    grant = decide(_request("0.50"), standing, Decimal("0.15"), PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/services/billing").data
    assert grant.amount_usd == Decimal("0.05")  # 250 - 249.90 spent - 0.05 leased to others
    assert grant.budgets == ["team:it-support", "coworker:jordan", "skill:it-support/password-reset"]
    assert grant.ticket_cap_usd == Decimal("0.15") and "gpt-4o-mini" in grant.prices
    assert grant.expires_at == NOW + timedelta(seconds=60)


def test_at_exactly_the_limit_the_lease_is_zero_and_says_which_budget_and_when_it_resets() -> None:
    standing = [_standing("team:it-support", "600", "100"), _standing("coworker:jordan", "250", "249.95", "0.05")]
    grant = decide(_request("0.50"), standing, None, PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/s").data
    assert grant.amount_usd == 0
    assert grant.reason.startswith("budget coworker:jordan is spent: 249.9500 of 250 USD in 2026-11 (0.0500 leased to calls in flight); resets 2026-12-01T00:00Z")


def test_a_lease_ends_when_the_first_of_its_budgets_resets() -> None:
    late = datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
    window = Period("month").window(late)
    standing = [Standing(Budget("team:it-support", "it-support", Decimal(600), window), Decimal(0), Decimal(0))]
    grant = decide(_request("1"), standing, None, PRICES, late, ttl_s=60, actor=Actor.system("billing"), source="/s").data
    assert grant.expires_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_no_budget_means_no_cap() -> None:
    grant = decide(_request("1"), [], None, PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/s").data
    assert grant.amount_usd is None and grant.budgets == []


@pytest.mark.parametrize("standing", [[_standing("team:it-support", "600", "0")], []], ids=["within a budget", "no budget applies"])
def test_a_call_to_a_model_with_no_price_gets_no_lease_and_is_told_why(standing: list[Standing]) -> None:
    grant = decide(_request("0.50", model="acme/secret-model-9"), standing, None, PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/s").data
    assert grant.amount_usd == 0 and grant.prices == {}
    assert grant.reason.startswith(f"model 'acme/secret-model-9' has no price in billing's price table {PRICES.version}: a call to it gets no budget lease")


@pytest.mark.parametrize(("spent", "alerts"), [("49.99", []), ("50", [50]), ("80.5", [50, 80]), ("95", [50, 80, 95]), ("100", [50, 80, 95, 100]), ("130", [50, 80, 95, 100])])
def test_alerts_at_50_80_95_and_100_percent(spent: str, alerts: list[int]) -> None:
    assert crossed(_standing("team:it-support", "100", spent), [50, 80, 95, 100]) == alerts


# --- the caller's side: reservations in process ---------------------------------------------------

PRICE = Price(usd_per_input_token=Decimal("0.001"))  # 1 token = $0.001, so counts read as tenths of a cent


def _client_with(amount: str | None, *, cap: str | None = None, ticket_amount: str | None = None) -> BudgetClient:
    client = BudgetClient("unused:9092", service="tests", call_timeout_s=1)
    deadline = 10**12

    def lease(kind: str, value: str | None) -> Lease:
        grant = LeaseGrant(lease_id=f"{kind}-1", holder=client.holder, kind=kind, budgets=["team:t"], amount_usd=Decimal(value) if value is not None else None, expires_at=NOW, ticket_cap_usd=Decimal(cap) if cap and kind == "scope" else None, prices={"m": PRICE})
        return Lease(grant, "t", deadline)

    client._slots[("scope", "t", "c", None, None)] = _Slot([lease("scope", amount)])  # noqa: SLF001
    if ticket_amount is not None:
        client._slots[("ticket", "t", "c", None, "T-1")] = _Slot([lease("ticket", ticket_amount)])  # noqa: SLF001
    return client


def test_concurrent_reservations_never_take_more_than_the_lease_holds() -> None:
    client = _client_with("0.050")

    async def call() -> bool:
        try:
            reservation = client.try_reserve("t", coworker="c", skill=None, ticket_id=None, model="m", prompt_tokens=10, completion_tokens=0)
        except BudgetRefused:
            return False
        if reservation is None:
            return False
        await asyncio.sleep(0.001)
        client.commit(reservation, prompt_tokens=10, completion_tokens=0)
        return True

    async def run() -> list[bool]:
        return await asyncio.gather(*(call() for _ in range(1000)))

    made = asyncio.run(run())
    lease = client.leases()[0]
    assert sum(made) == 5 and lease.used == Decimal("0.050") and lease.reserved == 0
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id=None, model="m", prompt_tokens=1, completion_tokens=0) is None, "at exactly the limit: no room"


def test_a_capped_ticket_needs_its_own_lease_and_the_call_counts_against_both() -> None:
    client = _client_with("1", cap="0.15")
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id="T-1", model="m", prompt_tokens=10, completion_tokens=0) is None
    client = _client_with("1", cap="0.15", ticket_amount="0.02")
    first = client.try_reserve("t", coworker="c", skill=None, ticket_id="T-1", model="m", prompt_tokens=10, completion_tokens=0)
    assert first is not None and first.lease_ids == ["scope-1", "ticket-1"]
    client.commit(first, prompt_tokens=7, completion_tokens=0)
    assert [lease.used for lease in client.leases()] == [Decimal("0.007"), Decimal("0.007")]
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id="T-1", model="m", prompt_tokens=14, completion_tokens=0) is None, "0.013 left on the ticket"
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id="T-1", model="m", prompt_tokens=13, completion_tokens=0) is not None


def test_a_released_reservation_frees_its_money_and_a_lease_is_not_used_past_its_expiry() -> None:
    client = _client_with("0.010")
    reservation = client.try_reserve("t", coworker="c", skill=None, ticket_id=None, model="m", prompt_tokens=10, completion_tokens=0)
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id=None, model="m", prompt_tokens=1, completion_tokens=0) is None
    client.release(reservation)
    client.release(reservation)  # twice is once
    assert client.leases()[0].free == Decimal("0.010")
    client.leases()[0].deadline = 0
    assert client.try_reserve("t", coworker="c", skill=None, ticket_id=None, model="m", prompt_tokens=1, completion_tokens=0) is None


def test_a_lease_is_refused_for_a_model_its_service_is_not_configured_to_call() -> None:
    from services.billing.config import BillingConfig

    config = BillingConfig.model_validate({"callers": {"triage": ["gpt-4o-mini"]}})
    asked = _request("0.50").model_copy(update={"source": "/services/triage"})
    assert decide(asked, [], None, PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/s", callers=config.caller_refusal).data.amount_usd is None  # no budget applies: granted
    other = _request("0.50", model="claude-haiku-4-5").model_copy(update={"source": "/services/triage"})
    grant = decide(other, [], None, PRICES, NOW, ttl_s=60, actor=Actor.system("billing"), source="/s", callers=config.caller_refusal).data
    assert grant.amount_usd == 0 and "triage is not configured to call 'claude-haiku-4-5'" in grant.reason
