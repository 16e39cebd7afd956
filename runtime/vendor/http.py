"""What every vendor's HTTP client shares: a base URL and the coworker's credential, a per-system
client-side rate limit, transport failures as transient errors, and how long the vendor asked us to
wait. Each vendor's client (``<vendor>_http.py``) subclasses ``VendorHttp`` with its auth header and
the translation of its error body; retrying is the caller's, with ``runtime/vendor/retries.py``.

The same class talks to the simulator (``deploy/sandbox``) and to the real vendor: only the base
URL and the credential differ, by configuration (``SKILLS_SYSTEMS``)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.errors import ApiError, unreachable


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the vendor asked us to wait: ``Retry-After`` (seconds or an HTTP date), else an
    ``X-Rate-Limit-Reset`` epoch (Okta), else None."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return None


#: Names the ticket a call is made for. Vendors ignore a header they do not know; the simulator
#: keeps it beside what the call did, so a test can ask "what happened for this ticket" (never to
#: deduplicate: the real systems would not).
TICKET_HEADER = "X-Workforce-Ticket"


class VendorHttp:
    """One coworker's session on one vendor's REST API."""

    system = "system"

    def __init__(self, base_url: str, credential: str | None, client: httpx.AsyncClient, *, limiter: AsyncLimiter | None = None, ticket: str | None = None) -> None:
        self.base, self._credential, self._client, self._limiter = base_url.rstrip("/"), credential, client, limiter
        self._ticket = ticket

    def auth_headers(self) -> dict[str, str]:
        """The vendor's auth header for the credential (never logged, never in an error)."""
        return {"Authorization": f"Bearer {self._credential or ''}"}

    def error_from(self, response: httpx.Response) -> ApiError:
        """The vendor's error body as an ``ApiError`` in the vendor's own code."""
        return ApiError(response.status_code, f"HTTP{response.status_code}", response.reason_phrase or "error")

    async def call(self, method: str, path: str, *, params: Any = None, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """One request; an error status raises the vendor's ``ApiError`` (with ``retry_after``)."""
        url = path if path.startswith("http") else f"{self.base}{path}"
        headers = {**self.auth_headers(), **({TICKET_HEADER: self._ticket} if self._ticket else {}), **(headers or {})}
        try:
            if self._limiter is not None:
                async with self._limiter:
                    response = await self._client.request(method, url, params=params, json=json, headers=headers)
            else:
                response = await self._client.request(method, url, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise unreachable(self.system, exc) from None
        if response.status_code >= 400:
            error = self.error_from(response)
            error.retry_after = retry_after(response)
            raise error
        return response
