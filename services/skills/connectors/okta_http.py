"""The Okta connector over Okta's Management REST API, for a deployment connected to a real Okta org.

Users (``GET /api/v1/users/{id|login}``, ``POST /api/v1/users?activate=false``,
``POST /api/v1/users/{id}/lifecycle/{activate|deactivate|suspend|unsuspend|reset_password}``), apps
and their users (``/api/v1/apps``, ``/api/v1/apps/{id}/users``), a user's groups and MFA factors
(``/api/v1/users/{id}/factors``, ``DELETE .../factors/{fid}``). The credential is an API token sent
as ``Authorization: SSWS <token>``, in that header and nowhere else. Okta's errors
(``{"errorCode": "E0000007", "errorSummary": ..., "errorCauses": [...]}``) become ``ApiError``s with
Okta's code; 429 (with the ``X-Rate-Limit-*`` headers' reset time in the summary) and 5xx are
transient, and the runner retries them. Lists follow the ``Link: <...>; rel="next"`` pages.

Okta takes no idempotency key, so each write is made safe to repeat instead: a lifecycle operation
reads the user first and reports "already so" rather than calling again (activating twice would send
a second activation email); an assignment that exists is returned, not re-posted; an unassigned app
or an unenrolled factor answers 404, which the skills read as done. A password reset is the one call
that acts each time (Okta emails a new link); the runner records its outcome so a step is not re-run.

An app user's last sign-in comes from the System Log (``user.authentication.sso`` events for the
app). The log keeps 90 days - exactly the window an access review asks about - so "no sign-in
found" means "none in the last 90 days", and the assignment's ``last_sign_in`` is then None.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from services.skills.connectors.errors import ApiError, unreachable
from services.skills.connectors.okta import (
    App,
    AppUser,
    Assignment,
    Factor,
    FactorReset,
    Group,
    Lifecycle,
    NewUser,
    OktaError,
    Reset,
    User,
    masked_phone,
)

SYSTEM = "okta"
#: Pages followed at most, per list.
MAX_PAGES = 50
#: How far back the System Log is read for sign-ins: all it keeps (Okta retains 90 days).
SYSTEM_LOG_DAYS = 90


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def error_from(response: httpx.Response) -> OktaError:
    """Okta's error body (or what a proxy answered instead) as an ``ApiError`` with Okta's code."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("errorCode") or f"HTTP{response.status_code}")
    summary = str(body.get("errorSummary") or response.reason_phrase or "error")
    causes = [c.get("errorSummary") for c in body.get("errorCauses") or [] if isinstance(c, dict) and c.get("errorSummary")]
    if causes:
        summary += " (" + "; ".join(causes) + ")"
    if response.status_code == 429:
        reset = response.headers.get("X-Rate-Limit-Reset")
        limit = response.headers.get("X-Rate-Limit-Limit")
        if reset and reset.isdigit():
            wait = max(0, int(reset) - int(datetime.now(UTC).timestamp()))
            summary += f"; the limit{f' of {limit}' if limit else ''} resets in {wait} s"
    return OktaError(response.status_code, code, summary[:500])


def user_from(body: dict[str, Any]) -> User:
    profile = body.get("profile") or {}
    return User(
        id=body["id"],
        login=profile.get("login", ""),
        email=profile.get("email", ""),
        first_name=profile.get("firstName", ""),
        last_name=profile.get("lastName", ""),
        status=body.get("status", ""),
        country=profile.get("countryCode") or "",
        department=profile.get("department"),
        employee_number=profile.get("employeeNumber"),
        title=profile.get("title"),
        manager_id=profile.get("managerId"),
    )


def app_user_from(app_id: str, body: dict[str, Any], last_sign_in: datetime | None = None) -> AppUser:
    credentials = body.get("credentials") or {}
    profile = body.get("profile") or {}
    return AppUser(
        app_id=app_id,
        user_id=body["id"],
        login=credentials.get("userName") or profile.get("email") or "",
        scope=body.get("scope", "USER"),
        status=body.get("status", ""),
        sync_state=body.get("syncState", "DISABLED"),
        created=_when(body.get("created")) or datetime.now(UTC),
        last_sign_in=last_sign_in,
    )


