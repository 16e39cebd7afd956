"""The Jira connector interface: what steps may ask of the tracker. ``JiraSandbox``
(deploy/sandbox/jira.py) speaks it over PostgreSQL; ``JiraHttp`` (jira_http.py) over Jira
Cloud's REST API v3. Errors are ``JiraError``s with Jira's own body, ``{"errorMessages": [...],
"errors": {field: message}}``, and its statuses (400, 401, 403, 404; 429 and 5xx are transient).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from runtime.vendor.errors import ApiError

PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
#: A label Jira accepts: no whitespace (Jira refuses labels with spaces).
LABEL = re.compile(r"^\S{1,255}$")


class JiraError(ApiError):
    """An error as Jira reports it. ``code`` is the HTTP reason, or ``errors.<field>`` for a field."""

    REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}

    def __init__(self, status: int, messages: Sequence[str] = (), errors: Mapping[str, str] | None = None) -> None:
        self.messages, self.errors = list(messages), dict(errors or {})
        code = f"errors.{next(iter(self.errors))}" if self.errors else self.REASONS.get(status, "Server Error" if status >= 500 else "Error")
        summary = "; ".join([*self.messages, *(f"{k}: {v}" for k, v in self.errors.items())]) or self.REASONS.get(status, f"HTTP {status}")
        super().__init__(status, code, summary)

    @property
    def body(self) -> dict[str, object]:
        return {"errorMessages": self.messages, "errors": self.errors}


@dataclass(frozen=True)
class Link:
    type: str  # Relates | Blocks | Duplicate | Problem/Incident
    label: str  # as read from this issue: "relates to", "is caused by", ...
    key: str  # the other issue


@dataclass(frozen=True)
class Issue:
    id: str
    key: str
    project: str
    issue_type: str
    summary: str
    description: str
    priority: str
    status: str
    status_category: str  # new | indeterminate | done
    labels: tuple[str, ...] = ()
    reporter: str = ""
    created: datetime | None = None
    links: tuple[Link, ...] = ()

    @property
    def open(self) -> bool:
        return self.status_category != "done"


@dataclass(frozen=True)
class Comment:
    id: str
    issue_key: str
    body: str
    author: str


@dataclass(frozen=True)
class Query:
    """The searches steps make, rendered as JQL for a real Jira."""

    project: str | None = None
    labels: tuple[str, ...] = ()  # every one of them
    issue_type: str | None = None
    open_only: bool = False
    exclude: tuple[str, ...] = field(default=())  # issue keys
    max_results: int = 50

    def jql(self) -> str:
        clauses = []
        if self.project:
            clauses.append(f"project = {_quote(self.project)}")
        if self.issue_type:
            clauses.append(f"issuetype = {_quote(self.issue_type)}")
        clauses += [f"labels = {_quote(label)}" for label in self.labels]
        if self.open_only:
            clauses.append("statusCategory != Done")
        if self.exclude:
            clauses.append(f"key not in ({', '.join(_quote(k) for k in self.exclude)})")
        return " AND ".join(clauses) + " ORDER BY created DESC"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Jira(Protocol):
    async def get_issue(self, key: str) -> Issue: ...

    async def search(self, query: Query) -> list[Issue]: ...

    async def create_issue(self, *, project: str, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str], idempotency_key: str, ticket_id: str) -> Issue: ...

    async def link_issues(self, link_type: str, *, inward: str, outward: str) -> Link: ...

    async def add_comment(self, key: str, body: str, *, idempotency_key: str) -> Comment: ...
