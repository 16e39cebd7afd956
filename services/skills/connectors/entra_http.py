"""The Entra connector over Microsoft Graph v1.0, the same class for the simulator and a real tenant
(base URL ``https://graph.microsoft.com`` there, ``http://host:port/entra`` here).

Reads: ``GET /v1.0/users/{id | userPrincipalName}?$select=...`` (the properties a step needs beyond
Graph's defaults: ``accountEnabled``, ``department``, ``employeeId``, ``usageLocation``,
``signInSessionsValidFromDateTime``), ``GET /v1.0/users/{id}/memberOf/microsoft.graph.group``
(paged by ``@odata.nextLink``) and ``GET /v1.0/identityProtection/riskyUsers/{id}``, whose 404 means
"never flagged" (no risk). The credential is an OAuth access token, ``Authorization: Bearer``.

Graph takes no idempotency key, so each write is made safe to repeat here:

- ``set_account_enabled`` (``PATCH /v1.0/users/{id}`` ``{"accountEnabled": ...}``, 204) is naturally
  idempotent: the user is read first and an account already so is answered ``changed=False``
  without a call, so a redelivery or a crash-retry finds the effect and does not act again.
- ``revoke_sign_in_sessions`` (``POST /v1.0/users/{id}/revokeSignInSessions``) is not: each call
  moves ``signInSessionsValidFromDateTime``. The client keeps the idempotency keys of the
  revocations it made on the user itself, in a Graph open extension
  (``/users/{id}/extensions/com.workforce.idempotency``, a short hash per key, the latest
  ``KEPT_KEYS``). Before revoking it reads that extension; a key found there is answered from the
  user as it is, without revoking again. The key is written after the revocation: a crash between
  the two repeats the revocation once on retry, which invalidates nothing the first did not (the
  sessions before the first call are already void) - never the other way round, a recorded key
  whose revocation never happened.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from services.skills.connectors.entra import AccountChange, DirectoryGroup, EntraUser, GraphError, RiskyUser, SessionsRevoked
from runtime.vendor.errors import ApiError
from services.skills.connectors.graph_http import GraphHttp, when

SYSTEM = "entra"
SELECT = "id,userPrincipalName,mail,displayName,department,jobTitle,employeeId,usageLocation,accountEnabled,signInSessionsValidFromDateTime"
#: The open extension on a user where this client keeps the keys of its revocations.
EXTENSION = "com.workforce.idempotency"
#: Keys kept per user (an open extension holds at most 2 KB).
KEPT_KEYS = 40


def key_mark(idempotency_key: str) -> str:
    """What is kept of a key in the extension: short, and no ticket text on the user."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def user_from(body: dict[str, Any]) -> EntraUser:
    valid_from = when(body.get("signInSessionsValidFromDateTime"))
    if valid_from is None:
        raise GraphError(502, "unexpected_response", f"Graph's user {body.get('id')!r} has no signInSessionsValidFromDateTime")
    return EntraUser(
        id=body["id"], user_principal_name=body.get("userPrincipalName", ""), mail=body.get("mail"), display_name=body.get("displayName", ""),
        department=body.get("department"), job_title=body.get("jobTitle"), employee_id=body.get("employeeId"), usage_location=body.get("usageLocation"),
        account_enabled=bool(body.get("accountEnabled")), sign_in_sessions_valid_from=valid_from,
    )


def group_from(body: dict[str, Any]) -> DirectoryGroup:
    return DirectoryGroup(body["id"], body.get("displayName") or "", bool(body.get("securityEnabled")), bool(body.get("mailEnabled")))


def risky_from(body: dict[str, Any]) -> RiskyUser:
    return RiskyUser(body["id"], body.get("riskLevel", "none"), body.get("riskState", "none"), body.get("riskDetail", "none"), when(body.get("riskLastUpdatedDateTime")))


class EntraHttp(GraphHttp):
    """The Entra connector over Graph, as the coworker whose access token it holds."""

    system = SYSTEM
    error_class = GraphError

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="@")

    async def get_user(self, id_or_upn: str) -> EntraUser:
        return user_from(await self.get(f"/v1.0/users/{self._id(id_or_upn)}", {"$select": SELECT}))

    async def member_of(self, id_or_upn: str) -> list[DirectoryGroup]:
        groups = await self.list(f"/v1.0/users/{self._id(id_or_upn)}/memberOf/microsoft.graph.group", {"$select": "id,displayName,securityEnabled,mailEnabled", "$top": 999})
        return sorted((group_from(g) for g in groups), key=lambda g: g.display_name)

    async def risky_user(self, id_or_upn: str) -> RiskyUser:
        user = await self.get_user(id_or_upn)  # riskyUsers is keyed by object id; a UPN is resolved first
        try:
            return risky_from(await self.get(f"/v1.0/identityProtection/riskyUsers/{self._id(user.id)}"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            return RiskyUser(user.id, "none", "none", "none")

    async def set_account_enabled(self, id_or_upn: str, enabled: bool, *, idempotency_key: str, ticket_id: str) -> AccountChange:
        before = await self.get_user(id_or_upn)
        if before.account_enabled == enabled:
            return AccountChange(before.id, enabled, changed=False)
        await self.call("PATCH", f"/v1.0/users/{self._id(before.id)}", json={"accountEnabled": enabled})
        return AccountChange(before.id, enabled, changed=True)

    async def _marks(self, user_id: str) -> list[str] | None:
        """The keys kept on the user, or None when the extension does not exist yet."""
        try:
            body = await self.get(f"/v1.0/users/{self._id(user_id)}/extensions/{EXTENSION}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            return None
        marks = body.get("revocations")
        return [str(m) for m in marks] if isinstance(marks, list) else []

    async def revoke_sign_in_sessions(self, id_or_upn: str, *, idempotency_key: str, ticket_id: str) -> SessionsRevoked:
        user = await self.get_user(id_or_upn)
        mark = key_mark(idempotency_key)
        marks = await self._marks(user.id)
        if marks is not None and mark in marks:
            return SessionsRevoked(user.id, user.sign_in_sessions_valid_from, changed=False)
        await self.call("POST", f"/v1.0/users/{self._id(user.id)}/revokeSignInSessions")
        kept = ([*(marks or []), mark])[-KEPT_KEYS:]
        path = f"/v1.0/users/{self._id(user.id)}/extensions"
        if marks is None:
            try:
                await self.call("POST", path, json={"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": EXTENSION, "revocations": kept})
            except ApiError as exc:
                if exc.status != 409:  # made meanwhile by a concurrent step: add to it instead
                    raise
                kept = [*(await self._marks(user.id) or []), mark][-KEPT_KEYS:]
                await self.call("PATCH", f"{path}/{EXTENSION}", json={"revocations": kept})
        else:
            await self.call("PATCH", f"{path}/{EXTENSION}", json={"revocations": kept})
        after = await self.get_user(user.id)
        return SessionsRevoked(user.id, after.sign_in_sessions_valid_from, changed=True)