def factor_from(body: dict[str, Any]) -> Factor:
    profile = body.get("profile") or {}
    kind = body.get("factorType", "")
    device = profile.get("name") if kind == "push" else (masked_phone(profile.get("phoneNumber", "")) if kind == "sms" else None)
    return Factor(body["id"], kind, body.get("provider", ""), body.get("status", ""), device)


class OktaHttp:
    """The Okta connector over HTTP, as the coworker whose API token it holds."""

    def __init__(self, base_url: str, token: str | None, client: httpx.AsyncClient, *, page_size: int = 200) -> None:
        self.base_url, self._token, self._client = base_url.rstrip("/"), token, client
        self.page_size = page_size  # Okta's ``limit``: items a page of a list holds

    # --- the wire ---------------------------------------------------------------------------

    async def _send(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None) -> httpx.Response:
        if not self._token:
            raise OktaError(401, "E0000011", "Invalid token provided (no Okta API token was issued to this coworker)")
        headers = {"Authorization": f"SSWS {self._token}", "Accept": "application/json", "User-Agent": "workforce-skills/1"}
        try:
            response = await self._client.request(method, url, params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise unreachable(SYSTEM, exc) from None
        if response.status_code >= 400:
            raise error_from(response)
        return response

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        response = await self._send(method, f"{self.base_url}{path}", params=params, body=body)
        return response.json() if response.content else None

    async def _list(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged list, following ``Link: rel="next"``."""
        items: list[dict[str, Any]] = []
        response = await self._send("GET", f"{self.base_url}{path}", params=params)
        for _ in range(MAX_PAGES):
            items += response.json()
            following = response.links.get("next", {}).get("url")
            if not following:
                break
            response = await self._send("GET", following)
        return items

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="@")

    # --- users ------------------------------------------------------------------------------

    async def get_user(self, login_or_id: str) -> User:
        return user_from(await self._call("GET", f"/api/v1/users/{self._id(login_or_id)}"))

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
        body = await self._call("POST", f"/api/v1/users/{self._id(user_id)}/lifecycle/reset_password", params={"sendEmail": str(send_email).lower()})
        user = await self.get_user(user_id)
        if send_email:
            return Reset(user_id=user.id, status=user.status, emailed_to=user.email)
        url = (body or {}).get("resetPasswordUrl", "")
        return Reset(user_id=user.id, status=user.status, token=url.rstrip("/").rsplit("/", 1)[-1] or None)

    async def create_user(self, profile: NewUser, *, idempotency_key: str, ticket_id: str) -> User:
        """A STAGED user; a retry that finds the STAGED user it made returns it."""
        try:
            existing = await self.get_user(profile.login)
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            if existing.status == "STAGED" and existing.email.lower() == profile.email.lower():
                return existing
        fields = {
            "login": profile.login, "email": profile.email, "firstName": profile.first_name, "lastName": profile.last_name,
            "countryCode": profile.country, "department": profile.department, "title": profile.title,
            "employeeNumber": profile.employee_number, "managerId": profile.manager_id,
        }
        body = await self._call("POST", "/api/v1/users", params={"activate": "false"}, body={"profile": {k: v for k, v in fields.items() if v is not None}})
        return user_from(body)

    async def _lifecycle(self, user_id: str, operation: str, done: set[str], params: dict[str, str] | None = None) -> tuple[Lifecycle, Any]:
        before = await self.get_user(user_id)
        if before.status in done:
            return Lifecycle(before.id, operation, before.status, before.status, changed=False), None
        body = await self._call("POST", f"/api/v1/users/{self._id(before.id)}/lifecycle/{operation}", params=params)
        after = await self.get_user(before.id)
        return Lifecycle(before.id, operation, before.status, after.status), body

    async def activate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Lifecycle:
        done, _ = await self._lifecycle(user_id, "activate", {"PROVISIONED", "ACTIVE"}, {"sendEmail": str(send_email).lower()})
        if not done.changed or not send_email:
            return done
        email = (await self.get_user(done.user_id)).email
        return Lifecycle(done.user_id, done.operation, done.from_status, done.status, emailed_to=email)

    async def deactivate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return (await self._lifecycle(user_id, "deactivate", {"DEPROVISIONED"}, {"sendEmail": "false"}))[0]

    async def suspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return (await self._lifecycle(user_id, "suspend", {"SUSPENDED"}))[0]

    async def unsuspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return (await self._lifecycle(user_id, "unsuspend", {"ACTIVE"}))[0]

    # --- applications -----------------------------------------------------------------------

    async def list_apps(self, q: str | None = None) -> list[App]:
        params: dict[str, Any] = {"limit": self.page_size}
        if q:
            params["q"] = q
        return [App(a["id"], a.get("name", ""), a.get("label", ""), a.get("status", ""), a.get("signOnMode", "")) for a in await self._list("/api/v1/apps", params)]

    async def _last_sign_ins(self, app_id: str) -> dict[str, datetime]:
        """Each user's latest SSO into the app within the System Log's window."""
        since = (datetime.now(UTC) - timedelta(days=SYSTEM_LOG_DAYS)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        events = await self._list("/api/v1/logs", {"since": since, "limit": 1000, "filter": f'eventType eq "user.authentication.sso" and target.id eq "{app_id}"'})
        latest: dict[str, datetime] = {}
        for event in events:
            who, when = (event.get("actor") or {}).get("id"), _when(event.get("published"))
            if who and when and (who not in latest or when > latest[who]):
                latest[who] = when
        return latest

    async def list_app_users(self, app_id: str) -> list[AppUser]:
        users = await self._list(f"/api/v1/apps/{self._id(app_id)}/users", {"limit": self.page_size})
        used = await self._last_sign_ins(app_id)
        return [app_user_from(app_id, u, used.get(u["id"])) for u in users]

    async def get_app_user(self, app_id: str, user_id: str) -> AppUser:
        return app_user_from(app_id, await self._call("GET", f"/api/v1/apps/{self._id(app_id)}/users/{self._id(user_id)}"))

    async def list_user_apps(self, user_id: str) -> list[AppUser]:
        user = await self.get_user(user_id)
        apps = await self._list("/api/v1/apps", {"filter": f'user.id eq "{user.id}"', "expand": f"user/{user.id}", "limit": self.page_size})
        return [app_user_from(a["id"], (a.get("_embedded") or {}).get("user") or {"id": user.id}) for a in apps]

    async def assign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
        try:
            existing = await self.get_app_user(app_id, user_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            return Assignment(app_id, user_id, "assign", False, existing.status, existing.sync_state)
        made = app_user_from(app_id, await self._call("POST", f"/api/v1/apps/{self._id(app_id)}/users", body={"id": user_id, "scope": "USER"}))
        return Assignment(app_id, made.user_id, "assign", True, made.status, made.sync_state)

    async def unassign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
        await self._call("DELETE", f"/api/v1/apps/{self._id(app_id)}/users/{self._id(user_id)}")
        return Assignment(app_id, user_id, "unassign", True)

    # --- groups and factors -----------------------------------------------------------------

    async def list_user_groups(self, user_id: str) -> list[Group]:
        groups = await self._list(f"/api/v1/users/{self._id(user_id)}/groups")
        return [Group(g["id"], (g.get("profile") or {}).get("name", ""), (g.get("profile") or {}).get("description") or "") for g in groups]

    async def list_factors(self, user_id: str) -> list[Factor]:
        return [factor_from(f) for f in await self._call("GET", f"/api/v1/users/{self._id(user_id)}/factors")]

    async def reset_factor(self, user_id: str, factor_id: str, *, idempotency_key: str, ticket_id: str) -> FactorReset:
        factor = factor_from(await self._call("GET", f"/api/v1/users/{self._id(user_id)}/factors/{self._id(factor_id)}"))
        await self._call("DELETE", f"/api/v1/users/{self._id(user_id)}/factors/{self._id(factor_id)}")
        return FactorReset(user_id, factor.id, factor.factor_type, factor.provider)
