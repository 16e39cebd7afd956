"""SharePoint Online as Microsoft Graph v1.0 serves it, mounted under ``/sharepoint`` (base URL
``http://host:port/sharepoint``, standing for ``https://graph.microsoft.com``). Read only: SharePoint
has no write a skill makes.

- ``POST /v1.0/search/query`` (Microsoft Search) over the pages, ``entityTypes: ["listItem"]``:
  hits best first with ``rank``, a ``summary`` whose ``<c0>...</c0>`` mark the query's words the page
  holds (hit highlighting, ``<ddd/>`` between fragments), and in ``resource.fields`` the managed
  properties the request names in ``fields``: ``title``, ``description``, ``path``, ``siteTitle``,
  ``siteId``, ``listId``, ``audience`` (the pages' Audience column), ``lastModifiedTime``,
  ``contentclass``, and ``rank`` - SharePoint's Rank managed property, the relevance the hits are
  ordered by (here the TF-IDF cosine in [0, 1] the state logic computes); ``from``/``size`` paging
- ``GET /v1.0/sites/{site-id}`` (the site, ``displayName``)
- ``GET /v1.0/sites/{site-id}/pages/{page-id}[/microsoft.graph.sitePage]``, ``$expand=canvasLayout``
  for the text: one section, one column, a text web part whose ``innerHtml`` is the page's paragraphs
- ``GET /v1.0/sites/{site-id}/lists/{list-id}/items/{item-id}?$expand=fields``: the page's list item
  in the Site Pages library, with its columns (``Title``, ``Description``, ``Audience``)

Errors are Graph's (``itemNotFound``, ``accessDenied``, ``InvalidAuthenticationToken``,
``invalidRequest``), with ``innerError`` and ``request-id``.
"""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

from aiohttp import web

from deploy.sandbox.api.graph import bearer, context, errors_middleware, json_body, when
from deploy.sandbox.sharepoint import SharePointSandbox
from services.skills.connectors.sharepoint import SharePointError
from services.skills.textsearch import analyse

#: Microsoft Search's default page of hits and its maximum for SharePoint content.
SIZE, MAX_SIZE = 25, 500
ENTITY_TYPES = {"listItem"}
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
#: Words of body text shown around a highlighted word outside the description.
_CONTEXT_WORDS = 6


def list_id(site_id: str) -> str:
    """The Site Pages library of a site (a GUID, as Graph's list ids are)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{site_id}/SitePages"))


def _unigrams(text: str) -> set[str]:
    return {t for t in analyse(text) if " " not in t}


def highlight(text: str, terms: set[str]) -> tuple[str, set[str]]:
    """``text`` with each word that is one of the query's ``terms`` in ``<c0>``, and the terms shown."""
    shown: set[str] = set()

    def mark(match: re.Match[str]) -> str:
        hit = _unigrams(match.group()) & terms
        shown.update(hit)
        return f"<c0>{match.group()}</c0>" if hit else match.group()

    return _WORD.sub(mark, text), shown


def summary(query: str, description: str, body: str) -> str:
    """Hit highlighting as Microsoft Search returns it: the description with the query's words
    marked, then a few words of text around each query word the description lacks."""
    terms = _unigrams(query)
    text, shown = highlight(description, terms)
    fragments = [text]
    words = body.split()
    for i, word in enumerate(words):
        missing = (_unigrams(word) & terms) - shown
        if missing:
            fragment, found = highlight(" ".join(words[max(0, i - _CONTEXT_WORDS) : i + _CONTEXT_WORDS + 1]), terms - shown)
            shown |= found
            fragments.append(fragment)
    return " <ddd/> ".join(fragments) + (" <ddd/>" if len(fragments) > 1 else "")


