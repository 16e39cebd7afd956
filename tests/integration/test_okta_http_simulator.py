"""The Okta client against the Okta simulator over real HTTP: every connector operation, Okta's 401,
403 and 404 bodies as an Okta admin sees them, a 429 (the hook's and the simulator's own rate limit)
as a transient error with its wait, and every write repeated under one idempotency key acting once
on the simulator's database, although the simulated Okta, like the real one, takes no key: the
client finds its earlier write in the System Log by the key it carried in its User-Agent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.sandbox.api import okta as okta_api
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta import NewUser
from services.skills.connectors.okta_http import OktaHttp

SCOPES = ["users.read", "users.create", "users.lifecycle", "users.reset_password", "apps.read", "apps.assign", "apps.unassign", "factors.read", "factors.reset", "groups.read"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def okta(simulator, client: httpx.AsyncClient, scopes: list[str] = SCOPES, **kwargs: object) -> OktaHttp:  # noqa: ANN001
    token = await simulator.token("okta", "jordan", scopes)
    return OktaHttp(simulator.urls()["okta"], token, client, **kwargs)  # type: ignore[arg-type]


async def one(simulator, sql: str, *args: object) -> object:  # noqa: ANN001
    return await simulator.database.pool.fetchval(sql, *args)


async def active_login(simulator, *, with_factors: int = 0) -> str:  # noqa: ANN001
    return await one(  # type: ignore[return-value]
        simulator, "SELECT u.login FROM okta_users u WHERE u.status = 'ACTIVE' AND (SELECT count(*) FROM okta_factors f WHERE f.user_id = u.id) >= $1 ORDER BY u.login LIMIT 1", with_factors
    )


# --- reads --------------------------------------------------------------------------------------


async def test_a_user_is_found_by_login_short_name_or_id_in_oktas_shape(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    login = await active_login(simulator)
    user = await o.get_user(login)
    assert (user.login, user.status) == (login, "ACTIVE") and user.id.startswith("00u")
    assert await o.get_user(user.id) == user == await o.get_user(login.split("@")[0])
    raw = await client.get(f"{o.base}/api/v1/users/{user.id}", headers=o.auth_headers())
    assert raw.json()["profile"]["login"] == login and raw.json()["_links"]["self"]["href"].endswith(f"/api/v1/users/{user.id}")
    assert {"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", "X-Okta-Request-Id"} <= set(raw.headers.keys()) | {h.title() for h in raw.headers.keys()}


async def test_apps_their_users_across_pages_groups_and_factors_read_as_the_skills_need_them(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client, page_size=7)
    apps = await o.list_apps()
    assert len(apps) == await one(simulator, "SELECT count(*) FROM okta_apps") and len({a.id for a in apps}) == len(apps)
    busiest = await one(simulator, "SELECT app_id FROM okta_app_users GROUP BY app_id ORDER BY count(*) DESC, app_id LIMIT 1")
    app = next(a for a in apps if a.id == busiest)
    assert [a.id for a in await o.list_apps(app.label[:4])] == [a.id for a in apps if a.label.lower().startswith(app.label[:4].lower()) or a.name.lower().startswith(app.label[:4].lower())]
    users = await o.list_app_users(app.id)
    assert len(users) == await one(simulator, "SELECT count(*) FROM okta_app_users WHERE app_id = $1", app.id) > 7  # more than one page, by Link: rel="next"
    signed_in = await one(simulator, "SELECT count(*) FROM okta_app_sign_ins s JOIN okta_app_users au USING (app_id, user_id) WHERE s.app_id = $1 AND s.last_sign_in > now() - interval '90 days'", app.id)
    assert sum(u.last_sign_in is not None for u in users) == signed_in  # from the System Log's user.authentication.sso events
    someone = users[0]
    assert (await o.get_app_user(app.id, someone.user_id)).login == someone.login
    assert app.id in {a.app_id for a in await o.list_user_apps(someone.user_id)}
    groups = await o.list_user_groups(someone.user_id)
    assert "Everyone" in {g.name for g in groups}
    everyone = next(g for g in groups if g.name == "Everyone")
    assert someone.login in await o.list_group_members(everyone.id)
    login = await active_login(simulator, with_factors=2)
    factors = await o.list_factors(login)
    assert len(factors) == await one(simulator, "SELECT count(*) FROM okta_factors f JOIN okta_users u ON u.id = f.user_id WHERE u.login = $1", login) >= 2
    assert all(f.name and f.status in {"ACTIVE", "PENDING_ACTIVATION"} for f in factors)
    assert all("X" in (f.device or "X") for f in factors if f.factor_type == "sms")  # a phone shows only its last digits


# --- refusals -----------------------------------------------------------------------------------


async def test_a_bad_or_revoked_token_is_oktas_401_and_a_missing_scope_its_403(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    login = await active_login(simulator)
    with pytest.raises(ApiError) as bad:
        await OktaHttp(simulator.urls()["okta"], "00notatoken", client).get_user(login)
    assert (bad.value.status, bad.value.code, bad.value.summary, bad.value.transient) == (401, "E0000011", "Invalid token provided", False)
    raw = await client.get(f"{simulator.urls()['okta']}/api/v1/users/{login}", headers={"Authorization": "SSWS 00notatoken"})
    assert set(raw.json()) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"} and raw.json()["errorId"].startswith("oae")
    o = await okta(simulator, client, ["users.read"])
    with pytest.raises(ApiError) as forbidden:
        await o.reset_password((await o.get_user(login)).id, idempotency_key="k", ticket_id="T-1")
    assert (forbidden.value.status, forbidden.value.code) == (403, "E0000006") and "users.reset_password" in forbidden.value.summary
    assert await one(simulator, "SELECT count(*) FROM okta_password_resets") == 0
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "jordan", "system": "okta"})).raise_for_status()
    with pytest.raises(ApiError) as revoked:
        await o.get_user(login)
    assert (revoked.value.status, revoked.value.code) == (401, "E0000011")


async def test_what_is_not_there_is_oktas_404_and_a_bad_profile_its_400_with_causes(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    for call in (o.get_user("nobody.here@acme.example"), o.list_app_users("0oanothere"), o.list_factors("00unothere")):
        with pytest.raises(ApiError) as missing:
            await call
        assert (missing.value.status, missing.value.code) == (404, "E0000007") and "Resource not found" in missing.value.summary
    with pytest.raises(ApiError) as invalid:
        await o.create_user(NewUser("not-an-email", "x@acme.example", "Pat", "Doe", "US", "Finance"), idempotency_key="k", ticket_id="T-1")
    assert (invalid.value.status, invalid.value.code) == (400, "E0000001")
    assert "Api validation failed: login" in invalid.value.summary and "Username must be in the form of an email address" in invalid.value.summary


async def test_a_429_is_transient_and_says_how_long_to_wait(simulator, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    login = await active_login(simulator)
    await simulator.hook("faults", system="okta", status=429, retry_after=1)
    with pytest.raises(ApiError) as hooked:
        await o.get_user(login)
    assert (hooked.value.status, hooked.value.transient) == (429, True) and hooked.value.retry_after is not None and 0 <= hooked.value.retry_after <= 2
    monkeypatch.setitem(okta_api.LIMITS, "/api/v1/users", 1)  # the simulator's own limit: E0000047 past it
    await o.get_user(login)
    with pytest.raises(ApiError) as limited:
        await o.get_user(login)
    assert (limited.value.status, limited.value.code, limited.value.transient) == (429, "E0000047", True)
    assert limited.value.retry_after is not None and 0 <= limited.value.retry_after <= 60 and "resets in" in limited.value.summary


# --- writes: each acts once per idempotency key ---------------------------------------------------


async def test_a_password_reset_repeated_with_its_key_resets_once_even_after_a_lost_answer(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    user = await o.get_user(await active_login(simulator))
    first = await o.reset_password(user.id, idempotency_key="reset-1", ticket_id="T-1")
    again = await o.reset_password(user.id, idempotency_key="reset-1", ticket_id="T-1")
    assert first == again and (first.status, first.emailed_to) == ("RECOVERY", user.email)
    assert await one(simulator, "SELECT count(*) FROM okta_password_resets WHERE user_id = $1", user.id) == 1
    assert await one(simulator, "SELECT count(*) FROM okta_emails WHERE user_id = $1 AND template = 'password_reset'", user.id) == 1
    assert await one(simulator, "SELECT ticket_id FROM okta_password_resets WHERE user_id = $1", user.id) == ""  # Okta knows no ticket; ours rides in the User-Agent
    # The answer is lost (the simulator acted, then the connection dropped): the retry finds the reset in the System Log.
    other = await o.get_user((await simulator.database.pool.fetch("SELECT login FROM okta_users WHERE status = 'ACTIVE' ORDER BY login LIMIT 2"))[1]["login"])
    hold = await simulator.hook("holds", system="okta", method="POST", path="/lifecycle/reset_password", when="after")
    async with httpx.AsyncClient(timeout=1) as impatient:
        with pytest.raises(ApiError) as lost:
            await OktaHttp(o.base, o._credential, impatient).reset_password(other.id, idempotency_key="reset-2", ticket_id="T-2")
    assert (lost.value.code, lost.value.transient) == ("unreachable", True)
    async with simulator.admin as admin:
        (await admin.post(f"/holds/{hold['id']}/release")).raise_for_status()
    retried = await o.reset_password(other.id, idempotency_key="reset-2", ticket_id="T-2")
    assert retried.status == "RECOVERY" and await one(simulator, "SELECT count(*) FROM okta_password_resets WHERE user_id = $1", other.id) == 1
    fresh = await o.reset_password(other.id, idempotency_key="reset-3", ticket_id="T-3")  # a new key is a new reset, as on Okta
    assert fresh.status == "RECOVERY" and await one(simulator, "SELECT count(*) FROM okta_password_resets WHERE user_id = $1", other.id) == 2


async def test_a_new_user_is_created_and_activated_once_per_key_and_nobody_elses_account_is_adopted(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    hire = NewUser("pat.doe@acme.example", "pat.doe@acme.example", "Pat", "Doe", "US", "Finance", title="Analyst", employee_number="990001")
    made = await o.create_user(hire, idempotency_key="create-1", ticket_id="T-1")
    again = await o.create_user(hire, idempotency_key="create-1", ticket_id="T-1")
    assert made == again and (made.status, made.title, made.employee_number) == ("STAGED", "Analyst", "990001")
    assert await one(simulator, "SELECT count(*) FROM okta_users WHERE login = 'pat.doe@acme.example'") == 1
    with pytest.raises(ApiError) as taken:  # another request (another key) does not adopt the account
        await o.create_user(hire, idempotency_key="create-2", ticket_id="T-2")
    assert (taken.value.status, taken.value.code) == (400, "E0000001") and "already exists" in taken.value.summary
    activated = await o.activate_user(made.id, idempotency_key="act-1", ticket_id="T-1")
    repeat = await o.activate_user(made.id, idempotency_key="act-1", ticket_id="T-1")
    assert (activated.from_status, activated.status, activated.changed, activated.emailed_to) == ("STAGED", "PROVISIONED", True, "pat.doe@acme.example")
    assert (repeat.status, repeat.changed) == ("PROVISIONED", True)  # the log says this key did it
    assert await one(simulator, "SELECT count(*) FROM okta_emails WHERE user_id = $1 AND template = 'user_activation'", made.id) == 1
    assert (await o.activate_user(made.id, idempotency_key="act-2", ticket_id="T-2")).changed is False  # already so, by someone else's request


async def test_suspend_unsuspend_and_deactivate_act_once_per_key(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    user = await o.get_user(await active_login(simulator))
    changes = "SELECT count(*) FROM okta_user_lifecycle WHERE user_id = $1 AND operation = $2"
    for operation, call, start, end in (("suspend", o.suspend_user, "ACTIVE", "SUSPENDED"), ("unsuspend", o.unsuspend_user, "SUSPENDED", "ACTIVE"), ("deactivate", o.deactivate_user, "ACTIVE", "DEPROVISIONED")):
        done = await call(user.id, idempotency_key=f"{operation}-1", ticket_id="T-1")
        again = await call(user.id, idempotency_key=f"{operation}-1", ticket_id="T-1")
        assert (done.from_status, done.status, done.changed) == (start, end, True)
        assert (again.status, again.changed) == (end, True), operation
        assert await one(simulator, changes, user.id, operation) == 1, operation
        other = await call(user.id, idempotency_key=f"{operation}-other", ticket_id="T-2")
        assert (other.status, other.changed) == (end, False)  # already so: Okta is not asked again
    assert await one(simulator, "SELECT count(*) FROM okta_app_users WHERE user_id = $1", user.id) == 0  # deactivation deprovisions the apps


async def test_an_assignment_is_made_and_removed_once_per_key(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    app_id, user_id = (await simulator.database.pool.fetchrow(
        "SELECT a.id, u.id AS user_id FROM okta_apps a, okta_users u WHERE a.status = 'ACTIVE' AND a.licence_limit IS NULL AND u.status = 'ACTIVE'"
        " AND NOT EXISTS (SELECT 1 FROM okta_app_users au WHERE au.app_id = a.id AND au.user_id = u.id) ORDER BY a.id, u.id LIMIT 1"
    )).values()
    assigned = await o.assign_user(app_id, user_id, idempotency_key="assign-1", ticket_id="T-1")
    again = await o.assign_user(app_id, user_id, idempotency_key="assign-1", ticket_id="T-1")
    assert (assigned.changed, assigned.status, assigned.sync_state) == (True, "PROVISIONED", "SYNCHRONIZED") and again == assigned
    assert (await o.assign_user(app_id, user_id, idempotency_key="assign-2", ticket_id="T-2")).changed is False  # it was there already
    assert await one(simulator, "SELECT count(*) FROM okta_app_user_changes WHERE app_id = $1 AND user_id = $2 AND action = 'assign'", app_id, user_id) == 1
    removed = await o.unassign_user(app_id, user_id, idempotency_key="unassign-1", ticket_id="T-1")
    assert removed == await o.unassign_user(app_id, user_id, idempotency_key="unassign-1", ticket_id="T-1") and removed.changed
    assert await one(simulator, "SELECT count(*) FROM okta_app_user_changes WHERE app_id = $1 AND user_id = $2 AND action = 'unassign'", app_id, user_id) == 1
    with pytest.raises(ApiError) as gone:  # another key finds nothing it removed: Okta's own 404
        await o.unassign_user(app_id, user_id, idempotency_key="unassign-2", ticket_id="T-2")
    assert (gone.value.status, gone.value.code) == (404, "E0000007")


async def test_a_lost_factor_is_reset_once_per_key(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    login = await active_login(simulator, with_factors=2)
    user = await o.get_user(login)
    factor = (await o.list_factors(user.id))[0]
    reset = await o.reset_factor(user.id, factor.id, idempotency_key="factor-1", ticket_id="T-1")
    again = await o.reset_factor(user.id, factor.id, idempotency_key="factor-1", ticket_id="T-1")
    assert (reset.factor_type, reset.provider, reset.changed) == (factor.factor_type, factor.provider, True)
    assert (again.user_id, again.factor_id, again.changed) == (user.id, factor.id, True)
    assert await one(simulator, "SELECT count(*) FROM okta_factor_resets WHERE factor_id = $1", factor.id) == 1
    assert factor.id not in {f.id for f in await o.list_factors(user.id)}
    with pytest.raises(ApiError) as gone:
        await o.reset_factor(user.id, factor.id, idempotency_key="factor-2", ticket_id="T-2")
    assert (gone.value.status, gone.value.code) == (404, "E0000007")


async def test_the_system_log_records_each_write_with_its_client_and_polls_without_until(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    o = await okta(simulator, client)
    user = await o.get_user(await active_login(simulator))
    await o.suspend_user(user.id, idempotency_key="log-1", ticket_id="T-9")
    params = {"filter": f'eventType eq "user.lifecycle.suspend" and target.id eq "{user.id}"', "since": "2000-01-01T00:00:00.000Z"}
    polled = await client.get(f"{o.base}/api/v1/logs", params=params, headers=o.auth_headers())
    [event] = polled.json()
    assert event["actor"]["id"] == "jordan" and event["target"][0]["id"] == user.id
    assert "ticket=T-9" in event["client"]["userAgent"]["rawUserAgent"] and event["debugContext"]["debugData"]["requestId"] == event["transaction"]["id"]
    assert 'rel="next"' in polled.headers["link"]  # a polling request always links on
    bounded = await client.get(f"{o.base}/api/v1/logs", params={**params, "until": "2999-01-01T00:00:00.000Z"}, headers=o.auth_headers())
    assert len(bounded.json()) == 1 and 'rel="next"' not in bounded.headers["link"]
