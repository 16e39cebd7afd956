"""The Okta connector over Okta's Management REST API: the one client for a real Okta org and for
the simulator (``deploy/sandbox/api/okta.py``), chosen by base URL and credential.

Users (``GET /api/v1/users/{id|login}``, ``POST /api/v1/users?activate=false``,
``POST /api/v1/users/{id}/lifecycle/{activate|deactivate|suspend|unsuspend|reset_password}``), apps
and their users (``/api/v1/apps``, ``/api/v1/apps/{id}/users``), a user's groups, a group's members
and MFA factors (``/api/v1/users/{id}/factors``, ``DELETE .../factors/{fid}``), and the System Log
(``/api/v1/logs``). The credential is an API token sent as ``Authorization: SSWS <token>``, in that
header and nowhere else. Okta's errors (``{"errorCode": "E0000007", "errorSummary": ...,
"errorCauses": [...]}``) become ``OktaError``s with Okta's code; 429 (``X-Rate-Limit-Reset`` as
``retry_after``) and 5xx are transient, and the runner retries them. Lists follow the
``Link: <...>; rel="next"`` pages; the System Log is read as a *bounded* request (``until`` given),
because a polling request (no ``until``) always answers a next link.

Okta takes no idempotency key, so each write is made safe to repeat. Every write carries the step's
idempotency key, hashed, in its ``User-Agent`` (``workforce-skills/1 (ticket=T-1; idem=<sha256/32>)``),
which Okta records in the System Log event of the write (``client.userAgent.rawUserAgent``); before
acting again, the client reads the resource's state and, where the state alone cannot tell "done by
this key" from "already so", looks for that event:

- a lifecycle operation reads the user first: already in the target status is not called again
  (activating twice would send a second email); the log says whether this key got it there
  (``changed`` True) or it already was so (``changed`` False);
- ``create_user`` finds the login: created by this key (``user.lifecycle.create`` with the marker)
  is returned; anybody else's account is not adopted, and Okta's own "already exists" answers;
- ``assign_user`` returns an existing assignment (``changed`` by the log's
  ``application.user_membership.add``); ``unassign_user`` and ``reset_factor`` that find nothing to
  remove return what this key removed (``application.user_membership.remove``,
  ``user.mfa.factor.deactivate``), and Okta's 404 when it was not this key;
- ``reset_password`` acts each time on Okta (a new link, a new email), so it is the one write only
  the log can make safe: a ``user.account.reset_password`` event of this user carrying the marker
  means it was done, and it is not sent again. Okta's System Log is near real time, not
  transactional: a retry within the seconds before the event is queryable can reset twice (a second
  email, the first link void). With ``send_email=False`` a reconciled reset has no token to return
  (it was in the lost answer); the step must start a new reset with a new key.

An app user's last sign-in comes from the System Log (``user.authentication.sso`` events for the
app). The log keeps 90 days - exactly the window an access review asks about - so "no sign-in
found" means "none in the last 90 days", and the assignment's ``last_sign_in`` is then None.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.errors import ApiError
from runtime.vendor.http import VendorHttp
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


#: The status a lifecycle operation can only have started from, when there is one (for a reconciled repeat).
_FROM = {"suspend": "ACTIVE", "unsuspend": "SUSPENDED"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


def marker(idempotency_key: str) -> str:
    """What a write carries in its User-Agent for the System Log to keep: the key, hashed (fixed
    length, no characters a header cannot hold, nothing of the ticket's content)."""
    return "idem=" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def user_agent(idempotency_key: str | None = None, ticket_id: str | None = None) -> str:
    if idempotency_key is None:
        return "workforce-skills/1"
    ticket = _UNSAFE.sub("_", ticket_id or "")[:64]
    return f"workforce-skills/1 (ticket={ticket}; {marker(idempotency_key)})"


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class OktaHttp(VendorHttp):
    """The Okta connector over HTTP, as the coworker whose API token it holds."""

    system = SYSTEM

    def __init__(
        self, base_url: str, credential: str | None, client: httpx.AsyncClient, *, limiter: AsyncLimiter | None = None, ticket: str | None = None, page_size: int = 200
    ) -> None:
        super().__init__(base_url, credential, client, limiter=limiter, ticket=ticket)
        self.page_size = page_size  # Okta's ``limit``: items a page of a list holds

    # --- the wire ---------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if not self._credential:
            raise OktaError(401, "E0000011", "Invalid token provided (no Okta API token was issued to this coworker)")
        return {"Authorization": f"SSWS {self._credential}", "Accept": "application/json", "User-Agent": user_agent()}

    def error_from(self, response: httpx.Response) -> ApiError:
        return error_from(response)

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None, key: str | None = None, ticket_id: str | None = None) -> Any:
        headers = {"User-Agent": user_agent(key, ticket_id)} if key is not None else None
        response = await self.call(method, path, params=params, json=body, headers=headers)
        return response.json() if response.content else None

    async def _list(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged list, following ``Link: rel="next"``."""
        items: list[dict[str, Any]] = []
        response = await self.call("GET", path, params=params)
        for _ in range(MAX_PAGES):
            items += response.json()
            following = response.links.get("next", {}).get("url")
            if not following:
                break
            response = await self.call("GET", following)
        return items

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="@")

    async def _events(self, event_type: str, target_id: str, *, days: int = SYSTEM_LOG_DAYS, actor_id: str | None = None) -> list[dict[str, Any]]:
        """The System Log's ``event_type`` events naming ``target_id``, over a bounded window."""
        now = datetime.now(UTC)
        condition = f'eventType eq "{event_type}" and target.id eq "{target_id}"' + (f' and actor.id eq "{actor_id}"' if actor_id else "")
        return await self._list("/api/v1/logs", {"since": _stamp(now - timedelta(days=days)), "until": _stamp(now + timedelta(seconds=1)), "limit": 1000, "filter": condition})

    async def _done_by(self, idempotency_key: str, event_type: str, target_id: str, *, also: str | None = None) -> dict[str, Any] | None:
        """The System Log event of an earlier write with this key (on ``target_id``, and ``also``), if any."""
        wanted = marker(idempotency_key)
        for event in await self._events(event_type, target_id):
            raw = ((event.get("client") or {}).get("userAgent") or {}).get("rawUserAgent") or ""
            targets = {t.get("id") for t in event.get("target") or [] if isinstance(t, dict)}
            if wanted in raw and (also is None or also in targets):
                return event
        return None

    # --- users ------------------------------------------------------------------------------

    async def get_user(self, login_or_id: str) -> User:
        return user_from(await self._call("GET", f"/api/v1/users/{self._id(login_or_id)}"))

    async def reset_password(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Reset:
        """Start recovery once per key: a reset the System Log shows with this key is not sent again."""
        user = await self.get_user(user_id)
        if await self._done_by(idempotency_key, "user.account.reset_password", user.id) is not None:
            return Reset(user_id=user.id, status=user.status, emailed_to=user.email if send_email else None)
        body = await self._call("POST", f"/api/v1/users/{self._id(user.id)}/lifecycle/reset_password", params={"sendEmail": str(send_email).lower()}, key=idempotency_key, ticket_id=ticket_id)
        after = await self.get_user(user.id)
        if send_email:
            return Reset(user_id=after.id, status=after.status, emailed_to=after.email)
        url = (body or {}).get("resetPasswordUrl", "")
        return Reset(user_id=after.id, status=after.status, token=url.rstrip("/").rsplit("/", 1)[-1] or None)

    async def create_user(self, profile: NewUser, *, idempotency_key: str, ticket_id: str) -> User:
        """A STAGED user; a retry finds the user this key created (the System Log says which) and returns it."""
        try:
            existing = await self.get_user(profile.login)
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            if await self._done_by(idempotency_key, "user.lifecycle.create", existing.id) is not None:
                return existing
        fields = {
            "login": profile.login, "email": profile.email, "firstName": profile.first_name, "lastName": profile.last_name,
            "countryCode": profile.country, "department": profile.department, "title": profile.title,
            "employeeNumber": profile.employee_number, "managerId": profile.manager_id,
        }
        body = await self._call("POST", "/api/v1/users", params={"activate": "false"}, body={"profile": {k: v for k, v in fields.items() if v is not None}}, key=idempotency_key, ticket_id=ticket_id)
        return user_from(body)

    async def _lifecycle(self, user_id: str, operation: str, done: set[str], key: str, ticket_id: str, params: dict[str, str] | None = None) -> Lifecycle:
        before = await self.get_user(user_id)
        if before.status in done:
            ours = await self._done_by(key, f"user.lifecycle.{operation}", before.id) is not None
            return Lifecycle(before.id, operation, _FROM.get(operation) if ours else before.status, before.status, changed=ours)
        await self._call("POST", f"/api/v1/users/{self._id(before.id)}/lifecycle/{operation}", params=params, key=key, ticket_id=ticket_id)
        after = await self.get_user(before.id)
        return Lifecycle(before.id, operation, before.status, after.status)

    async def activate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str, send_email: bool = True) -> Lifecycle:
        done = await self._lifecycle(user_id, "activate", {"PROVISIONED", "ACTIVE"}, idempotency_key, ticket_id, {"sendEmail": str(send_email).lower()})
        if not done.changed or not send_email:
            return done
        email = (await self.get_user(done.user_id)).email
        return Lifecycle(done.user_id, done.operation, done.from_status, done.status, emailed_to=email)

    async def deactivate_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await self._lifecycle(user_id, "deactivate", {"DEPROVISIONED"}, idempotency_key, ticket_id, {"sendEmail": "false"})

    async def suspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await self._lifecycle(user_id, "suspend", {"SUSPENDED"}, idempotency_key, ticket_id)

    async def unsuspend_user(self, user_id: str, *, idempotency_key: str, ticket_id: str) -> Lifecycle:
        return await self._lifecycle(user_id, "unsuspend", {"ACTIVE"}, idempotency_key, ticket_id)

    # --- applications -----------------------------------------------------------------------

    async def list_apps(self, q: str | None = None) -> list[App]:
        params: dict[str, Any] = {"limit": self.page_size}
        if q:
            params["q"] = q
        return [App(a["id"], a.get("name", ""), a.get("label", ""), a.get("status", ""), a.get("signOnMode", "")) for a in await self._list("/api/v1/apps", params)]

    async def _last_sign_ins(self, app_id: str) -> dict[str, datetime]:
        """Each user's latest SSO into the app within the System Log's window."""
        latest: dict[str, datetime] = {}
        for event in await self._events("user.authentication.sso", app_id):
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
        """An existing assignment is returned, not re-posted; ``changed`` says whether this key made it."""
        try:
            existing = await self.get_app_user(app_id, user_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
        else:
            ours = await self._done_by(idempotency_key, "application.user_membership.add", existing.user_id, also=app_id) is not None
            return Assignment(app_id, existing.user_id, "assign", ours, existing.status, existing.sync_state)
        body = await self._call("POST", f"/api/v1/apps/{self._id(app_id)}/users", body={"id": user_id, "scope": "USER"}, key=idempotency_key, ticket_id=ticket_id)
        made = app_user_from(app_id, body)
        return Assignment(app_id, made.user_id, "assign", True, made.status, made.sync_state)

    async def unassign_user(self, app_id: str, user_id: str, *, idempotency_key: str, ticket_id: str) -> Assignment:
        """Okta's 404 for an assignment that is not there, unless this key is what removed it."""
        try:
            await self._call("DELETE", f"/api/v1/apps/{self._id(app_id)}/users/{self._id(user_id)}", key=idempotency_key, ticket_id=ticket_id)
        except ApiError as exc:
            if exc.status != 404 or await self._done_by(idempotency_key, "application.user_membership.remove", user_id, also=app_id) is None:
                raise
        return Assignment(app_id, user_id, "unassign", True)

    # --- groups and factors -----------------------------------------------------------------

    async def list_user_groups(self, user_id: str) -> list[Group]:
        groups = await self._list(f"/api/v1/users/{self._id(user_id)}/groups")
        return [Group(g["id"], (g.get("profile") or {}).get("name", ""), (g.get("profile") or {}).get("description") or "") for g in groups]

    async def list_group_members(self, group_id: str) -> list[str]:
        """The members' logins (``GET /api/v1/groups/{id}/users``)."""
        users = await self._list(f"/api/v1/groups/{self._id(group_id)}/users", {"limit": self.page_size})
        return sorted((u.get("profile") or {}).get("login", "") for u in users)

    async def list_factors(self, user_id: str) -> list[Factor]:
        return [factor_from(f) for f in await self._call("GET", f"/api/v1/users/{self._id(user_id)}/factors")]

    async def reset_factor(self, user_id: str, factor_id: str, *, idempotency_key: str, ticket_id: str) -> FactorReset:
        """Unenrol the factor; one already gone is this key's doing (the System Log says so) or Okta's 404."""
        path = f"/api/v1/users/{self._id(user_id)}/factors/{self._id(factor_id)}"
        try:
            factor = factor_from(await self._call("GET", path))
        except ApiError as exc:
            if exc.status != 404 or (event := await self._done_by(idempotency_key, "user.mfa.factor.deactivate", factor_id)) is None:
                raise
            user = next((t.get("id") for t in event.get("target") or [] if t.get("type") == "User"), user_id)
            return FactorReset(user, factor_id, "", "")  # the factor's kind went with it; the log names only the enrolment
        await self._call("DELETE", path, key=idempotency_key, ticket_id=ticket_id)
        return FactorReset(user_id, factor.id, factor.factor_type, factor.provider)
