"""Jira Cloud's REST API v3, as much of it as the Jira connector uses, over the Jira state logic
(``deploy/sandbox/jira.py``), one transaction per request.

- ``GET  /rest/api/3/issue/{issueIdOrKey}``: the issue JSON (``fields`` with ADF ``description``,
  ``issuelinks`` read from this issue's side).
- ``GET|POST /rest/api/3/search/jql``: the enhanced search (``jql``, ``maxResults`` up to 100,
  ``nextPageToken`` only while a next page exists, ``isLast``; no ``total``). Only the JQL the
  connector writes is understood (``project``, ``issuetype``, ``labels`` ``=``, ``statusCategory !=
  Done``, ``key not in (...)``, ``ORDER BY created DESC``); anything else is Jira's 400 JQL error,
  and an unbounded query is refused as Jira Cloud refuses it. The removed ``/rest/api/3/search``
  answers 410 Gone, as Jira Cloud has since 2025.
- ``POST /rest/api/3/issue`` (201 ``{id, key, self}``), ``POST /rest/api/3/issueLink`` (201, no body),
  ``GET|POST /rest/api/3/issue/{key}/comment`` (``startAt``/``maxResults``/``orderBy``; ADF bodies
  kept as written; JSM's ``properties`` such as ``sd.public.comment`` ``{"internal": true}`` kept,
  ``jsdPublic`` false for such a note, the properties shown with ``expand=properties``), and
  ``GET .../comment/{id}``.
- ``GET|POST /rest/api/3/issue/{key}/transitions`` (the issue type's workflow, ``deploy/sandbox/jira.py``
  ``WORKFLOWS``; 204; an id not open to the issue is a 400), ``PUT /rest/api/3/issue/{key}``
  (``fields`` summary, priority, labels, ``assignee {accountId}``; ``update.labels`` add/remove/set; 204),
  ``GET /rest/api/3/myself``, ``GET /rest/api/3/user/search?query=``.
- Every ``{key}`` is an issue key or its numeric id, as on Jira.

On a change it sends Jira's webhooks (``deploy/sandbox/webhooks.py``): ``jira:issue_created``
(the issue as GET shows it), ``comment_created`` and ``jira:issue_updated`` (a transition or an
edit, with its changelog).

Auth is ``Authorization: Basic base64(email:api_token)`` (see ``HttpJira``) or ``Bearer <token>``,
with a token the administration API issued for system ``jira``; writing needs the token's scopes
(``issues.create``, ``issues.comment``, ``issues.transition``, ``issues.edit``, ...). A requester acts
through a token issued to them by e-mail (``coworker = priya.raman@acme.example``): what they
create or write is theirs (reporter, author). Errors are Jira's ``{"errorMessages": [...], "errors": {...}}``. Jira takes no idempotency key, so neither does this:
each write hands the state logic a fresh key, and repeating a request repeats its effect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from deploy.sandbox.api import ticket_of
from deploy.sandbox import jira as state_logic
from deploy.sandbox import webhooks
from deploy.sandbox.jira import JiraSandbox
from services.skills.connectors.jira import Issue, JiraError, Query

MAX_PAGE = 100
GONE = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
CATEGORY = {"new": ("2", "To Do", "blue-gray"), "indeterminate": ("4", "In Progress", "yellow"), "done": ("3", "Done", "green")}
PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
TYPE_IDS = {"Task": "10001", "Incident": "10002", "Purchase": "10003"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _errors(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": messages or [], "errors": errors or {}}, status=status)


def _credentials(request: web.Request) -> tuple[str | None, str | None]:
    """The e-mail (Basic only) and the API token from Basic ``email:token`` or a Bearer header."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return None, value.strip() or None
    if scheme.lower() == "basic":
        try:
            email, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return email, secret or None
    return None, None


class HttpJira(JiraSandbox):
    """The state logic as the account a request's credentials name. With Basic ``email:token``, as
    on Jira Cloud, the token must be that account's: an account named by its e-mail (a person, or
    an integration user ``atom-bot@...``) answers only to its own address, any other is a 401; an
    account named otherwise (a coworker's bot, ``jordan``) has no address here, so any is taken."""

    def __init__(self, conn: Any, token: str | None, email: str | None = None) -> None:
        super().__init__(conn, token)
        self.email = email

    async def caller(self) -> Any:
        found = await super().caller()
        if self.email is not None and "@" in found.coworker and self.email.lower() != found.coworker.lower():
            raise JiraError(401, ["Client must be authenticated to access this resource."])
        return found