def inner_html(body: str) -> str:
    """The page's text as a text web part holds it: one ``<p>`` a paragraph."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


async def _pages(conn: Any, ids: list[str]) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT p.id, p.site_id, p.name, p.created_by, p.last_modified_date_time, p.description, p.audience, s.display_name AS site_title"
        " FROM sharepoint_pages p JOIN sharepoint_sites s ON s.id = p.site_id WHERE p.id = ANY($1::text[])", ids,
    )
    return {r["id"]: r for r in rows}


async def _may_read(sp: SharePointSandbox) -> None:
    caller = await sp.caller()
    if not (caller.may("pages.read") or caller.may("sites.read")):
        raise SharePointError(403, "accessDenied", f"Access denied. ({caller.coworker} lacks pages.read)")


def _not_found() -> SharePointError:
    return SharePointError(404, "itemNotFound", "The resource could not be found.")


def create_app(state: Any) -> web.Application:
    app = web.Application(middlewares=[errors_middleware(SharePointError, not_found="itemNotFound")])

    def session(request: web.Request) -> Any:
        return state.session(SharePointSandbox, bearer(request))

    async def search(request: web.Request) -> web.Response:
        body = await json_body(request, SharePointError)
        requests = body.get("requests")
        if not isinstance(requests, list) or len(requests) != 1 or not isinstance(requests[0], dict):
            raise SharePointError(400, "invalidRequest", "The request must hold exactly one search request in 'requests'.")
        asked = requests[0]
        types = asked.get("entityTypes") or []
        if not types or not set(types) <= ENTITY_TYPES:
            raise SharePointError(400, "invalidRequest", f"entityTypes {types!r} are not searchable here; SharePoint pages are searched as {sorted(ENTITY_TYPES)}.")
        query = (asked.get("query") or {}).get("queryString")
        start, size = asked.get("from", 0), asked.get("size", SIZE)
        if not isinstance(query, str) or not isinstance(start, int) or not isinstance(size, int) or start < 0 or not 0 < size <= MAX_SIZE:
            raise SharePointError(400, "invalidRequest", f"A search request needs query.queryString, from >= 0 and 0 < size <= {MAX_SIZE}.")
        wanted = [f for f in asked.get("fields") or [] if isinstance(f, str)]
        async with session(request) as sp:
            hits = await sp.search(query, top=10_000)
            page = hits[start : start + size]
            details = await _pages(sp.conn, [h.page_id for h in page])
            bodies = {r["id"]: r["body"] for r in await sp.conn.fetch("SELECT id, body FROM sharepoint_pages WHERE id = ANY($1::text[])", [h.page_id for h in page])}
        out = []
        for rank, hit in enumerate(page, start=start + 1):
            row = details[hit.page_id]
            managed = {
                "title": hit.title, "description": hit.summary, "path": hit.web_url, "sitetitle": hit.site, "siteid": row["site_id"],
                "listid": list_id(row["site_id"]), "audience": hit.audience, "lastmodifiedtime": when(row["last_modified_date_time"]),
                "contentclass": "STS_ListItem_WebPageLibrary", "rank": hit.score,
            }
            resource = {
                "@odata.type": "#microsoft.graph.listItem", "id": hit.page_id, "webUrl": hit.web_url, "name": row["name"],
                "lastModifiedDateTime": when(row["last_modified_date_time"]),
                "createdBy": {"user": {"displayName": row["created_by"]}},
                "parentReference": {"siteId": row["site_id"], "sharepointIds": {"listId": list_id(row["site_id"]), "listItemUniqueId": hit.page_id}},
            }
            if wanted:
                resource["fields"] = {f: managed[f.lower()] for f in wanted if f.lower() in managed}
            out.append({"hitId": hit.page_id, "rank": rank, "summary": summary(query, hit.summary, bodies[hit.page_id]), "resource": resource})
        container = {"hits": out, "total": len(hits), "moreResultsAvailable": start + size < len(hits)}
        return web.json_response({"@odata.context": context(request, "Collection(microsoft.graph.searchResponse)"),
                                  "value": [{"searchTerms": sorted(_unigrams(query)), "hitsContainers": [container]}]})

    async def get_site(request: web.Request) -> web.Response:
        async with session(request) as sp:
            await _may_read(sp)
            row = await sp.conn.fetchrow("SELECT id, name, display_name, web_url FROM sharepoint_sites WHERE id = $1", request.match_info["site"])
        if row is None:
            raise _not_found()
        return web.json_response({"@odata.context": context(request, "sites/$entity"), "id": row["id"], "name": row["name"], "displayName": row["display_name"],
                                  "webUrl": row["web_url"], "description": "", "siteCollection": {"hostname": row["id"].split(",")[0]}})

    async def get_page(request: web.Request) -> web.Response:
        site, page_id = request.match_info["site"], request.match_info["page"]
        async with session(request) as sp:
            page = await sp.get_page(page_id)
            row = (await _pages(sp.conn, [page_id]))[page_id]
        if row["site_id"] != site:
            raise _not_found()
        by = {"user": {"displayName": row["created_by"], "email": row["created_by"]}}
        body: dict[str, Any] = {
            "@odata.context": context(request, f"sites('{site}')/pages/microsoft.graph.sitePage/$entity"), "@odata.type": "#microsoft.graph.sitePage",
            "id": page.id, "name": row["name"], "title": page.title, "description": page.description, "webUrl": page.web_url,
            "lastModifiedDateTime": when(page.last_modified), "pageLayout": "article", "promotionKind": "page", "showComments": False, "showRecommendedPages": False,
            "createdBy": by, "lastModifiedBy": by, "parentReference": {"listId": list_id(site), "siteId": site},
            "contentType": {"id": "0x0101009D1CB255DA76424F860D91F20E6C4118", "name": "Site Page"}, "publishingState": {"level": "published", "versionId": "1.0"},
        }
        if "canvasLayout" in request.query.get("$expand", ""):
            part = {"@odata.type": "#microsoft.graph.textWebPart", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, page.id)), "innerHtml": inner_html(page.body)}
            body["canvasLayout"] = {"horizontalSections": [{"layout": "oneColumn", "id": "1", "emphasis": "none", "columns": [{"id": "1", "width": 12, "webparts": [part]}]}]}
        return web.json_response(body)

    async def get_item(request: web.Request) -> web.Response:
        site, item = request.match_info["site"], request.match_info["item"]
        async with session(request) as sp:
            page = await sp.get_page(item)
            row = (await _pages(sp.conn, [item]))[item]
        if row["site_id"] != site or request.match_info["list"] != list_id(site):
            raise _not_found()
        body: dict[str, Any] = {
            "@odata.context": context(request, f"sites('{site}')/lists('{list_id(site)}')/items/$entity"), "id": page.id, "webUrl": page.web_url,
            "lastModifiedDateTime": when(page.last_modified), "contentType": {"id": "0x0101009D1CB255DA76424F860D91F20E6C4118", "name": "Site Page"},
            "parentReference": {"siteId": site},
        }
        if "fields" in request.query.get("$expand", ""):
            body["fields"] = {"Title": page.title, "Description": page.description, "Audience": page.audience, "FileLeafRef": row["name"]}
        return web.json_response(body)

    r = app.router
    r.add_post("/v1.0/search/query", search)
    r.add_get("/v1.0/sites/{site}", get_site)
    r.add_get("/v1.0/sites/{site}/pages/{page}", get_page)
    r.add_get("/v1.0/sites/{site}/pages/{page}/microsoft.graph.sitePage", get_page)
    r.add_get("/v1.0/sites/{site}/lists/{list}/items/{item}", get_item)
    return app
