"""Writing back to Jira Cloud over its REST API v3: comments in ADF (an internal one carries Jira
Service Management's ``sd.public.comment`` property), the resolving transition found by name, the
assignee and label of an escalation, child issues linked with "Relates". Auth is Basic
``base64(email:api_token)``; Jira's error body (``errorMessages``/``errors``) becomes the ``ApiError``."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import httpx

from runtime.vendor.errors import ApiError
from services.desk.config import EscalationGroup, Resolve
from services.desk.writeback import NotConfigured
from runtime.vendor.adf import document, to_text
from services.desk.writeback.session import BasicSession
from services.desk.writeback.plan import UpstreamTicket

#: Comments read (newest first) when looking for an earlier try's marker.
COMMENT_PAGES, PAGE = 3, 100
INTERNAL = [{"key": "sd.public.comment", "value": {"internal": True}}]


def marker_label(marker: str) -> str:
    """A label standing for ``marker`` (labels take no spaces or brackets): how a child issue is found."""
    return "wf-" + hashlib.sha256(marker.encode()).hexdigest()[:20]


class JiraWriter(BasicSession):
    system = "jira"

    def error_from(self, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and ("errorMessages" in body or "errors" in body):
            said = [*(body.get("errorMessages") or []), *(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())]
            return ApiError(response.status_code, f"HTTP{response.status_code}", "; ".join(said)[:300] or response.reason_phrase or "error")
        return ApiError(response.status_code, f"HTTP{response.status_code}", response.text.strip()[:200] or response.reason_phrase or "error")

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.call(method, path, **kw)
        return response.json() if response.content and response.status_code != 204 else None

    def _issue(self, ticket: UpstreamTicket) -> str:
        return f"/rest/api/3/issue/{quote(ticket.key)}"

    async def comment(self, ticket: UpstreamTicket, text: str, *, public: bool) -> str:
        body: dict[str, Any] = {"body": document(text)}
        if not public:
            body["properties"] = INTERNAL
        made = await self._json("POST", f"{self._issue(ticket)}/comment", json=body)
        return f"comment {made['id']}"

    async def find_comment(self, ticket: UpstreamTicket, marker: str) -> str | None:
        for page in range(COMMENT_PAGES):
            found = await self._json("GET", f"{self._issue(ticket)}/comment", params={"startAt": page * PAGE, "maxResults": PAGE, "orderBy": "-created"})
            comments = found.get("comments", [])
            for c in comments:
                if marker in to_text(c.get("body")):
                    return f"comment {c['id']}"
            if len(comments) < PAGE or (page + 1) * PAGE >= int(found.get("total", 0)):
                return None
        return None

    async def resolve(self, ticket: UpstreamTicket, close_notes: str, how: Resolve) -> str:
        """The transition named ``how.jira_transition`` (or, where the issue's workflow has none of that
        name, one to a done status); an issue already in a done status is left as it is."""
        issue = await self._json("GET", self._issue(ticket), params={"fields": "status"})
        status = (issue.get("fields") or {}).get("status") or {}
        if (status.get("statusCategory") or {}).get("key") == "done":
            return f"status already {status.get('name', 'done')}"
        offered = (await self._json("GET", f"{self._issue(ticket)}/transitions")).get("transitions", [])
        wanted = how.jira_transition.casefold()
        # The configured name, else a transition to that status, else (another project's workflow:
        # an Incident's "Resolved") the first that ends in a done status.
        chosen = next((t for t in offered if t.get("name", "").casefold() == wanted), None) or next(
            (t for t in offered if ((t.get("to") or {}).get("name", "")).casefold() == wanted), None) or next(
            (t for t in offered if (((t.get("to") or {}).get("statusCategory") or {}).get("key")) == "done"), None)
        if chosen is None:
            names = ", ".join(repr(t.get("name")) for t in offered) or "none"
            raise NotConfigured(f"{ticket} offers no transition named {how.jira_transition!r} (offered: {names}); set systems.jira.resolve.jira_transition")
        await self.call("POST", f"{self._issue(ticket)}/transitions", json={"transition": {"id": str(chosen["id"])}})
        return f"transition {chosen.get('name')} ({chosen['id']})"

    async def reassign(self, ticket: UpstreamTicket, group: EscalationGroup) -> str:
        body: dict[str, Any] = {}
        if group.jira_assignee:
            body["fields"] = {"assignee": {"accountId": group.jira_assignee}}
        if group.jira_label:
            body["update"] = {"labels": [{"add": group.jira_label}]}
        await self.call("PUT", self._issue(ticket), json=body)
        done = [f"assignee {group.jira_assignee}" if group.jira_assignee else "", f"label {group.jira_label}" if group.jira_label else ""]
        return " and ".join(d for d in done if d)

    async def find_child(self, ticket: UpstreamTicket, marker: str) -> str | None:
        jql = f'project = "{ticket.project}" AND labels = "{marker_label(marker)}"' if ticket.project else f'labels = "{marker_label(marker)}"'
        found = await self._json("GET", "/rest/api/3/search/jql", params={"jql": jql, "maxResults": 1, "fields": "summary"})
        issues = found.get("issues", [])
        if not issues:
            return None
        await self.link(ticket, issues[0]["key"])  # the earlier try may have stopped before linking
        return f"{issues[0]['key']} ({issues[0]['id']})"

    async def create_child(self, ticket: UpstreamTicket, title: str, text: str, marker: str) -> str:
        """The issue made, as ``KEY (id)``: its key for people and paths, its id for its webhooks."""
        if not ticket.project:
            raise NotConfigured(f"{ticket}: its project is not known, so its split's issues cannot be created")
        fields = {"project": {"key": ticket.project}, "issuetype": {"name": ticket.issue_type}, "summary": title[:255].replace("\n", " "),
                  "description": document(text), "labels": [marker_label(marker)]}
        made = await self._json("POST", "/rest/api/3/issue", json={"fields": fields})
        await self.link(ticket, made["key"])
        return f"{made['key']} ({made['id']})"

    async def link(self, ticket: UpstreamTicket, child_key: str) -> None:
        """Jira keeps one link per type and pair: linking again changes nothing."""
        await self.call("POST", "/rest/api/3/issueLink", json={"type": {"name": "Relates"}, "inwardIssue": {"key": child_key}, "outwardIssue": {"key": ticket.key}})
