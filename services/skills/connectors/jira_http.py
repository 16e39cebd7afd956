"""The Jira connector over Jira Cloud's REST API v3, for a deployment connected to a real Jira.

``POST /rest/api/3/issue``, ``GET /rest/api/3/issue/{key}``, ``GET /rest/api/3/search/jql`` (the
enhanced search, paged by ``nextPageToken``; Jira Cloud answers the old ``/search`` with 410 Gone),
``POST /rest/api/3/issueLink`` and ``/rest/api/3/issue/{key}/comment``; descriptions and comments
travel as Atlassian Document Format (ADF). The credential is ``email:api_token`` (Basic auth) or an
OAuth/PAT bearer token; it goes in the Authorization header and nowhere else.

The same class talks to the simulator (``deploy/sandbox/api/jira.py``) and to a customer's Jira
Cloud site; only the base URL and the credential differ. Transport failures, 429 (``Retry-After``)
and 5xx are transient ``ApiError``s (``VendorHttp``); Jira's error body becomes a ``JiraError``.

Jira takes no idempotency key, so each write is made safe to repeat on our side:

- create an issue: the issue carries a label derived from the key (``idempotency_label``); before
  creating, the connector searches for that label and returns the issue it finds, so a step retried
  after a crash (the issue made, our record of it lost) finds its issue instead of making a second.
  Jira's search index can lag a write by a few seconds; a retry inside that window is the one case
  this cannot see.
- comment: the comment ends with ``(ref <label>)``; before posting, the newest comments are read and
  one carrying the reference is returned.
- link: Jira keeps one link per type and pair of issues, so posting the same link again is a no-op.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from runtime.vendor.adf import document as adf
from runtime.vendor.http import VendorHttp
from services.skills.connectors.jira import Comment, Issue, JiraError, Link, Query

FIELDS = "summary,description,issuetype,project,priority,status,labels,reporter,created,issuelinks"
#: Issues asked for per page of the enhanced search (Jira returns at most 100 with fields).
PAGE = 100
#: Pages of 100 comments read when looking for an earlier try's comment (the newest first).
COMMENT_PAGES = 3
#: How Jira's default link types read from the inward issue.
INWARD = {"Relates": "relates to", "Blocks": "is blocked by", "Duplicate": "is duplicated by", "Cloners": "is cloned by", "Problem/Incident": "is caused by"}


def idempotency_label(key: str) -> str:
    """The label that marks the issue created under ``key`` (no spaces, as labels must be)."""
    return "wf-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def plain(document: Any) -> str:
    """The text of an ADF document (or a string, as Jira's v2 API returns)."""
    if document is None:
        return ""
    if isinstance(document, str):
        return document

    def walk(node: dict[str, Any]) -> str:
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        return "".join(walk(child) for child in node.get("content", []))

    return "\n\n".join(walk(block) for block in document.get("content", []))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return datetime.fromisoformat(value)


def issue_from(body: dict[str, Any]) -> Issue:
    """An ``Issue`` from Jira's issue JSON."""
    f = body.get("fields", {})
    links = []
    for link in f.get("issuelinks", []) or []:
        kind = link.get("type", {})
        if "outwardIssue" in link:
            links.append(Link(kind.get("name", ""), kind.get("outward", ""), link["outwardIssue"]["key"]))
        elif "inwardIssue" in link:
            links.append(Link(kind.get("name", ""), kind.get("inward", ""), link["inwardIssue"]["key"]))
    status = f.get("status") or {}
    reporter = f.get("reporter") or {}
    return Issue(
        id=str(body["id"]),
        key=body["key"],
        project=(f.get("project") or {}).get("key", body["key"].split("-")[0]),
        issue_type=(f.get("issuetype") or {}).get("name", ""),
        summary=f.get("summary", ""),
        description=plain(f.get("description")),
        priority=(f.get("priority") or {}).get("name", ""),
        status=status.get("name", ""),
        status_category=(status.get("statusCategory") or {}).get("key", "new"),
        labels=tuple(f.get("labels", [])),
        reporter=reporter.get("emailAddress") or reporter.get("displayName") or reporter.get("accountId", ""),
        created=_when(f.get("created")),
        links=tuple(links),
    )


def _authorization(token: str | None) -> str | None:
    if not token:
        return None
    if ":" in token:  # email:api_token
        return "Basic " + base64.b64encode(token.encode()).decode()
    return f"Bearer {token}"


def error_from(response: httpx.Response) -> JiraError:
    """Jira's error body as a ``JiraError`` (its text when the body is not Jira's JSON, as a proxy's is)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("errorMessages" in body or "errors" in body):
        return JiraError(response.status_code, body.get("errorMessages") or [], body.get("errors") or {})
    text = response.text.strip()[:300]
    return JiraError(response.status_code, [text] if text else [])


class JiraHttp(VendorHttp):
    """The Jira connector over Jira Cloud's REST API v3, as the account the credential belongs to."""

    system = "jira"

    def auth_headers(self) -> dict[str, str]:
        auth = _authorization(self._credential)
        return {"Accept": "application/json", **({"Authorization": auth} if auth else {})}

    def error_from(self, response: httpx.Response) -> JiraError:
        return error_from(response)

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> Any:
        response = await self.call(method, path, params=params, json=body)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get_issue(self, key: str) -> Issue:
        return issue_from(await self._call("GET", f"/rest/api/3/issue/{quote(key)}", params={"fields": FIELDS}))

    async def search(self, query: Query) -> list[Issue]:
        """Up to ``query.max_results`` issues, page after page while Jira gives a ``nextPageToken``
        (it leaves the token out on the last page, whatever ``isLast`` says)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while len(found) < query.max_results:
            params: dict[str, Any] = {"jql": query.jql(), "maxResults": min(query.max_results - len(found), PAGE), "fields": FIELDS}
            if token:
                params["nextPageToken"] = token
            page = await self._call("GET", "/rest/api/3/search/jql", params=params)
            found += page.get("issues", [])
            token = page.get("nextPageToken")
            if not token or not page.get("issues"):
                break
        return [issue_from(issue) for issue in found[: query.max_results]]

    async def create_issue(self, *, project: str, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str], idempotency_key: str, ticket_id: str) -> Issue:
        """An issue marked with ``idempotency_label(idempotency_key)``; the issue an earlier try made is found and returned."""
        marker = idempotency_label(idempotency_key)
        earlier = await self.search(Query(labels=(marker,), max_results=1))
        if earlier:
            return earlier[0]
        fields = {
            "project": {"key": project},
            "issuetype": {"name": issue_type},
            "summary": summary,
            "description": adf(description),
            "priority": {"name": priority},
            "labels": [*dict.fromkeys(labels), marker],
        }
        created = await self._call("POST", "/rest/api/3/issue", body={"fields": fields})
        return await self.get_issue(created["key"])

    async def link_issues(self, link_type: str, *, inward: str, outward: str) -> Link:
        """Jira keeps one link per (type, inward, outward): posting the same link again changes nothing."""
        await self._call("POST", "/rest/api/3/issueLink", body={"type": {"name": link_type}, "inwardIssue": {"key": inward}, "outwardIssue": {"key": outward}})
        return Link(link_type, INWARD.get(link_type, link_type), outward.upper())

    async def comments(self, key: str, *, newest_first: bool = True, limit: int = COMMENT_PAGES * 100) -> list[Comment]:
        """An issue's comments (newest first by default), following ``startAt`` pages up to ``limit``."""
        found: list[Comment] = []
        while len(found) < limit:
            page = await self._call("GET", f"/rest/api/3/issue/{quote(key)}/comment",
                                    params={"startAt": len(found), "maxResults": 100, "orderBy": "-created" if newest_first else "created"})
            batch = page.get("comments", [])
            found += [_comment(key, c) for c in batch]
            if not batch or len(found) >= int(page.get("total", 0)):
                break
        return found[:limit]

    async def add_comment(self, key: str, body: str, *, idempotency_key: str) -> Comment:
        """A comment ending in ``(ref <label>)``; a comment already carrying that reference is returned instead."""
        reference = f"(ref {idempotency_label(idempotency_key)})"
        for comment in await self.comments(key):
            if reference in comment.body:
                return comment
        made = await self._call("POST", f"/rest/api/3/issue/{quote(key)}/comment", body={"body": adf(f"{body}\n\n{reference}")})
        return _comment(key, made)


def _comment(key: str, body: dict[str, Any]) -> Comment:
    author = body.get("author") or {}
    return Comment(id=str(body["id"]), issue_key=key, body=plain(body.get("body")), author=author.get("emailAddress") or author.get("displayName") or author.get("accountId", ""))
