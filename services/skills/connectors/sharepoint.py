"""The SharePoint connector interface: search the knowledge base and read a page.
``SharePointSandbox`` (deploy/sandbox/sharepoint.py) speaks it over PostgreSQL. Errors are
``ApiError``s with Graph's codes (itemNotFound 404, accessDenied 403, InvalidAuthenticationToken 401)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runtime.vendor.errors import ApiError


class SharePointError(ApiError):
    """An error as Microsoft Graph reports it for SharePoint: HTTP status, ``error.code``, ``error.message``."""


@dataclass(frozen=True)
class Hit:
    """One search result: the page, its relevance (TF-IDF cosine in [0, 1]), how much of the query
    it contains (IDF-weighted share of the query's words, what hit highlighting shows) and its description."""

    page_id: str
    title: str
    web_url: str
    site: str
    score: float
    coverage: float
    summary: str
    audience: str = "all"


@dataclass(frozen=True)
class SitePage:
    id: str
    title: str
    web_url: str
    site: str
    description: str
    body: str
    audience: str
    last_modified: datetime


class SharePoint(Protocol):
    async def search(self, query: str, *, top: int = 5) -> list[Hit]: ...

    async def get_page(self, page_id: str) -> SitePage: ...
