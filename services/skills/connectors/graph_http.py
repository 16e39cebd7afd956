"""What the Microsoft Graph v1.0 clients (Entra, SharePoint) share: ``Authorization: Bearer
<token>``, Graph's OData error body ``{"error": {"code", "message", "innerError": {...}}}`` as an
``ApiError`` with Graph's code (and its ``request-id``, which Microsoft support asks for, in the
summary), 429 ``TooManyRequests`` / 503 with ``Retry-After`` as transient errors, ``@odata.nextLink``
paging and Graph's timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from runtime.vendor.errors import ApiError
from runtime.vendor.http import VendorHttp

#: Pages followed at most, per list.
MAX_PAGES = 50
#: Graph's code when a body does not say (a proxy's answer, an empty 429).
FALLBACK_CODES = {401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied", 404: "ResourceNotFound", 429: "TooManyRequests", 503: "serviceNotAvailable", 504: "gatewayTimeout"}


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class GraphHttp(VendorHttp):
    """One coworker's session on Microsoft Graph; ``error_class`` is the vendor's ``ApiError``."""

    error_class: type[ApiError] = ApiError

    def auth_headers(self) -> dict[str, str]:
        if not self._credential:
            raise self.error_class(401, "InvalidAuthenticationToken", "Access token is empty (no Microsoft Graph token was issued to this coworker).")
        return {"Authorization": f"Bearer {self._credential}", "Accept": "application/json"}

    def error_from(self, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or FALLBACK_CODES.get(response.status_code) or f"HTTP{response.status_code}")
        summary = str(error.get("message") or response.reason_phrase or "error")
        request_id = (error.get("innerError") or {}).get("request-id") or response.headers.get("request-id")
        if request_id:
            summary += f" (request-id {request_id})"
        return self.error_class(response.status_code, code, summary[:500])

    async def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return (await self.call("GET", path, params=params)).json()

    async def list(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` (an absolute URL)."""
        body = await self.get(path, params)
        items = list(body.get("value", []))
        for _ in range(MAX_PAGES):
            following = body.get("@odata.nextLink")
            if not following:
                break
            body = await self.get(following)
            items += body.get("value", [])
        return items
