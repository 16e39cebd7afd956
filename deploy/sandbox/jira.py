"""A Jira-like tracker in PostgreSQL: projects (IT tasks, INC incidents, PUR purchases), issues with
Jira's keys, priorities, statuses and status categories, issue links of Jira's link types, and
comments; searches by project, type, labels and status category (the JQL steps use).

Every call carries the calling coworker's own API token, and the sandbox refuses (401, 403) a revoked
token or a scope the token does not carry; bad input is refused with Jira's 400 body naming the field.
The same idempotency key never creates an issue or a comment twice (the HTTP API, like Jira, takes
no key: it passes a fresh one per request, so over HTTP only the client's own reconciliation dedupes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    "issues.transition": "You do not have permission to transition this issue.",
    "issues.edit": "You do not have permission to edit issues in this project.",
    "issues.assign": "You do not have permission to assign issues in this project.",
}

#: Each issue type's workflow: its statuses (name -> status id, category), every one reachable from
#: every other, as a team-managed project's "allow all statuses" workflow. A transition is named
#: after the status it leads to and its id is fixed per status (``TRANSITION_IDS``), so "Done" is
#: transition 31 of a task whatever its status: To Do -> In Progress -> Done, or straight to Done.
WORKFLOWS: dict[str, dict[str, tuple[str, str]]] = {
    "Task": {"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")},
    "Incident": {"Open": ("1", "new"), "In Progress": ("3", "indeterminate"), "Resolved": ("5", "done"), "Closed": ("6", "done")},
    "Purchase": {"Waiting for approval": ("10002", "new"), "Approved": ("10003", "indeterminate"), "Delivered": ("10004", "done")},
}
TRANSITION_IDS = {"To Do": "11", "Open": "11", "Waiting for approval": "11", "In Progress": "21", "Approved": "21",
                  "Done": "31", "Resolved": "31", "Delivered": "31", "Closed": "41"}


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    status: str  # the status it leads to
    status_id: str
    category: str  # new | indeterminate | done


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


async def issue_key(conn: asyncpg.Connection, key_or_id: str) -> str:
    """The key of the issue ``key_or_id`` names (its key, any case, or its numeric id), or Jira's 404."""
    found = await conn.fetchval("SELECT key FROM jira_issues WHERE key = upper($1) OR id = $1", key_or_id)
    if found is None:
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
    return found


async def extras(conn: asyncpg.Connection, key: str) -> asyncpg.Record:
    """What an issue shows beyond the connector's ``Issue``: assignee, the description's ADF, updated."""
    return await conn.fetchrow("SELECT assignee, description_adf, updated FROM jira_issues WHERE key = $1", key)


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
    conn: asyncpg.Connection, caller: Caller, *, project: str, issue_type: str, summary: str, description: str, priority: str, labels: Sequence[str], idempotency_key: str, ticket_id: str | None,
    description_adf: dict[str, Any] | None = None,
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
        "INSERT INTO jira_issues (id, key, project_key, issue_type, summary, description, priority, status, status_category, labels, reporter, ticket_id, idempotency_key, description_adf)"
        f" VALUES (nextval('jira_ids')::text, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {_COLUMNS}",
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
        json.dumps(description_adf) if description_adf is not None else None,
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


