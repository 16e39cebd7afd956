"""The SharePoint client against the SharePoint simulator over real HTTP (Microsoft Graph v1.0):
Microsoft Search ranks the knowledge base's pages as the skill relies on, a page reads with its
text from the canvas, and Graph's 401/403/404/400 and a 429 with Retry-After arrive as the
connector's errors. SharePoint has no writes, so nothing here repeats one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.sandbox.sharepoint_pages import PAGES, page_id, site_id
from runtime.vendor.errors import ApiError
from services.skills.connectors.sharepoint_http import SharePointHttp
from services.skills.textsearch import paragraphs

WIFI = next(p for p in PAGES if p.name == "Connect-to-office-WiFi")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def sharepoint(simulator, client: httpx.AsyncClient, scopes: list[str] | None = None, coworker: str = "atom") -> SharePointHttp:  # noqa: ANN001
    return SharePointHttp(simulator.urls()["sharepoint"], await simulator.token("sharepoint", coworker, scopes or ["pages.read"]), client)


async def test_search_ranks_the_page_that_answers_first_with_its_site_and_audience(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    sp = await sharepoint(simulator, client)
    hits = await sp.search("how do I connect to the office wifi")
    best = hits[0]
    assert (best.title, best.site, best.web_url) == (WIFI.title, "IT Help Center", WIFI.web_url)
    assert best.page_id == f"{site_id('ITHelp')}/{page_id(WIFI)}" and best.summary == WIFI.description
    assert best.score > hits[1].score > 0 and best.coverage == 1.0 and len(hits) == 5
    india = await sp.search("how many days of earned leave do I get in India")
    assert india[0].title == "Leave policy - India" and india[0].audience == "IN"
    assert await sp.search("who won the football game yesterday") == []
    assert len(await sp.search("wifi", top=1)) == 1


async def test_the_search_scores_are_the_simulators_relevance(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    """The score a hit carries over HTTP is the one the knowledge skill's thresholds were set on."""
    from deploy.sandbox.sharepoint import SharePointSandbox

    question = "where do i find the expense policy"
    over_http = await (await sharepoint(simulator, client)).search(question)
    token = await simulator.token("sharepoint", "direct", ["pages.read"])
    async with simulator.database.pool.acquire() as conn:
        direct = await SharePointSandbox(conn, token).search(question)
    assert [(h.title, h.score) for h in over_http] == [(h.title, h.score) for h in direct]


async def test_a_page_reads_with_its_text_site_and_audience(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    sp = await sharepoint(simulator, client)
    hit = (await sp.search("how do I connect to the office wifi"))[0]
    page = await sp.get_page(hit.page_id)
    assert (page.id, page.title, page.web_url, page.site, page.audience) == (hit.page_id, WIFI.title, WIFI.web_url, "IT Help Center", "all")
    assert paragraphs(page.body) == paragraphs(WIFI.body) and "ACME-Guest" in page.body
    assert page.description == WIFI.description and page.last_modified.tzinfo is not None
    india = (await sp.search("earned leave India"))[0]
    assert (await sp.get_page(india.page_id)).audience == "IN"


async def test_search_results_page_by_from_and_size(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    token = await simulator.token("sharepoint", "atom", ["pages.read"])
    url, auth = f"{simulator.urls()['sharepoint']}/v1.0/search/query", {"Authorization": f"Bearer {token}"}

    async def page(start: int) -> dict:
        body = {"requests": [{"entityTypes": ["listItem"], "query": {"queryString": "policy"}, "from": start, "size": 2}]}
        return (await client.post(url, json=body, headers=auth)).json()["value"][0]["hitsContainers"][0]

    first, second = await page(0), await page(2)
    assert first["moreResultsAvailable"] and first["total"] > 2 and [h["rank"] for h in first["hits"]] == [1, 2]
    assert [h["rank"] for h in second["hits"]] == list(range(3, min(first["total"], 4) + 1)) and second["moreResultsAvailable"] == (first["total"] > 4)
    assert not {h["hitId"] for h in first["hits"]} & {h["hitId"] for h in second["hits"]}
    # the word is highlighted where the text holds it, else it is in the page's name (its title)
    assert all(re.search(r"<c0>polic", h["summary"], re.I) or "polic" in h["resource"]["name"].lower() for h in first["hits"] + second["hits"])


async def test_a_bad_or_revoked_token_is_graphs_401(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    with pytest.raises(ApiError) as bad:
        await SharePointHttp(simulator.urls()["sharepoint"], "not-a-token", client).search("wifi")
    assert (bad.value.status, bad.value.code, bad.value.transient) == (401, "InvalidAuthenticationToken", False)
    sp = await sharepoint(simulator, client, coworker="leaver")
    await sp.search("wifi")
    async with simulator.admin as admin:
        (await admin.post("/tokens/revoke", json={"coworker": "leaver", "system": "sharepoint"})).raise_for_status()
    with pytest.raises(ApiError) as revoked:
        await sp.search("wifi")
    assert (revoked.value.status, revoked.value.code) == (401, "InvalidAuthenticationToken")
    with pytest.raises(ApiError) as none:
        await SharePointHttp(simulator.urls()["sharepoint"], None, client).search("wifi")
    assert none.value.status == 401


async def test_a_token_without_the_scope_is_graphs_403(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    sp = await sharepoint(simulator, client, ["users.read"], coworker="other")
    with pytest.raises(ApiError) as denied:
        await sp.search("wifi")
    assert (denied.value.status, denied.value.code) == (403, "accessDenied") and "pages.read" in denied.value.summary
    with pytest.raises(ApiError) as page:
        await sp.get_page(f"{site_id('ITHelp')}/{page_id(WIFI)}")
    assert (page.value.status, page.value.code) == (403, "accessDenied")


async def test_an_unknown_page_or_one_under_another_site_is_not_found_and_an_empty_query_is_refused(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    sp = await sharepoint(simulator, client)
    for missing in (f"{site_id('ITHelp')}/no-such-page", f"{site_id('HR')}/{page_id(WIFI)}"):
        with pytest.raises(ApiError) as gone:
            await sp.get_page(missing)
        assert (gone.value.status, gone.value.code) == (404, "itemNotFound")
    with pytest.raises(ApiError) as empty:
        await sp.search("   ")
    assert (empty.value.status, empty.value.code) == (400, "invalidRequest")


async def test_a_429_arrives_transient_with_its_retry_after(simulator, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    sp = await sharepoint(simulator, client)
    await simulator.hook("faults", system="sharepoint", status=429, retry_after=3)
    with pytest.raises(ApiError) as limited:
        await sp.search("wifi")
    assert (limited.value.status, limited.value.code, limited.value.transient) == (429, "TooManyRequests", True)
    assert limited.value.retry_after == pytest.approx(3, abs=0.01)
    assert (await sp.search("wifi"))[0].title == WIFI.title
