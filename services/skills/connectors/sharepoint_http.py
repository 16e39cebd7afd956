"""The SharePoint connector over Microsoft Graph v1.0, the same class for the simulator and a real
tenant (base URL ``https://graph.microsoft.com`` there, ``http://host:port/sharepoint`` here). Read
only: it makes no write, so there is nothing to make safe to repeat.

``search`` is Microsoft Search, ``POST /v1.0/search/query`` with ``entityTypes: ["listItem"]``
(pages are items of each site's Site Pages library), asking in ``fields`` for the managed
properties a hit needs: ``title``, ``description``, ``path``, ``siteTitle``, ``audience`` (the
pages' Audience column, mapped to a managed property of that name in the tenant's search schema)
and ``rank``, SharePoint's relevance. ``Hit.score`` is that rank; ``Hit.coverage`` is what hit
highlighting shows: the share of the question's words that the title or the ``<c0>``-marked words
of the summary hold, each word weighted by its rarity among the hits (so a word no page holds
weighs most, as the simulator's own coverage weighs it by IDF; over the knowledge skill's test
questions the two lead to the same answer-or-escalate decision). A tenant whose Rank is on another scale than the simulator's [0, 1] needs the
knowledge skill's thresholds set for it.

A hit's ``page_id`` is ``{site-id}/{page-id}``: Graph reads a page only under its site, so the id
carries both. ``get_page`` reads ``GET /v1.0/sites/{site-id}/pages/{page-id}/microsoft.graph.sitePage
?$expand=canvasLayout`` (the text is the page's text web parts' ``innerHtml``, paragraph by
paragraph), the site's ``displayName`` and the page's list item's ``Audience`` column.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from services.skills.connectors.graph_http import GraphHttp, when
from services.skills.connectors.sharepoint import Hit, SharePointError, SitePage
from services.skills.textsearch import analyse

SYSTEM = "sharepoint"
FIELDS = ["title", "description", "path", "siteTitle", "audience", "rank"]
_MARKED = re.compile(r"<c0>(.*?)</c0>", re.S)
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr"}


class _Text(HTMLParser):
    """A text web part's HTML as paragraphs: a block element ends one, ``<br>`` is a line break."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []

    def _end(self) -> None:
        text = "".join(self._current).strip()
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._current.append("\n")
        elif tag in _BLOCKS:
            self._end()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._end()

    def handle_data(self, data: str) -> None:
        self._current.append(data)


def text_of(inner_html: str) -> list[str]:
    parser = _Text()
    parser.feed(inner_html)
    parser.close()
    parser._end()
    return parser.paragraphs


def page_text(canvas: dict[str, Any] | None) -> str:
    """Every text web part of a page's canvas, in reading order, as paragraphs."""
    paragraphs: list[str] = []
    sections = list((canvas or {}).get("horizontalSections") or [])
    vertical = (canvas or {}).get("verticalSection")
    for section in sections:
        for column in section.get("columns") or []:
            for part in column.get("webparts") or []:
                if str(part.get("@odata.type", "")).endswith("textWebPart"):
                    paragraphs += text_of(part.get("innerHtml") or "")
    for part in (vertical or {}).get("webparts") or []:
        if str(part.get("@odata.type", "")).endswith("textWebPart"):
            paragraphs += text_of(part.get("innerHtml") or "")
    return "\n\n".join(paragraphs)


def _words(text: str) -> set[str]:
    return {t for t in analyse(text) if " " not in t}


def found_words(title: str, summary: str) -> set[str]:
    """The words hit highlighting shows a page holds: its title's and the summary's ``<c0>`` ones."""
    return _words(title) | _words(" ".join(_MARKED.findall(summary)))


