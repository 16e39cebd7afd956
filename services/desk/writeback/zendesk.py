"""Writing back to a Zendesk ticket over the Tickets API: a comment (``public: false`` is an
internal note), ``status``, ``group_id`` are one ``PUT /api/v2/tickets/{id}.json``; finding an
earlier try's comment reads the comments (cursor paging); a split's parts are new tickets for the
same requester, found again by ``external_id``. Auth is Basic ``<email>/token:<api_token>``;
Zendesk's error body (``error``/``description``/``details``) becomes the ``ApiError``."""

from __future__ import annotations

from typing import Any

import httpx

from runtime.vendor.errors import ApiError
from services.desk.config import EscalationGroup, Resolve
from services.desk.writeback import NotConfigured
from services.desk.writeback.session import BasicSession
from services.desk.writeback.plan import UpstreamTicket

#: Pages of 100 read when looking for a marker (comments, or tickets by external id).
PAGES, PAGE = 20, 100


def external_id(marker: str) -> str:
    return marker.strip("[]")


class ZendeskWriter(BasicSession):
    system = "zendesk"

    login = "{user}/token"

    def error_from(self, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error"):
            error = body["error"]
            title = error.get("title", "") if isinstance(error, dict) else str(error)
            said = [title, str(body.get("description") or "")]
            for name, problems in (body.get("details") or {}).items():
                said += [f"{name}: {p.get('description', p)}" for p in problems if isinstance(p, dict)]
            return ApiError(response.status_code, title or f"HTTP{response.status_code}", "; ".join(s for s in said if s)[:300])
        return ApiError(response.status_code, f"HTTP{response.status_code}", response.text.strip()[:200] or response.reason_phrase or "error")

    async def _update(self, ticket: UpstreamTicket, fields: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("PUT", f"/api/v2/tickets/{ticket.native_id}.json", json={"ticket": fields})
        return response.json()

    async def _pages(self, path: str, root: str, params: dict[str, str] | None = None) -> Any:
        """The items of a cursor-paged list, page after page while ``meta.has_more`` (Zendesk sets
        ``links.next`` on the last page too)."""
        query: dict[str, str] = {**(params or {}), "page[size]": str(PAGE)}
        for _ in range(PAGES):
            page = (await self.call("GET", path, params=query)).json()
            for item in page.get(root, []):
                yield item
            meta = page.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return
            query = {**query, "page[after]": meta["after_cursor"]}

    async def comment(self, ticket: UpstreamTicket, text: str, *, public: bool) -> str:
        body = await self._update(ticket, {"comment": {"body": text, "public": public}})
        made = next((e for e in (body.get("audit") or {}).get("events", []) if e.get("type") == "Comment"), None)
        return f"comment {made['id']}" if made else "comment"

    async def find_comment(self, ticket: UpstreamTicket, marker: str) -> str | None:
        async for c in self._pages(f"/api/v2/tickets/{ticket.native_id}/comments.json", "comments"):
            if marker in str(c.get("body") or c.get("plain_body") or ""):
                return f"comment {c['id']}"
        return None

    async def resolve(self, ticket: UpstreamTicket, close_notes: str, how: Resolve) -> str:
        await self._update(ticket, {"status": how.zendesk_status})
        return f"status {how.zendesk_status}"

    async def reassign(self, ticket: UpstreamTicket, group: EscalationGroup) -> str:
        await self._update(ticket, {"group_id": group.zendesk_group_id})
        return f"group {group.zendesk_group_id}"

    async def find_child(self, ticket: UpstreamTicket, marker: str) -> str | None:
        wanted = external_id(marker)
        async for t in self._pages("/api/v2/tickets.json", "tickets", {"external_id": wanted}):
            if t.get("external_id") == wanted:
                return f"#{t['id']}"
        return None

    async def create_child(self, ticket: UpstreamTicket, title: str, text: str, marker: str) -> str:
        if not ticket.requester_id:
            raise NotConfigured(f"{ticket}: its requester is not known, so its split's tickets cannot be created for them")
        fields = {"subject": title, "comment": {"body": text, "public": True}, "requester_id": int(ticket.requester_id), "external_id": external_id(marker)}
        made = (await self.call("POST", "/api/v2/tickets.json", json={"ticket": fields})).json()["ticket"]
        return f"#{made['id']}"

    async def user_email(self, user_id: str | int) -> str | None:
        """A user's email (what the intake maps a requester by); None for a user without one."""
        user = (await self.call("GET", f"/api/v2/users/{user_id}.json")).json().get("user") or {}
        return user.get("email") or None