def _session(state: Any, request: web.Request) -> Any:
    email, token = _credentials(request)
    return state.session(lambda conn, given: HttpJira(conn, given, email), token)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _base(request: web.Request) -> str:
    return str(request.url.origin()) + request.path[: request.path.index("/rest/")]


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z") if value else None


def _user(name: str) -> dict[str, Any]:
    """An account as Jira shows one: an opaque ``accountId``; the e-mail only where it is public."""
    account = "712020:" + str(uuid.UUID(hashlib.sha256(name.encode()).hexdigest()[:32]))
    user: dict[str, Any] = {"accountId": account, "displayName": name.split("@")[0], "active": True, "accountType": "atlassian"}
    if "@" in name:
        user["emailAddress"] = name
    return user


def adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document (a paragraph per blank-line block, hard breaks inside)."""
    paragraphs = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def text_of(document: dict[str, Any]) -> str:
    """The text an ADF document holds (what this simulator stores)."""

    def walk(node: dict[str, Any]) -> str:
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        return "".join(walk(child) for child in node.get("content", []) if isinstance(child, dict))

    return "\n\n".join(walk(block) for block in document.get("content", []) if isinstance(block, dict))


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1 and isinstance(value.get("content"), list)


class View:
    """Renders the state logic's records as Jira's JSON, with the projects and link types it needs."""

    def __init__(self, base: str, projects: dict[str, Any], link_types: dict[str, Any]) -> None:
        self.base, self.projects, self.link_types = base, projects, link_types

    def issue(self, issue: Issue, extras: Any = None) -> dict[str, Any]:
        project = self.projects.get(issue.project)
        category_id, category_name, colour = CATEGORY[issue.status_category]
        links = []
        for n, link in enumerate(issue.links):
            kind = self.link_types.get(link.type)
            kind_json = {"id": str(10000 + n), "name": link.type, "inward": kind["inward"] if kind else link.label, "outward": kind["outward"] if kind else link.label}
            # Read from this issue: "this <inward> other" carries inwardIssue, "this <outward> other" outwardIssue.
            side = "inwardIssue" if kind is None or link.label == kind["inward"] else "outwardIssue"
            links.append({"id": str(hashlib.sha256(f"{issue.key}{link}".encode()).hexdigest()[:8]), "type": kind_json, side: {"key": link.key, "self": f"{self.base}/rest/api/3/issue/{link.key}"}})
        fields = {
            "summary": issue.summary,
            "description": _stored_adf(extras, "description_adf") or (adf(issue.description) if issue.description else None),
            "issuetype": {"id": TYPE_IDS.get(issue.issue_type, "10000"), "name": issue.issue_type, "subtask": False},
            "project": {"id": project["id"], "key": project["key"], "name": project["name"]} if project else {"key": issue.project},
            "priority": {"id": PRIORITY_IDS.get(issue.priority, "3"), "name": issue.priority},
            "status": {"name": issue.status, "statusCategory": {"id": int(category_id), "key": issue.status_category, "name": category_name, "colorName": colour}},
            "labels": list(issue.labels),
            "reporter": _user(issue.reporter) if issue.reporter else None,
            "assignee": _user(extras["assignee"]) if extras and extras["assignee"] else None,
            "created": _when(issue.created),
            "updated": _when(extras["updated"]) if extras else _when(issue.created),
            "issuelinks": links,
        }
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations", "id": issue.id, "self": f"{self.base}/rest/api/3/issue/{issue.id}", "key": issue.key, "fields": fields}

    def comment(self, row: Any, *, expand_properties: bool = False) -> dict[str, Any]:
        """A comment as Jira shows it: its ADF as written; ``jsdPublic`` false for a JSM internal note
        (property ``sd.public.comment`` ``{"internal": true}``), the properties with ``expand=properties``."""
        author = _user(row["author"])
        created = _when(row["created"]) if row.get("created") else None
        properties = _json(row.get("properties")) or []
        internal = any(p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal") is True for p in properties if isinstance(p, dict))
        shown = {"self": f"{self.base}/rest/api/3/issue/{row['issue_key']}/comment/{row['id']}", "id": str(row["id"]), "author": author, "updateAuthor": author,
                 "body": _stored_adf(row, "body_adf") or adf(row["body"]), "created": created, "updated": created, "jsdPublic": not internal}
        if expand_properties:
            shown["properties"] = properties
        return shown

    def transition(self, transition: Any) -> dict[str, Any]:
        category_id, category_name, colour = CATEGORY[transition.category]
        status = {"self": f"{self.base}/rest/api/3/status/{transition.status_id}", "description": "", "name": transition.status, "id": transition.status_id,
                  "statusCategory": {"self": f"{self.base}/rest/api/3/statuscategory/{category_id}", "id": int(category_id), "key": transition.category,
                                     "colorName": colour, "name": category_name}}
        return {"id": transition.id, "name": transition.name, "to": status, "hasScreen": False, "isGlobal": True, "isInitial": False,
                "isAvailable": True, "isConditional": False, "isLooped": False}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _stored_adf(row: Any, column: str) -> dict[str, Any] | None:
    if row is None:
        return None
    try:
        value = row[column]
    except KeyError:
        return None
    return _json(value)


# -- JQL -------------------------------------------------------------------------------------------

_VALUE = r'"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.\-]+)'


def _unquote(match: re.Match[str], at: int = 1) -> str:
    quoted, bare = match.group(at), match.group(at + 1)
    return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare


def parse_jql(jql: str) -> Query:
    """The JQL the connector writes, as a ``Query``; anything else is Jira's 400 for a query it cannot run."""
    where, _, order = re.sub(r"\s+ORDER\s+BY\s+", " ORDER BY ", jql.strip(), count=1, flags=re.IGNORECASE).partition(" ORDER BY ")
    if where.upper().startswith("ORDER BY "):
        where, order = "", where[len("ORDER BY "):]
    if order and order.strip().lower() != "created desc":
        raise JiraError(400, [f"Error in the JQL Query: ordering by '{order.strip()}' is not supported here."])
    if not where.strip():
        raise JiraError(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."])
    project = issue_type = None
    labels: list[str] = []
    exclude: list[str] = []
    open_only = False
    for clause in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        clause = clause.strip()
        if m := re.fullmatch(rf"(project|issuetype|labels)\s*=\s*(?:{_VALUE})", clause, flags=re.IGNORECASE):
            value = _unquote(m, 2)
            field = m.group(1).lower()
            if field == "project":
                project = value
            elif field == "issuetype":
                issue_type = value
            else:
                labels.append(value)
        elif re.fullmatch(r"statusCategory\s*!=\s*(Done|\"Done\")", clause, flags=re.IGNORECASE):
            open_only = True
        elif m := re.fullmatch(r"key\s+not\s+in\s*\((.*)\)", clause, flags=re.IGNORECASE):
            exclude += [_unquote(v) for v in re.finditer(_VALUE, m.group(1))]
        else:
            raise JiraError(400, [f"Error in the JQL Query: the clause '{clause}' is not understood here."])
    return Query(project=project, issue_type=issue_type, labels=tuple(labels), open_only=open_only, exclude=tuple(exclude))


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise JiraError(400, ["The provided next page token is invalid or expired."]) from None


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JiraError(400, [f"The value '{value}' is invalid for the parameter '{name}'."]) from None


# -- the app ---------------------------------------------------------------------------------------


def create_app(state: Any) -> web.Application:
    """Jira Cloud's REST API v3 over ``state`` (a ``SandboxState``)."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except JiraError as exc:
            return web.json_response(exc.body, status=exc.status)

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            value = await request.json()
        except ValueError:
            raise JiraError(400, ["Unexpected character in the request body: it is not JSON."]) from None
        if not isinstance(value, dict):
            raise JiraError(400, ["The request body must be a JSON object."])
        return value

    async def view(jira: JiraSandbox, request: web.Request) -> View:
        return View(_base(request), await state_logic.projects(jira.conn), await state_logic.link_types(jira.conn))

    async def render(jira: JiraSandbox, request: web.Request, key: str) -> dict[str, Any]:
        """The issue ``key`` as GET shows it, in the request's transaction."""
        issue = await jira.get_issue(key)
        return (await view(jira, request)).issue(issue, await state_logic.extras(jira.conn, issue.key))

    async def get_issue(request: web.Request) -> web.Response:
        async with _session(state, request) as jira:
            return web.json_response(await render(jira, request, request.match_info["key"]))

    async def removed(request: web.Request) -> web.Response:
        return _errors(410, [GONE])

    async def search(request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            params |= await body(request)
        query = parse_jql(str(params.get("jql") or ""))
        limit = max(1, min(_int(params.get("maxResults"), "maxResults", 50), MAX_PAGE))
        start = _offset(params.get("nextPageToken"))
        async with _session(state, request) as jira:
            found = await jira.search(Query(**{**query.__dict__, "max_results": start + limit + 1}))
            rendering = await view(jira, request)
            page: dict[str, Any] = {"issues": [rendering.issue(await jira.get_issue(i.key), await state_logic.extras(jira.conn, i.key)) for i in found[start : start + limit]],
                                    "isLast": len(found) <= start + limit}
        if not page["isLast"]:
            page["nextPageToken"] = _page_token(start + limit)
        return web.json_response(page)

    async def create_issue(request: web.Request) -> web.Response:
        fields = (await body(request)).get("fields")
        if not isinstance(fields, dict):
            raise JiraError(400, [], {"fields": "Field 'fields' is required."})
        description = fields.get("description")
        if description is not None and not _is_adf(description):
            raise JiraError(400, [], {"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise JiraError(400, [], {"labels": "Labels must be a list of strings."})
        async with _session(state, request) as jira:
            issue = await state_logic.create_issue(
                jira.conn, await jira.caller(),
                project=str((fields.get("project") or {}).get("key") or (fields.get("project") or {}).get("id") or ""),
                issue_type=str((fields.get("issuetype") or {}).get("name") or ""),
                summary=str(fields.get("summary") or ""),
                description=text_of(description) if description else "",
                priority=str((fields.get("priority") or {}).get("name") or "Medium"),
                labels=labels,
                idempotency_key=uuid.uuid4().hex,  # Jira takes no idempotency key: every POST creates
                ticket_id=ticket_of(request) or None,
                description_adf=description,
            )
            shown = await render(jira, request, issue.key)
            user = _user((await jira.caller()).coworker)
            await webhooks.enqueue(jira.conn, "jira", "jira:issue_created", lambda: {
                "timestamp": _now_ms(), "webhookEvent": "jira:issue_created", "issue_event_type_name": "issue_created", "user": user, "issue": shown})
        return web.json_response({"id": issue.id, "key": issue.key, "self": f"{_base(request)}/rest/api/3/issue/{issue.id}"}, status=201)

    async def link(request: web.Request) -> web.Response:
        spec = await body(request)
        kind = (spec.get("type") or {}).get("name")
        inward, outward = (spec.get("inwardIssue") or {}).get("key"), (spec.get("outwardIssue") or {}).get("key")
        if not (kind and inward and outward):
            raise JiraError(400, ["The link needs a type name, an inwardIssue and an outwardIssue."])
        async with _session(state, request) as jira:
            await jira.link_issues(str(kind), inward=str(inward), outward=str(outward))
        return web.Response(status=201)

    async def list_comments(request: web.Request) -> web.Response:
        start = max(0, _int(request.query.get("startAt"), "startAt", 0))
        limit = max(1, min(_int(request.query.get("maxResults"), "maxResults", 100), 100))
        expand = "properties" in request.query.get("expand", "").split(",")
        async with _session(state, request) as jira:
            rows, total = await state_logic.comments(jira.conn, await jira.caller(), request.match_info["key"], start_at=start, max_results=limit,
                                                      newest_first=request.query.get("orderBy", "created").lstrip("+") == "-created")
            rendering = await view(jira, request)
        return web.json_response({"startAt": start, "maxResults": limit, "total": total, "comments": [rendering.comment(dict(r), expand_properties=expand) for r in rows]})

    async def get_comment(request: web.Request) -> web.Response:
        expand = "properties" in request.query.get("expand", "").split(",")
        async with _session(state, request) as jira:
            row = await state_logic.comment(jira.conn, await jira.caller(), request.match_info["key"], request.match_info["id"])
            return web.json_response((await view(jira, request)).comment(dict(row), expand_properties=expand))

    async def add_comment(request: web.Request) -> web.Response:
        given = await body(request)
        document, properties = given.get("body"), given.get("properties") or []
        if not _is_adf(document):
            raise JiraError(400, [], {"comment": "Comment body is not valid! It must be an Atlassian Document."})
        if not isinstance(properties, list) or not all(isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p for p in properties):
            raise JiraError(400, [], {"properties": "Each property must be an object with a key and a value."})
        async with _session(state, request) as jira:
            made = await state_logic.add_comment(jira.conn, await jira.caller(), request.match_info["key"], text_of(document),
                                                 idempotency_key=uuid.uuid4().hex, adf=document, properties=properties)
            row = await state_logic.comment(jira.conn, await jira.caller(), made.issue_key, made.id)
            rendering = await view(jira, request)
            shown = rendering.comment(dict(row))
            issue = await render(jira, request, made.issue_key)
            await webhooks.enqueue(jira.conn, "jira", "comment_created", lambda: {
                "timestamp": _now_ms(), "webhookEvent": "comment_created", "comment": shown,
                "issue": {"id": issue["id"], "self": issue["self"], "key": issue["key"],
                          "fields": {name: issue["fields"][name] for name in ("summary", "issuetype", "project", "priority", "status", "assignee", "reporter", "labels")}}})
        return web.json_response(shown, status=201)

    async def issue_updated(jira: JiraSandbox, request: web.Request, key: str, items: list[dict[str, Any]]) -> None:
        """``jira:issue_updated`` with the changelog of what changed (nothing changed: nothing sent)."""
        if not items:
            return
        shown = await render(jira, request, key)
        user = _user((await jira.caller()).coworker)
        await webhooks.enqueue(jira.conn, "jira", "jira:issue_updated", lambda: {
            "timestamp": _now_ms(), "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic", "user": user, "issue": shown,
            "changelog": {"id": uuid.uuid4().int % 10**8, "items": items}})

    async def get_transitions(request: web.Request) -> web.Response:
        async with _session(state, request) as jira:
            found = await state_logic.transitions(jira.conn, await jira.caller(), request.match_info["key"])
            rendering = await view(jira, request)
        return web.json_response({"expand": "transitions", "transitions": [rendering.transition(t) for t in found]})

    async def do_transition(request: web.Request) -> web.Response:
        given = await body(request)
        chosen = (given.get("transition") or {}).get("id") if isinstance(given.get("transition"), dict) else None
        if chosen is None:
            raise JiraError(400, ["Missing 'transition' identifier."])
        async with _session(state, request) as jira:
            before, transition = await state_logic.transition(jira.conn, await jira.caller(), request.match_info["key"], str(chosen))
            key = await state_logic.issue_key(jira.conn, request.match_info["key"])
            await issue_updated(jira, request, key, [{"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": before, "toString": transition.status}])
        return web.Response(status=204)

    async def edit_issue(request: web.Request) -> web.Response:
        given = await body(request)
        fields, update = given.get("fields") or {}, given.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise JiraError(400, ["The request needs 'fields' or 'update' as objects."])
        async with _session(state, request) as jira:
            changed = await state_logic.edit_issue(jira.conn, await jira.caller(), request.match_info["key"], fields, update)
            key = await state_logic.issue_key(jira.conn, request.match_info["key"])

            def shown(name: str, value: Any) -> str | None:
                return " ".join(value) if isinstance(value, list) else value

            await issue_updated(jira, request, key, [{"field": name, "fieldtype": "jira", "fieldId": name, "fromString": shown(name, old), "toString": shown(name, new)}
                                                     for name, (old, new) in changed.items()])
        return web.Response(status=204)

    async def myself(request: web.Request) -> web.Response:
        async with _session(state, request) as jira:
            return web.json_response({"self": f"{_base(request)}/rest/api/3/myself", **_user((await jira.caller()).coworker)})

    async def user_search(request: web.Request) -> web.Response:
        async with _session(state, request) as jira:
            await jira.caller()
            names = await state_logic.accounts(jira.conn, request.query.get("query", ""), max(1, min(_int(request.query.get("maxResults"), "maxResults", 50), 1000)))
        return web.json_response([{"self": f"{_base(request)}/rest/api/3/user?accountId={_user(n)['accountId']}", **_user(n)} for n in names])

    app = web.Application(middlewares=[errors])
    app.router.add_get("/rest/api/3/issue/{key}", get_issue)
    app.router.add_post("/rest/api/3/issue", create_issue)
    app.router.add_get("/rest/api/3/search", removed)
    app.router.add_post("/rest/api/3/search", removed)
    app.router.add_get("/rest/api/3/search/jql", search)
    app.router.add_post("/rest/api/3/search/jql", search)
    app.router.add_post("/rest/api/3/issueLink", link)
    app.router.add_get("/rest/api/3/issue/{key}/comment", list_comments)
    app.router.add_post("/rest/api/3/issue/{key}/comment", add_comment)
    app.router.add_get("/rest/api/3/issue/{key}/comment/{id}", get_comment)
    app.router.add_get("/rest/api/3/issue/{key}/transitions", get_transitions)
    app.router.add_post("/rest/api/3/issue/{key}/transitions", do_transition)
    app.router.add_put("/rest/api/3/issue/{key}", edit_issue)
    app.router.add_get("/rest/api/3/myself", myself)
    app.router.add_get("/rest/api/3/user/search", user_search)
    return app
