"""The building access client against the access control simulator over HTTP, as the badge and
offboarding skills meet it: a new starter gets one badge however often the step is delivered, a
zone is granted and removed once, a suspension, reactivation or return acts once, and the system's
refusals (a bad or revoked token, a missing scope, a restricted zone, an unknown badge or person,
a rate limit) arrive as ``FacilitiesError``s in its own codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from runtime.vendor.errors import ApiError
from services.skills.connectors.facilities import FacilitiesError
from services.skills.connectors.facilities_http import FacilitiesHttp

ALL = ["badges.read", "badges.create", "badges.update", "badges.suspend"]
STARTER = "jane.lee"  # a pre-hire: a cardholder with no badge yet


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
async def badges(simulator: Any, http: httpx.AsyncClient) -> FacilitiesHttp:
    return FacilitiesHttp(simulator.urls()["facilities"], await simulator.token("facilities", "onboarding-manager", ALL), http)


async def _fetch(simulator: Any, sql: str, *args: Any) -> Any:
    return await simulator.database.pool.fetchval(sql, *args)


async def _someone_badged(simulator: Any) -> str:
    """A cardholder at work whose active badge opens an unrestricted zone."""
    return await _fetch(
        simulator,
        "SELECT c.login FROM facilities_cardholders c JOIN facilities_badges b ON b.holder_id = c.id AND b.status = 'active'"
        " WHERE EXISTS (SELECT 1 FROM facilities_badge_zones z WHERE z.badge_id = b.id) ORDER BY c.login LIMIT 1",
    )


async def test_cardholders_and_their_badges_read_as_the_system_holds_them(simulator: Any, badges: FacilitiesHttp) -> None:
    starter = await badges.get_cardholder(STARTER)
    assert (starter.login, starter.name, starter.status) == ("jane.lee@acme.example", "Jane Lee", "active")
    assert await badges.current_badge(STARTER) is None
    login = await _someone_badged(simulator)
    badge = await badges.current_badge(login)
    assert badge is not None and badge.holder_login == login and badge.status == "active" and badge.zones
    assert await badges.get_badge(badge.id) == badge
    stored = {r["zone"] for r in await simulator.database.pool.fetch("SELECT zone FROM facilities_badge_zones WHERE badge_id = $1", badge.id)}
    assert set(badge.zones) == stored


async def test_unknown_people_and_badges_are_the_systems_404s(badges: FacilitiesHttp) -> None:
    with pytest.raises(FacilitiesError) as nobody:
        await badges.get_cardholder("no.such.person")
    assert (nobody.value.status, nobody.value.code) == (404, "cardholder_not_found")
    with pytest.raises(FacilitiesError) as no_badge:
        await badges.get_badge("0000000")
    assert (no_badge.value.status, no_badge.value.code) == (404, "badge_not_found")


async def test_a_starter_gets_one_badge_however_often_the_step_is_delivered(simulator: Any, badges: FacilitiesHttp) -> None:
    first = await badges.issue_badge(STARTER, idempotency_key="T-1:badges:2", ticket_id="T-1")
    again = await badges.issue_badge(STARTER, idempotency_key="T-1:badges:2", ticket_id="T-1")
    assert again == first and (first.status, first.zones, first.changed) == ("active", (), True)
    held = "SELECT count(*) FROM facilities_badges b JOIN facilities_cardholders c ON c.id = b.holder_id WHERE c.login = 'jane.lee@acme.example'"
    assert await _fetch(simulator, held) == 1
    with pytest.raises(FacilitiesError) as other_request:  # the key is bound to the request it first answered
        await badges.issue_badge(await _someone_badged(simulator), idempotency_key="T-1:badges:2", ticket_id="T-1")
    assert (other_request.value.status, other_request.value.code) == (422, "idempotency_key_reused")
    with pytest.raises(FacilitiesError) as second:  # a new key: refused, never a second badge
        await badges.issue_badge(STARTER, idempotency_key="T-2:badges:2", ticket_id="T-2")
    assert (second.value.status, second.value.code) == (409, "badge_exists")
    assert await _fetch(simulator, held) == 1


async def test_a_zone_is_granted_and_removed_once(simulator: Any, badges: FacilitiesHttp) -> None:
    badge = (await badges.issue_badge(STARTER, idempotency_key="T-3:badges:2", ticket_id="T-3")).badge_id
    granted = await badges.add_zone(badge, "hq-l2", idempotency_key="T-3:badges:3", ticket_id="T-3")
    assert await badges.add_zone(badge, "hq-l2", idempotency_key="T-3:badges:3", ticket_id="T-3") == granted
    assert (granted.zones, granted.changed) == (("HQ-L2",), True)
    zones = "SELECT count(*) FROM facilities_badge_zones WHERE badge_id = $1"
    grants = "SELECT count(*) FROM facilities_changes WHERE badge_id = $1 AND operation = 'add_zone'"
    assert (await _fetch(simulator, zones, badge), await _fetch(simulator, grants, badge)) == (1, 1)
    removed = await badges.remove_zone(badge, "HQ-L2", idempotency_key="T-3:badges:3:undo", ticket_id="T-3")
    repeated = await badges.remove_zone(badge, "HQ-L2", idempotency_key="T-3:badges:3:undo", ticket_id="T-3")
    assert (removed.zones, removed.changed, repeated.zones, repeated.changed) == ((), True, (), False)
    assert await _fetch(simulator, zones, badge) == 0


async def test_suspend_reactivate_and_return_each_act_once(simulator: Any, badges: FacilitiesHttp) -> None:
    login = await _someone_badged(simulator)
    badge = await badges.current_badge(login)
    assert badge is not None
    changes = "SELECT count(*) FROM facilities_changes WHERE badge_id = $1 AND operation = $2"
    for operation, call, status in (("suspend", badges.suspend_badge, "suspended"), ("reactivate", badges.reactivate_badge, "active"), ("return", badges.return_badge, "returned")):
        first = await call(badge.id, reason="offboarding (T-4)", idempotency_key=f"T-4:{operation}", ticket_id="T-4")
        assert await call(badge.id, reason="offboarding (T-4)", idempotency_key=f"T-4:{operation}", ticket_id="T-4") == first
        assert (first.status, first.changed) == (status, True)
        assert await _fetch(simulator, changes, badge.id, operation) == 1
        assert await _fetch(simulator, "SELECT status FROM facilities_badges WHERE id = $1", badge.id) == status
    assert first.zones == () and await badges.current_badge(login) is None  # a returned badge opens nothing


async def test_a_badge_already_suspended_is_already_so(badges: FacilitiesHttp, simulator: Any) -> None:
    badge = await badges.current_badge(await _someone_badged(simulator))
    assert badge is not None
    await badges.suspend_badge(badge.id, reason="leaver", idempotency_key="T-5:a", ticket_id="T-5")
    again = await badges.suspend_badge(badge.id, reason="leaver", idempotency_key="T-6:a", ticket_id="T-6")
    assert (again.status, again.changed) == ("suspended", False)


async def test_zones_open_only_as_the_access_system_allows(badges: FacilitiesHttp) -> None:
    badge = (await badges.issue_badge(STARTER, idempotency_key="T-7:badges:2", ticket_id="T-7")).badge_id
    with pytest.raises(FacilitiesError) as unknown:
        await badges.add_zone(badge, "HQ-L9", idempotency_key="T-7:z0", ticket_id="T-7")
    assert (unknown.value.status, unknown.value.code) == (400, "zone_unknown") and "HQ-L3" in unknown.value.summary
    with pytest.raises(FacilitiesError) as restricted:
        await badges.add_zone(badge, "HQ-DC", idempotency_key="T-7:z1", ticket_id="T-7")
    assert (restricted.value.status, restricted.value.code) == (403, "clearance_required")


async def test_a_bad_or_revoked_token_is_the_systems_401(simulator: Any, http: httpx.AsyncClient) -> None:
    with pytest.raises(FacilitiesError) as bad:
        await FacilitiesHttp(simulator.urls()["facilities"], "not-a-token", http).get_cardholder(STARTER)
    assert (bad.value.status, bad.value.code, bad.value.transient) == (401, "unauthorized", False)
    client = FacilitiesHttp(simulator.urls()["facilities"], await simulator.token("facilities", "leaver-bot", ["badges.read"]), http)
    assert (await client.get_cardholder(STARTER)).login == "jane.lee@acme.example"
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "leaver-bot"})).raise_for_status()
    with pytest.raises(FacilitiesError) as revoked:
        await client.get_cardholder(STARTER)
    assert (revoked.value.status, revoked.value.code) == (401, "unauthorized")


async def test_a_token_without_the_scope_is_refused_and_the_badge_stays_active(simulator: Any, http: httpx.AsyncClient) -> None:
    reader = FacilitiesHttp(simulator.urls()["facilities"], await simulator.token("facilities", "reader", ["badges.read"]), http)
    badge = await reader.current_badge(await _someone_badged(simulator))
    assert badge is not None
    with pytest.raises(FacilitiesError) as refused:
        await reader.suspend_badge(badge.id, reason="x", idempotency_key="T-8:s", ticket_id="T-8")
    assert (refused.value.status, refused.value.code) == (403, "forbidden") and "badges.suspend" in refused.value.summary
    assert await _fetch(simulator, "SELECT status FROM facilities_badges WHERE id = $1", badge.id) == "active"


async def test_a_rate_limit_arrives_as_a_transient_error_with_the_wait(simulator: Any, badges: FacilitiesHttp) -> None:
    await simulator.hook("faults", system="facilities", status=429, retry_after=2)
    with pytest.raises(ApiError) as limited:
        await badges.get_cardholder(STARTER)
    assert limited.value.status == 429 and limited.value.transient
    assert limited.value.retry_after is not None and 1 <= limited.value.retry_after <= 2