def coverages(query: str, found: list[set[str]]) -> list[float]:
    """Each hit's share of the query's words, each word weighted by how rare it is among the hits
    (a smoothed IDF over them; a word no hit holds weighs the most): a question about something
    the pages never mention is not answered by a page that happens to share its other words."""
    asked = _words(query)
    if not asked or not found:
        return [0.0] * len(found)
    weight = {t: math.log((len(found) + 1) / (sum(t in f for f in found) + 1)) + 1 for t in asked}
    total = sum(weight.values())
    return [round(sum(w for t, w in weight.items() if t in f) / total, 4) for f in found]


def hit_from(hit: dict[str, Any], coverage: float) -> Hit:
    resource = hit.get("resource") or {}
    fields = {k.lower(): v for k, v in (resource.get("fields") or {}).items()}
    site_id = (resource.get("parentReference") or {}).get("siteId", "")
    rank = fields.get("rank")
    return Hit(
        page_id=f"{site_id}/{resource['id']}", title=_title(hit), web_url=str(fields.get("path") or resource.get("webUrl") or ""), site=str(fields.get("sitetitle") or ""),
        score=round(float(rank), 4) if isinstance(rank, int | float) else 0.0, coverage=coverage,
        summary=str(fields.get("description") or ""), audience=str(fields.get("audience") or "all"),
    )


def _title(hit: dict[str, Any]) -> str:
    resource = hit.get("resource") or {}
    fields = {k.lower(): v for k, v in (resource.get("fields") or {}).items()}
    return str(fields.get("title") or resource.get("name") or "")


def hits_from(query: str, body: dict[str, Any], top: int) -> list[Hit]:
    """The hits of a ``/search/query`` answer, best first, with their coverage of ``query``."""
    hits = [h for response in body.get("value") or [] for container in response.get("hitsContainers") or [] for h in container.get("hits") or []]
    hits = sorted(hits, key=lambda h: h.get("rank", 0))[:top]
    found = coverages(query, [found_words(_title(h), str(h.get("summary") or "")) for h in hits])
    return [hit_from(h, c) for h, c in zip(hits, found, strict=True)]


class SharePointHttp(GraphHttp):
    """The SharePoint connector over Graph, as the coworker whose access token it holds."""

    system = SYSTEM
    error_class = SharePointError

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sites: dict[str, str] = {}

    async def search(self, query: str, *, top: int = 5) -> list[Hit]:
        request = {"entityTypes": ["listItem"], "query": {"queryString": query}, "from": 0, "size": top, "fields": FIELDS}
        return hits_from(query, (await self.call("POST", "/v1.0/search/query", json={"requests": [request]})).json(), top)

    async def _site_name(self, site_id: str) -> str:
        if site_id not in self._sites:
            self._sites[site_id] = (await self.get(f"/v1.0/sites/{quote(site_id, safe=',')}", {"$select": "id,displayName"})).get("displayName", "")
        return self._sites[site_id]

    async def get_page(self, page_id: str) -> SitePage:
        site_id, _, item = page_id.rpartition("/")
        if not site_id or not item:
            raise SharePointError(400, "invalidRequest", f"page id {page_id!r} is not '<site-id>/<page-id>' as search returns it")
        site, page = quote(site_id, safe=","), quote(item, safe="")
        body = await self.get(f"/v1.0/sites/{site}/pages/{page}/microsoft.graph.sitePage", {"$expand": "canvasLayout"})
        list_id = (body.get("parentReference") or {}).get("listId")
        audience = "all"
        if list_id:
            fields = (await self.get(f"/v1.0/sites/{site}/lists/{quote(list_id, safe='')}/items/{page}", {"$expand": "fields($select=Audience)"})).get("fields") or {}
            audience = str(fields.get("Audience") or "all")
        modified = when(body.get("lastModifiedDateTime"))
        if modified is None:
            raise SharePointError(502, "unexpected_response", f"Graph's page {item!r} has no lastModifiedDateTime")
        return SitePage(
            id=page_id, title=body.get("title") or "", web_url=body.get("webUrl") or "", site=await self._site_name(site_id),
            description=body.get("description") or "", body=page_text(body.get("canvasLayout")), audience=audience, last_modified=modified,
        )
