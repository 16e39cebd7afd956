"""A Jira-like tracker in PostgreSQL: projects (IT tasks, INC incidents, PUR purchases), issues with
Jira's keys, priorities, statuses and status categories, issue links of Jira's link types, and
comments; searches by project, type, labels and status category (the JQL steps use).

Every call carries the calling coworker's own API token, and the sandbox refuses (401, 403) a revoked
token or a scope the token does not carry; bad input is refused with Jira's 400 body naming the field.
The same idempotency key never creates an issue or a comment twice (the HTTP API, like Jira, takes
no key: it passes a fresh one per request, so over HTTP only the client's own reconciliation dedupes).
"""

from __future__ import annotations

from collections.abc import Sequence
import asyncpg

from services.skills.connectors.jira import LABEL, PRIORITIES, Comment, Issue, JiraError, Link, Query
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "jira"

#: The status a new issue of each type starts in, and its category.
INITIAL = {"Incident": ("Open", "new"), "Task": ("To Do", "new"), "Purchase": ("Waiting for approval", "new")}
MAX_TEXT = 32767

_DENIED = {
    "issues.read": "You do not have the permission to browse issues in this project.",
    "issues.create": "You do not have permission to create issues in this project.",
    "issues.link": "You do not have the permission to link issues.",
    "issues.comment": "You do not have the permission to comment on this issue.",
}


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise JiraError(401, ["Client must be authenticated to access this resource."])
    return caller


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise JiraError(403, [f"{_DENIED[scope]} ({caller.coworker}'s token lacks {scope})"])


_COLUMNS = "id, key, project_key, issue_type, summary, description, priority, status, status_category, labels, reporter, created"


def _issue(row: asyncpg.Record, links: Sequence[Link] = ()) -> Issue:
    return Issue(
        id=row["id"], key=row["key"], project=row["project_key"], issue_type=row["issue_type"], summary=row["summary"],
        description=row["description"], priority=row["priority"], status=row["status"], status_category=row["status_category"],
        labels=tuple(row["labels"]), reporter=row["reporter"], created=row["created"], links=tuple(links),
    )


async def _links(conn: asyncpg.Connection, key: str) -> list[Link]:
    rows = await conn.fetch(
        "SELECT l.link_type, t.inward, t.outward, l.inward_key, l.outward_key FROM jira_issue_links l JOIN jira_issue_link_types t ON t.name = l.link_type"
        " WHERE l.inward_key = $1 OR l.outward_key = $1 ORDER BY l.created, l.id",
        key,
    )
    return [Link(r["link_type"], r["inward"], r["outward_key"]) if r["inward_key"] == key else Link(r["link_type"], r["outward"], r["inward_key"]) for r in rows]


async def get_issue(conn: asyncpg.Connection, caller: Caller, key: str) -> Issue:
    _require(caller, "issues.read")
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM jira_issues WHERE key = upper($1) OR id = $1", key)
    if row is None:
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
    return _issue(row, await _links(conn, row["key"]))


async def search(conn: asyncpg.Connection, caller: Caller, query: Query) -> list[Issue]:
    _require(caller, "issues.read")
    if query.project and not await conn.fetchval("SELECT true FROM jira_projects WHERE key = upper($1)", query.project):
        raise JiraError(400, [f"The value '{query.project}' does not exist for the field 'project'."])
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM jira_issues WHERE ($1::text IS NULL OR project_key = upper($1)) AND ($2::text IS NULL OR issue_type = $2)"
        " AND labels @> $3::text[] AND (NOT $4 OR status_category <> 'done') AND NOT (key = ANY($5::text[]))"
        " ORDER BY created DESC, id DESC LIMIT $6",
        query.project,
        query.issue_type,
        list(query.labels),
        query.open_only,
        list(query.exclude),
        query.max_results,
    )
    return [_issue(r) for r in rows]


def _invalid(project: asyncpg.Record | None, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str]) -> dict[str, str]:
    """Jira's field errors for a create, all at once as Jira reports them."""
    errors: dict[str, str] = {}
    if project is None:
        errors["project"] = "valid project is required"
    elif issue_type not in project["issue_types"]:
        errors["issuetype"] = "The issue type selected is invalid."
    if not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255 or "\n" in summary:
        errors["summary"] = "Summary must be less than 255 characters." if len(summary) > 255 else "The summary is invalid because it contains newline characters."
    if len(description) > MAX_TEXT:
        errors["description"] = f"You can only enter {MAX_TEXT:,} characters in this field."
    if priority not in PRIORITIES:
        errors["priority"] = f"The priority selected is invalid: {priority!r}"
    if bad := [label for label in labels if not LABEL.match(label)]:
        errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
    return errors


