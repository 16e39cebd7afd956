"""SharePoint Online in PostgreSQL, as Microsoft Graph shows it: sites, their modern pages
(``GET /sites/{site-id}/pages/{page-id}``) and search over them (``POST /search/query``), ranked by
TF-IDF relevance over each page's title, description and text (``services/skills/textsearch.py``):
the ranking is computed from the pages as they are now, not looked up.

Errors carry Graph's shape: ``itemNotFound`` (404), ``accessDenied`` (403) for a scope the caller's
token does not carry, ``InvalidAuthenticationToken`` (401), ``invalidRequest`` (400) for an empty
query. ``SharePointSandbox`` is the SharePoint connector over it.
"""

from __future__ import annotations


import asyncpg

from services.skills.connectors.sharepoint import Hit, SharePointError, SitePage
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector
from services.skills.textsearch import Index

SYSTEM = "sharepoint"


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise SharePointError(403, "accessDenied", f"Access denied. ({caller.coworker} lacks {scope})")


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    if not token:
        raise SharePointError(401, "InvalidAuthenticationToken", "Access token is empty.")
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise SharePointError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    return caller


_PAGE = "p.id, p.title, p.web_url, s.display_name AS site, p.description, p.body, p.audience, p.last_modified_date_time AS last_modified FROM sharepoint_pages p JOIN sharepoint_sites s ON s.id = p.site_id"


def _document(row: asyncpg.Record) -> str:
    """What search matches a page on: the title and description count more than one line of text."""
    return f"{row['title']}\n{row['title']}\n{row['description']}\n\n{row['body']}"


async def search(conn: asyncpg.Connection, caller: Caller, query: str, *, top: int = 5) -> list[Hit]:
    """The ``top`` pages most relevant to ``query``, best first; pages that share no term are left out."""
    _require(caller, "pages.read")
    if not query.strip():
        raise SharePointError(400, "invalidRequest", "The search query must not be empty.")
    rows = await conn.fetch(f"SELECT {_PAGE} ORDER BY p.id")
    if not rows:
        return []
    index = Index([_document(r) for r in rows])
    ranked = sorted(((s, i) for i, s in enumerate(index.scores(query)) if s > 0), key=lambda pair: (-pair[0], rows[pair[1]]["title"]))
    return [
        Hit(rows[i]["id"], rows[i]["title"], rows[i]["web_url"], rows[i]["site"], round(s, 4), round(index.coverage(query, i), 4), rows[i]["description"], rows[i]["audience"])
        for s, i in ranked[:top]
    ]


async def get_page(conn: asyncpg.Connection, caller: Caller, page_id: str) -> SitePage:
    """``GET /sites/{site-id}/pages/{page-id}`` with its text (``canvasLayout`` flattened to paragraphs)."""
    _require(caller, "pages.read")
    row = await conn.fetchrow(f"SELECT {_PAGE} WHERE p.id = $1", page_id)
    if row is None:
        raise SharePointError(404, "itemNotFound", "The resource could not be found.")
    return SitePage(**dict(row))


class SharePointSandbox(SandboxConnector):
    """The SharePoint connector over the sandbox, in the step's transaction, as the coworker its token names."""

    authenticate = staticmethod(authenticate)

    async def search(self, query: str, *, top: int = 5) -> list[Hit]:
        return await search(self.conn, await self.caller(), query, top=top)

    async def get_page(self, page_id: str) -> SitePage:
        return await get_page(self.conn, await self.caller(), page_id)
