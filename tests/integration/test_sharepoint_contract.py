"""The SharePoint client reads Microsoft Graph's documented responses (search, a site page with its
canvas, the site, the page's list item; fixtures written from the documentation's examples, served
by a tiny fake), and the SharePoint simulator answers with every documented key in the documented
JSON type, so neither can drift from Graph's docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from deploy.sandbox.api.sharepoint import list_id
from deploy.sandbox.sharepoint_pages import PAGES, page_id, site_id
from runtime.vendor.errors import ApiError
from services.skills.connectors.sharepoint_http import SharePointHttp
from tests.integration.vendor_contract import fixture, missing, serving

PAGE = fixture("sharepoint", "sitepage_canvas")
SITE = fixture("sharepoint", "site_get")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def test_the_client_reads_graphs_documented_search_and_page(client: httpx.AsyncClient) -> None:
    sid, pid, lid = SITE["id"], PAGE["id"], PAGE["parentReference"]["listId"]
    routes = [
        ("POST", "/v1.0/search/query", 200, fixture("sharepoint", "search_listitem")),
        ("GET", f"/v1.0/sites/{sid}/pages/{pid}/microsoft.graph.sitePage", 200, PAGE),
        ("GET", f"/v1.0/sites/{sid}", 200, SITE),
        ("GET", f"/v1.0/sites/{sid}/lists/{lid}/items/{pid}", 200, fixture("sharepoint", "list_item_fields")),
    ]
    async with serving(routes) as url:
        sp = SharePointHttp(url, "token", client)
        [hit] = await sp.search("contoso expenses")
        assert (hit.title, hit.site, hit.score, hit.coverage) == ("Contoso expenses", "Contoso Team", 0.41, 1.0)
        assert hit.page_id.endswith("/89b4aeff-de77-4b0e-bec9-a20cd4f6c32d") and hit.web_url.endswith("Contoso-expenses.aspx")
        page = await sp.get_page(f"{sid}/{pid}")
        assert (page.title, page.site, page.audience, page.body) == ("autotest Electronic Convertible", "OneDrive Team Site", "US", "sample content\n\nsecond paragraph")
        assert page.last_modified == datetime(2023, 4, 16, 10, 1, 41, tzinfo=UTC)
        with pytest.raises(ApiError) as gone:
            await sp.get_page(f"{sid}/no-such-page")
    assert (gone.value.status, gone.value.code) == (404, "itemNotFound")


async def test_the_simulator_answers_with_graphs_documented_keys(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    token = await simulator.token("sharepoint", "atom", ["pages.read"])
    base, auth = f"{simulator.urls()['sharepoint']}/v1.0", {"Authorization": f"Bearer {token}"}
    wifi = next(p for p in PAGES if p.name == "Connect-to-office-WiFi")
    sid, pid = site_id(wifi.site), page_id(wifi)
    documented = fixture("sharepoint", "search_listitem")["value"][0]["hitsContainers"][0]["hits"][0]["resource"]["fields"]
    search = {"requests": [{"entityTypes": ["listItem"], "query": {"queryString": "office wifi"}, "fields": list(documented)}]}
    answers = {
        "search_listitem": await client.post(f"{base}/search/query", json=search, headers=auth),
        "sitepage_canvas": await client.get(f"{base}/sites/{sid}/pages/{pid}/microsoft.graph.sitePage", params={"$expand": "canvasLayout"}, headers=auth),
        "site_get": await client.get(f"{base}/sites/{sid}", headers=auth),
        "list_item_fields": await client.get(f"{base}/sites/{sid}/lists/{list_id(sid)}/items/{pid}", params={"$expand": "fields"}, headers=auth),
        "error_404": await client.get(f"{base}/sites/{sid}/pages/no-such-page", headers=auth),
    }
    for name, response in answers.items():
        assert response.headers.get("request-id"), name
        assert missing(fixture("sharepoint", name), response.json()) == [], name
