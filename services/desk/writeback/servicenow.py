"""Writing back to a ServiceNow incident over the Table API: ``comments`` (what the caller sees) and
``work_notes`` (agents only) are journal fields, so a comment is a PATCH and finding an earlier one
reads ``sys_journal_field``; resolving sets ``state`` with ``close_code`` and ``close_notes``
(mandatory under the default data policy); an escalation sets ``assignment_group``; a split's
parts are incidents whose ``parent_incident`` is this one. Auth is Basic ``user:password``; the
error body ``{"error": {"message", "detail"}}`` becomes the ``ApiError``."""

from __future__ import annotations

from typing import Any

import httpx

from runtime.vendor.errors import ApiError
from services.desk.config import EscalationGroup, Resolve
from services.desk.writeback.session import BasicSession
from services.desk.writeback.plan import UpstreamTicket

INCIDENT, JOURNAL = "/api/now/table/incident", "/api/now/table/sys_journal_field"


def _like(marker: str) -> str:
    """The marker's core for a LIKE condition (no brackets or carets, which encoded queries treat specially)."""
    return marker.strip("[]")


class ServiceNowWriter(BasicSession):
    system = "servicenow"

    def error_from(self, response: httpx.Response) -> ApiError:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        if isinstance(error, dict) and error.get("message"):
            said = error["message"] + (f": {error['detail']}" if error.get("detail") else "")
            return ApiError(response.status_code, f"HTTP{response.status_code}", " ".join(said.split())[:300])
        return ApiError(response.status_code, f"HTTP{response.status_code}", response.text.strip()[:200] or response.reason_phrase or "error")

    async def _patch(self, ticket: UpstreamTicket, fields: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("PATCH", f"{INCIDENT}/{ticket.native_id}", json=fields,
                                   params={"sysparm_fields": "sys_id,number,state", "sysparm_exclude_reference_link": "true"})
        return response.json().get("result", {})

    async def comment(self, ticket: UpstreamTicket, text: str, *, public: bool) -> str:
        field = "comments" if public else "work_notes"
        await self._patch(ticket, {field: text})
        return "additional comment" if public else "work note"

    async def find_comment(self, ticket: UpstreamTicket, marker: str) -> str | None:
        query = f"element_id={ticket.native_id}^valueLIKE{_like(marker)}"
        response = await self.call("GET", JOURNAL, params={"sysparm_query": query, "sysparm_fields": "sys_id,element,value", "sysparm_limit": "10"})
        for entry in response.json().get("result", []):
            if marker in str(entry.get("value", "")):
                return "additional comment" if entry.get("element") == "comments" else "work note"
        return None

    async def resolve(self, ticket: UpstreamTicket, close_notes: str, how: Resolve) -> str:
        done = await self._patch(ticket, {"state": how.servicenow_state, "close_code": how.servicenow_close_code, "close_notes": close_notes or "Resolved."})
        return f"state {done.get('state', how.servicenow_state)}, close code {how.servicenow_close_code}"

    async def reassign(self, ticket: UpstreamTicket, group: EscalationGroup) -> str:
        await self._patch(ticket, {"assignment_group": group.servicenow_group})
        return f"assignment group {group.servicenow_group}"

    async def find_child(self, ticket: UpstreamTicket, marker: str) -> str | None:
        query = f"parent_incident={ticket.native_id}^descriptionLIKE{_like(marker)}"
        response = await self.call("GET", INCIDENT, params={"sysparm_query": query, "sysparm_fields": "sys_id,number,description", "sysparm_limit": "10"})
        found = [r for r in response.json().get("result", []) if marker in str(r.get("description", ""))]
        return f"{found[0]['number']} ({found[0]['sys_id']})" if found else None

    async def create_child(self, ticket: UpstreamTicket, title: str, text: str, marker: str) -> str:
        fields = {"short_description": title[:160], "description": text, "parent_incident": ticket.native_id}
        if ticket.caller_id:
            fields["caller_id"] = ticket.caller_id
        response = await self.call("POST", INCIDENT, json=fields, params={"sysparm_fields": "sys_id,number", "sysparm_exclude_reference_link": "true"})
        made = response.json()["result"]
        return f"{made['number']} ({made['sys_id']})"