async def add_comment(
    conn: asyncpg.Connection, caller: Caller, key: str, body: str, *, idempotency_key: str, adf: dict[str, Any] | None = None, properties: Sequence[dict[str, Any]] = ()
) -> Comment:
    """Comment on an issue (by key or id) as the token's account; ``adf`` and ``properties`` (JSM's
    ``sd.public.comment``) are kept as given and shown back."""
    _require(caller, "issues.comment")
    earlier = await conn.fetchrow("SELECT id, issue_key, body, author FROM jira_comments WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return Comment(**dict(earlier))
    key = await issue_key(conn, key)
    if not body.strip() or len(body) > MAX_TEXT:
        raise JiraError(400, [], {"comment": "Comment body can not be empty!" if not body.strip() else f"You can only enter {MAX_TEXT:,} characters in this field."})
    row = await conn.fetchrow(
        "INSERT INTO jira_comments (issue_key, body, author, idempotency_key, body_adf, properties) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, issue_key, body, author",
        key,
        body,
        caller.coworker,
        idempotency_key,
        json.dumps(adf) if adf is not None else None,
        json.dumps(list(properties)),
    )
    await conn.execute("UPDATE jira_issues SET updated = now() WHERE key = $1", key)
    return Comment(**dict(row))


_COMMENT_COLUMNS = "id, issue_key, body, author, created, body_adf, properties"


async def comment(conn: asyncpg.Connection, caller: Caller, key: str, comment_id: str) -> asyncpg.Record:
    """One comment of an issue (``_COMMENT_COLUMNS``), or Jira's 404."""
    _require(caller, "issues.read")
    key = await issue_key(conn, key)
    row = await conn.fetchrow(f"SELECT {_COMMENT_COLUMNS} FROM jira_comments WHERE issue_key = $1 AND id = $2", key, comment_id)
    if row is None:
        raise JiraError(404, ["Can not find a comment for the id: " + comment_id + "."])
    return row


async def transitions(conn: asyncpg.Connection, caller: Caller, key: str) -> list[Transition]:
    """The transitions open to the issue now: to every status of its workflow but its own."""
    _require(caller, "issues.read")
    key = await issue_key(conn, key)
    row = await conn.fetchrow("SELECT issue_type, status FROM jira_issues WHERE key = $1", key)
    workflow = WORKFLOWS.get(row["issue_type"], WORKFLOWS["Task"])
    return sorted(
        (Transition(TRANSITION_IDS[name], name, name, status_id, category) for name, (status_id, category) in workflow.items() if name != row["status"]),
        key=lambda t: int(t.id),
    )


async def transition(conn: asyncpg.Connection, caller: Caller, key: str, transition_id: str) -> tuple[str, Transition]:
    """Move the issue along transition ``transition_id``; return the status it left and the transition."""
    _require(caller, "issues.transition")
    open_now = {t.id: t for t in await transitions(conn, caller, key)}
    chosen = open_now.get(str(transition_id))
    if chosen is None:
        raise JiraError(400, [f"Transition id '{transition_id}' is not valid for this issue."])
    key = await issue_key(conn, key)
    before = await conn.fetchval(
        "UPDATE jira_issues i SET status = $2, status_category = $3, updated = now() FROM jira_issues old"
        " WHERE i.key = $1 AND old.key = i.key RETURNING old.status", key, chosen.status, chosen.category,
    )
    return before, chosen


#: The human service desk's agents, Jira users of the site as the organisation's people are (the
#: people escalations are assigned to; the same staff as the simulated Zendesk's).
DESK_AGENTS = ("priya.raman@acme.example", "jordan.lee@acme.example", "sam.okafor@acme.example")

#: Every account of the site by name: the desk's agents, the organisation's people (by e-mail), and
#: whoever holds a token, reported, wrote or was assigned.
_ACCOUNTS = (
    "SELECT unnest($1::text[]) AS name UNION SELECT email FROM okta_users UNION SELECT coworker FROM sandbox_api_tokens WHERE system = 'jira'"
    " UNION SELECT reporter FROM jira_issues UNION SELECT author FROM jira_comments UNION SELECT assignee FROM jira_issues WHERE assignee IS NOT NULL"
)


async def account(conn: asyncpg.Connection, account_id: str) -> str | None:
    """The account name an ``accountId`` stands for, or None (no such user on the site)."""
    return await conn.fetchval(f"SELECT name FROM ({_ACCOUNTS}) n WHERE jira_account_id(name) = $2 LIMIT 1", list(DESK_AGENTS), account_id)


async def accounts(conn: asyncpg.Connection, query: str, limit: int = 50) -> list[str]:
    """Account names matching ``query`` (a part of the e-mail or name, any case), as Jira's user search."""
    rows = await conn.fetch(
        f"SELECT name FROM ({_ACCOUNTS}) n WHERE $2 <> '' AND strpos(lower(name), lower($2)) > 0 ORDER BY name LIMIT $3", list(DESK_AGENTS), query, limit,
    )
    return [r["name"] for r in rows]


_EDITABLE = ("summary", "priority", "labels", "assignee")


async def edit_issue(conn: asyncpg.Connection, caller: Caller, key: str, fields: dict[str, Any], update: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Edit an issue as ``PUT /issue`` does: ``fields`` set values (``assignee`` by ``accountId``,
    None to unassign), ``update`` applies operations (``labels``: ``add``/``remove``/``set``).
    Returns what changed (field -> (before, after)); a field it cannot set is Jira's 400. As Jira's
    permissions, assigning needs ``issues.assign`` and any other change ``issues.edit``."""
    if "assignee" in fields:
        _require(caller, "issues.assign")
    if set(fields) - {"assignee"} or update:
        _require(caller, "issues.edit")
    key = await issue_key(conn, key)
    row = await conn.fetchrow("SELECT summary, priority, labels, assignee FROM jira_issues WHERE key = $1 FOR UPDATE", key)
    errors: dict[str, str] = {}
    for name in [*fields, *update]:
        if name not in _EDITABLE:
            errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
    after: dict[str, Any] = {"summary": row["summary"], "priority": row["priority"], "labels": list(row["labels"]), "assignee": row["assignee"]}
    if "summary" in fields:
        summary = str(fields["summary"] or "")
        if not summary.strip() or len(summary) > 255 or "\n" in summary:
            errors["summary"] = "You must specify a summary of the issue." if not summary.strip() else "The summary is invalid."
        after["summary"] = summary
    if "priority" in fields:
        priority = (fields["priority"] or {}).get("name") if isinstance(fields["priority"], dict) else None
        if priority not in PRIORITIES:
            errors["priority"] = f"The priority selected is invalid: {priority!r}"
        after["priority"] = priority
    if "assignee" in fields:
        given = fields["assignee"]
        if given is None or (isinstance(given, dict) and given.get("accountId") is None):
            after["assignee"] = None
        elif not isinstance(given, dict) or not isinstance(given.get("accountId"), str):
            errors["assignee"] = "Specify the assignee as an object with an accountId."
        elif (name := await account(conn, given["accountId"])) is None:
            errors["assignee"] = f"User '{given['accountId']}' does not exist."
        else:
            after["assignee"] = name
    if "labels" in fields:
        if not isinstance(fields["labels"], list) or not all(isinstance(label, str) for label in fields["labels"]):
            errors["labels"] = "Labels must be a list of strings."
        else:
            after["labels"] = list(dict.fromkeys(fields["labels"]))
    for operation in update.get("labels", []) if isinstance(update.get("labels"), list) else []:
        for verb, value in (operation.items() if isinstance(operation, dict) else ()):
            if verb == "add" and isinstance(value, str):
                after["labels"] = list(dict.fromkeys([*after["labels"], value]))
            elif verb == "remove" and isinstance(value, str):
                after["labels"] = [label for label in after["labels"] if label != value]
            elif verb == "set" and isinstance(value, list):
                after["labels"] = list(dict.fromkeys(str(v) for v in value))
            else:
                errors["labels"] = f"The operation '{verb}' is not valid for labels."
    if bad := [label for label in after["labels"] if not LABEL.match(label)]:
        errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
    if errors:
        raise JiraError(400, [], errors)
    changed = {name: (before, after[name]) for name, before in (("summary", row["summary"]), ("priority", row["priority"]), ("labels", list(row["labels"])), ("assignee", row["assignee"])) if before != after[name]}
    if changed:
        await conn.execute(
            "UPDATE jira_issues SET summary = $2, priority = $3, labels = $4, assignee = $5, updated = now() WHERE key = $1",
            key, after["summary"], after["priority"], after["labels"], after["assignee"],
        )
    return changed


async def comments(conn: asyncpg.Connection, caller: Caller, key: str, *, start_at: int = 0, max_results: int = 50, newest_first: bool = False) -> tuple[list[asyncpg.Record], int]:
    """A page of an issue's comments (``_COMMENT_COLUMNS``) and how many there are."""
    _require(caller, "issues.read")
    key = await issue_key(conn, key)
    order = "DESC" if newest_first else "ASC"
    rows = await conn.fetch(
        f"SELECT {_COMMENT_COLUMNS} FROM jira_comments WHERE issue_key = $1 ORDER BY created {order}, id::bigint {order} OFFSET $2 LIMIT $3",
        key, start_at, max_results,
    )
    return list(rows), await conn.fetchval("SELECT count(*) FROM jira_comments WHERE issue_key = $1", key)


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