async def create_issue(
    conn: asyncpg.Connection, caller: Caller, *, project: str, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str], idempotency_key: str, ticket_id: str | None
) -> Issue:
    """Create an issue (reported by the token's account, as Jira does); once per idempotency key."""
    _require(caller, "issues.create")
    earlier = await conn.fetchrow(f"SELECT {_COLUMNS} FROM jira_issues WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return _issue(earlier, await _links(conn, earlier["key"]))
    found = await conn.fetchrow("SELECT key, issue_types FROM jira_projects WHERE key = upper($1) FOR UPDATE", project)
    if errors := _invalid(found, issue_type, summary, description, priority, labels):
        raise JiraError(400, [], errors)
    assert found is not None
    status, category = INITIAL.get(issue_type, ("To Do", "new"))
    number = await conn.fetchval("UPDATE jira_projects SET next_number = next_number + 1 WHERE key = $1 RETURNING next_number - 1", found["key"])
    row = await conn.fetchrow(
        "INSERT INTO jira_issues (id, key, project_key, issue_type, summary, description, priority, status, status_category, labels, reporter, ticket_id, idempotency_key)"
        f" VALUES (nextval('jira_ids')::text, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {_COLUMNS}",
        f"{found['key']}-{number}",
        found["key"],
        issue_type,
        summary,
        description,
        priority,
        status,
        category,
        list(dict.fromkeys(labels)),
        caller.coworker,
        ticket_id,
        idempotency_key,
    )
    return _issue(row)


async def link_issues(conn: asyncpg.Connection, caller: Caller, link_type: str, *, inward: str, outward: str) -> Link:
    """Link two issues; an identical link already there is not made twice (as in Jira)."""
    _require(caller, "issues.link")
    kind = await conn.fetchrow("SELECT name, inward FROM jira_issue_link_types WHERE lower(name) = lower($1)", link_type)
    if kind is None:
        raise JiraError(404, [f"No issue link type with name '{link_type}' found."])
    keys = {r["key"] for r in await conn.fetch("SELECT key FROM jira_issues WHERE key = ANY($1::text[])", [inward.upper(), outward.upper()])}
    if missing := [k for k in (inward.upper(), outward.upper()) if k not in keys]:
        raise JiraError(404, [f"Issue Does Not Exist: {missing[0]}"])
    if inward.upper() == outward.upper():
        raise JiraError(400, ["You cannot link an issue to itself."])
    await conn.execute(
        "INSERT INTO jira_issue_links (link_type, inward_key, outward_key, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        kind["name"],
        inward.upper(),
        outward.upper(),
        caller.coworker,
    )
    return Link(kind["name"], kind["inward"], outward.upper())


async def add_comment(conn: asyncpg.Connection, caller: Caller, key: str, body: str, *, idempotency_key: str) -> Comment:
    _require(caller, "issues.comment")
    earlier = await conn.fetchrow("SELECT id, issue_key, body, author FROM jira_comments WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return Comment(**dict(earlier))
    if not await conn.fetchval("SELECT true FROM jira_issues WHERE key = upper($1)", key):
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
    if not body.strip() or len(body) > MAX_TEXT:
        raise JiraError(400, [], {"comment": "Comment body can not be empty!" if not body.strip() else f"You can only enter {MAX_TEXT:,} characters in this field."})
    row = await conn.fetchrow(
        "INSERT INTO jira_comments (issue_key, body, author, idempotency_key) VALUES (upper($1), $2, $3, $4) RETURNING id, issue_key, body, author",
        key,
        body,
        caller.coworker,
        idempotency_key,
    )
    await conn.execute("UPDATE jira_issues SET updated = now() WHERE key = upper($1)", key)
    return Comment(**dict(row))


async def comments(conn: asyncpg.Connection, caller: Caller, key: str, *, start_at: int = 0, max_results: int = 50, newest_first: bool = False) -> tuple[list[asyncpg.Record], int]:
    """A page of an issue's comments (id, issue_key, body, author, created) and how many there are."""
    _require(caller, "issues.read")
    if not await conn.fetchval("SELECT true FROM jira_issues WHERE key = upper($1)", key):
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
    order = "DESC" if newest_first else "ASC"
    rows = await conn.fetch(
        f"SELECT id, issue_key, body, author, created FROM jira_comments WHERE issue_key = upper($1) ORDER BY created {order}, id::bigint {order} OFFSET $2 LIMIT $3",
        key, start_at, max_results,
    )
    return list(rows), await conn.fetchval("SELECT count(*) FROM jira_comments WHERE issue_key = upper($1)", key)


async def projects(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """Every project (key, id, name), by key: what an issue's ``project`` field shows."""
    return {r["key"]: r for r in await conn.fetch("SELECT key, id, name FROM jira_projects")}


async def link_types(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """Every issue link type (name, inward, outward), by name."""
    return {r["name"]: r for r in await conn.fetch("SELECT name, inward, outward FROM jira_issue_link_types ORDER BY name")}


class JiraSandbox(SandboxConnector):
    """The Jira connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def get_issue(self, key: str) -> Issue:
        return await get_issue(self.conn, await self.caller(), key)

    async def search(self, query: Query) -> list[Issue]:
        return await search(self.conn, await self.caller(), query)

    async def create_issue(self, *, project: str, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str], idempotency_key: str, ticket_id: str | None) -> Issue:
        return await create_issue(
            self.conn, await self.caller(), project=project, issue_type=issue_type, summary=summary, description=description,
            priority=priority, labels=labels, idempotency_key=idempotency_key, ticket_id=ticket_id,
        )

    async def link_issues(self, link_type: str, *, inward: str, outward: str) -> Link:
        return await link_issues(self.conn, await self.caller(), link_type, inward=inward, outward=outward)

    async def add_comment(self, key: str, body: str, *, idempotency_key: str) -> Comment:
        return await add_comment(self.conn, await self.caller(), key, body, idempotency_key=idempotency_key)
