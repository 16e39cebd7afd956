"""The Entra client reads Microsoft Graph's documented responses (fixtures written from the
documentation's examples, served by a tiny fake), and the Entra simulator answers with every
documented key in the documented JSON type, so neither can drift from Graph's docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.skills.connectors.entra_http import EntraHttp
from runtime.vendor.errors import ApiError
from tests.integration.vendor_contract import fixture, missing, serving

USER = fixture("entra", "user_get")
ANA = "ana.silva@acme.example"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def test_the_client_reads_graphs_documented_user_groups_and_risk(client: httpx.AsyncClient) -> None:
    uid = USER["id"]
    routes = [
        ("GET", f"/v1.0/users/({uid}|AdeleV@contoso.com)", 200, USER),
        ("GET", f"/v1.0/users/{uid}/memberOf/microsoft.graph.group", 200, fixture("entra", "member_of")),
        ("GET", f"/v1.0/identityProtection/riskyUsers/{uid}", 200, fixture("entra", "risky_user_get")),
    ]
    async with serving(routes) as url:
        graph = EntraHttp(url, "token", client)
        user = await graph.get_user("AdeleV@contoso.com")
        assert (user.id, user.user_principal_name, user.employee_id, user.usage_location, user.account_enabled) == (uid, "AdeleV@contoso.com", "10001", "US", True)
        assert user.sign_in_sessions_valid_from == datetime(2021, 8, 31, 12, 14, 58, tzinfo=UTC)
        [group] = await graph.member_of(uid)
        assert (group.display_name, group.security_enabled, group.mail_enabled) == ("SG-Retail", True, False)
        risk = await graph.risky_user(uid)
        assert (risk.risk_level, risk.risk_state, risk.at_risk) == ("high", "atRisk", True)


async def test_the_client_writes_as_graph_documents_and_reads_its_error_body(client: httpx.AsyncClient) -> None:
    uid = USER["id"]
    routes = [
        ("GET", "/v1.0/users/nobody@contoso.com", 404, fixture("entra", "error_404")),
        ("GET", f"/v1.0/users/{uid}/extensions/com.workforce.idempotency", 404, fixture("entra", "error_404")),
        ("GET", f"/v1.0/users/{uid}", 200, USER),
        ("PATCH", f"/v1.0/users/{uid}", 204, None),
        ("POST", f"/v1.0/users/{uid}/revokeSignInSessions", 200, fixture("entra", "revoke_sign_in_sessions")),
        ("POST", f"/v1.0/users/{uid}/extensions", 201, fixture("entra", "open_extension")),
    ]
    async with serving(routes) as url:
        graph = EntraHttp(url, "token", client)
        assert (await graph.set_account_enabled(uid, False, idempotency_key="k", ticket_id="T")).changed
        assert (await graph.revoke_sign_in_sessions(uid, idempotency_key="k", ticket_id="T")).changed
        with pytest.raises(ApiError) as missing_user:
            await graph.get_user("nobody@contoso.com")
    error = fixture("entra", "error_404")["error"]
    assert (missing_user.value.status, missing_user.value.code, missing_user.value.transient) == (404, "Request_ResourceNotFound", False)
    assert error["message"] in missing_user.value.summary and error["innerError"]["request-id"] in missing_user.value.summary


async def test_the_simulator_answers_with_graphs_documented_keys(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    token = await simulator.token("entra", "jordan", ["users.read", "risk.read", "sessions.revoke"])
    base, auth = f"{simulator.urls()['entra']}/v1.0", {"Authorization": f"Bearer {token}"}
    pool = simulator.database.pool
    flagged = await pool.fetchval("SELECT user_id FROM entra_risky_users LIMIT 1")
    uid = await pool.fetchval("SELECT id FROM entra_users WHERE user_principal_name = $1", ANA)
    select = USER["@odata.context"].split("users(")[1].split(")")[0]
    await client.post(f"{base}/users/{uid}/extensions", headers=auth, json={"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.workforce.idempotency", "revocations": ["x"]})
    answers = {
        "user_get": await client.get(f"{base}/users/{ANA}", params={"$select": select}, headers=auth),
        "member_of": await client.get(f"{base}/users/{ANA}/memberOf/microsoft.graph.group", headers=auth),
        "risky_user_get": await client.get(f"{base}/identityProtection/riskyUsers/{flagged}", headers=auth),
        "revoke_sign_in_sessions": await client.post(f"{base}/users/{uid}/revokeSignInSessions", headers=auth),
        "open_extension": await client.get(f"{base}/users/{uid}/extensions/com.workforce.idempotency", headers=auth),
        "error_404": await client.get(f"{base}/users/nobody@acme.example", headers=auth),
    }
    for name, response in answers.items():
        assert response.headers.get("request-id"), name
        assert missing(fixture("entra", name), response.json()) == [], name
    assert (await client.patch(f"{base}/users/{uid}", headers=auth, json={"accountEnabled": True})).status_code == 403  # no users.disable: Graph's 403
