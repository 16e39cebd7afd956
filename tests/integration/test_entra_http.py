"""The Entra client against the Entra simulator over real HTTP (Microsoft Graph v1.0): every
connector operation, Graph's 401/403/404 bodies, a 429 with Retry-After, and the two writes repeated
under one idempotency key acting once on the simulator's database although Graph takes no key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.skills.connectors.entra_http import EXTENSION, EntraHttp, key_mark
from runtime.vendor.errors import ApiError

ALL = ["users.read", "users.disable", "sessions.revoke", "risk.read"]
ANA = "ana.silva@acme.example"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def object_id(simulator, upn: str) -> str:  # noqa: ANN001
    """The user's Entra object id, as the directory holds it."""
    return await simulator.database.pool.fetchval("SELECT id FROM entra_users WHERE user_principal_name = $1", upn)


async def entra(simulator, client: httpx.AsyncClient, scopes: list[str] = ALL, coworker: str = "jordan") -> EntraHttp:  # noqa: ANN001
    return EntraHttp(simulator.urls()["entra"], await simulator.token("entra", coworker, scopes), client)


async def test_a_user_is_read_by_id_or_principal_name_with_groups_and_risk(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    ana_id = await object_id(simulator, ANA)
    graph = await entra(simulator, client)
    ana = await graph.get_user(ANA)
    assert (ana.id, ana.user_principal_name, ana.account_enabled) == (ana_id, ANA, True)
    assert ana.employee_id and ana.department and ana.usage_location
    assert (await graph.get_user(ana.id)) == ana
    groups = await graph.member_of(ANA)
    names = [g.display_name for g in groups]
    assert {"All Employees", "SG-Finance"} <= set(names) and names == sorted(names)
    expected = await simulator.database.pool.fetchval("SELECT count(*) FROM entra_group_members WHERE user_id = $1", ana.id)
    assert len(groups) == expected
    risk = await graph.risky_user(ANA)
    assert risk.user_id == ana.id and risk.risk_level in {"none", "low", "medium", "high"}


async def test_group_memberships_follow_graphs_next_links(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    token = await simulator.token("entra", "jordan", ALL)
    url = f"{simulator.urls()['entra']}/v1.0/users/{ANA}/memberOf?$top=1"
    first = (await client.get(url, headers={"Authorization": f"Bearer {token}"})).json()
    assert len(first["value"]) == 1 and first["value"][0]["@odata.type"] == "#microsoft.graph.group" and "@odata.nextLink" in first
    following = (await client.get(first["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"})).json()
    assert following["value"][0]["id"] != first["value"][0]["id"]


async def test_a_flagged_user_reads_at_risk_and_an_unflagged_one_reads_no_risk(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    pool = simulator.database.pool
    flagged = await pool.fetchval("SELECT u.user_principal_name FROM entra_users u JOIN entra_risky_users r ON r.user_id = u.id LIMIT 1")
    await pool.execute("UPDATE entra_risky_users SET risk_level = 'high', risk_state = 'atRisk' WHERE user_id = $1", await object_id(simulator, flagged))
    clean = await pool.fetchval("SELECT user_principal_name FROM entra_users u WHERE NOT EXISTS (SELECT 1 FROM entra_risky_users r WHERE r.user_id = u.id) LIMIT 1")
    graph = await entra(simulator, client)
    risky = await graph.risky_user(flagged)
    assert risky.at_risk and risky.risk_level == "high" and risky.risk_last_updated is not None
    calm = await graph.risky_user(clean)
    assert (calm.risk_level, calm.risk_state, calm.at_risk) == ("none", "none", False)


async def test_disabling_twice_under_one_key_patches_once(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    ana_id = await object_id(simulator, ANA)
    graph = await entra(simulator, client)
    first = await graph.set_account_enabled(ANA, False, idempotency_key="off-1", ticket_id="T-1")
    again = await graph.set_account_enabled(ANA, False, idempotency_key="off-1", ticket_id="T-1")
    assert (first.changed, first.account_enabled, again.changed, again.account_enabled) == (True, False, False, False)
    pool = simulator.database.pool
    assert await pool.fetchval("SELECT account_enabled FROM entra_users WHERE id = $1", ana_id) is False
    assert await pool.fetchval("SELECT count(*) FROM entra_changes WHERE user_id = $1 AND operation = 'disable'", ana_id) == 1
    enabled = await graph.set_account_enabled(ANA, True, idempotency_key="on-1", ticket_id="T-2")
    assert enabled.changed and (await graph.get_user(ANA)).account_enabled


async def test_revoking_twice_under_one_key_revokes_once_and_a_new_key_revokes_again(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    ana_id = await object_id(simulator, ANA)
    graph = await entra(simulator, client)
    pool = simulator.database.pool
    before = await pool.fetchval("SELECT sign_in_sessions_valid_from FROM entra_users WHERE id = $1", ana_id)
    first = await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-1", ticket_id="T-1")
    again = await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-1", ticket_id="T-1")
    assert first.changed and not again.changed and first.valid_from > before and again.valid_from == first.valid_from
    count = "SELECT count(*) FROM entra_changes WHERE user_id = $1 AND operation = 'revoke_sessions'"
    assert await pool.fetchval(count, ana_id) == 1
    kept = await pool.fetchval("SELECT properties->'revocations' FROM entra_user_extensions WHERE user_id = $1 AND extension_name = $2", ana_id, EXTENSION)
    assert key_mark("rev-1") in kept and "rev-1" not in kept
    later = await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-2", ticket_id="T-2")
    assert later.changed and later.valid_from >= first.valid_from and await pool.fetchval(count, ana_id) == 2


async def test_a_revocation_whose_key_was_lost_in_a_crash_is_repeated_not_skipped(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    ana_id = await object_id(simulator, ANA)
    """The revocation happened but the process died before the key was written: the retry revokes
    again (harmless) rather than answering "done" for something it cannot prove."""
    graph = await entra(simulator, client)
    await simulator.hook("faults", system="entra", method="POST", path="/extensions", status=503)
    with pytest.raises(ApiError) as crashed:
        await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-x", ticket_id="T-1")
    assert crashed.value.transient
    retried = await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-x", ticket_id="T-1")
    again = await graph.revoke_sign_in_sessions(ANA, idempotency_key="rev-x", ticket_id="T-1")
    assert retried.changed and not again.changed
    assert await simulator.database.pool.fetchval("SELECT count(*) FROM entra_changes WHERE user_id = $1 AND operation = 'revoke_sessions'", ana_id) == 2


async def test_a_bad_or_revoked_token_is_graphs_401(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    with pytest.raises(ApiError) as bad:
        await EntraHttp(simulator.urls()["entra"], "not-a-token", client).get_user(ANA)
    assert (bad.value.status, bad.value.code, bad.value.transient) == (401, "InvalidAuthenticationToken", False)
    assert "request-id" in bad.value.summary
    graph = await entra(simulator, client, coworker="leaver")
    await graph.get_user(ANA)
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "leaver", "system": "entra"})).raise_for_status()
    with pytest.raises(ApiError) as revoked:
        await graph.get_user(ANA)
    assert (revoked.value.status, revoked.value.code) == (401, "InvalidAuthenticationToken")
    raw = await client.get(f"{simulator.urls()['entra']}/v1.0/users/{ANA}")
    error = raw.json()["error"]
    assert raw.status_code == 401 and raw.headers["WWW-Authenticate"].startswith("Bearer")
    assert error["code"] == "InvalidAuthenticationToken" and set(error["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_a_missing_scope_is_graphs_403_and_nothing_changes(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    ana_id = await object_id(simulator, ANA)
    reader = await entra(simulator, client, ["users.read"], coworker="reader")
    with pytest.raises(ApiError) as denied:
        await reader.set_account_enabled(ANA, False, idempotency_key="k", ticket_id="T-1")
    assert (denied.value.status, denied.value.code) == (403, "Authorization_RequestDenied") and "users.disable" in denied.value.summary
    with pytest.raises(ApiError) as risk:
        await reader.risky_user(ANA)
    assert (risk.value.status, risk.value.code) == (403, "Authorization_RequestDenied")
    assert await simulator.database.pool.fetchval("SELECT account_enabled FROM entra_users WHERE id = $1", ana_id) is True


async def test_an_unknown_user_is_graphs_404(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    graph = await entra(simulator, client)
    for call in (graph.get_user("nobody@acme.example"), graph.member_of("nobody@acme.example"), graph.risky_user("nobody@acme.example"),
                 graph.revoke_sign_in_sessions("nobody@acme.example", idempotency_key="k", ticket_id="T")):
        with pytest.raises(ApiError) as missing:
            await call
        assert (missing.value.status, missing.value.code) == (404, "Request_ResourceNotFound") and "nobody@acme.example" in missing.value.summary


async def test_a_429_arrives_transient_with_its_retry_after(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    graph = await entra(simulator, client)
    await simulator.hook("faults", system="entra", status=429, retry_after=2)
    with pytest.raises(ApiError) as limited:
        await graph.get_user(ANA)
    assert (limited.value.status, limited.value.code, limited.value.transient) == (429, "TooManyRequests", True)
    assert limited.value.retry_after == pytest.approx(2, abs=0.01)
    assert (await graph.get_user(ANA)).user_principal_name == ANA  # one fault, then Graph answers again
