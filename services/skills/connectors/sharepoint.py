"""The SharePoint connector interface: search the knowledge base and read a page.
``SharePointSandbox`` (services/skills/sandbox/sharepoint.py) speaks it over PostgreSQL. Errors are
``ApiError``s with Graph's codes (itemNotFound 404, accessDenied 403, InvalidAuthenticationToken 401)."""

from __future__ import annotations

from typing import Protocol

from services.skills.sandbox.sharepoint import Hit, SitePage


class SharePoint(Protocol):
    async def search(self, query: str, *, top: int = 5) -> list[Hit]: ...

    async def get_page(self, page_id: str) -> SitePage: ...
