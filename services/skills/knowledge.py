"""Answer a how-to question from the company knowledge base on SharePoint: search it, read the best
page, and reply with the passage that answers the question and the page's link.

A page answers only if it is relevant enough (its TF-IDF similarity to the question) *and* covers the
question (most of the question's weight, by IDF, is in the page: a page that shares the everyday words
of a question but none of its subject does not answer it). Below either threshold the skill says so
and a person takes the ticket, rather than sending the nearest page as if it answered. The thresholds
were set on 29 questions the pages answer and 14 they do not (27 and 12 handled right).
When pages are written for one country (leave in the US or in India) and the requester's country is
known, the page for their country is preferred among pages nearly as relevant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.events import SkillRequest
from services.skills.connectors.sharepoint import SharePoint
from services.skills.failures import refused
from services.skills.skill import Skill, Step, StepContext, StepFailed
from services.skills.textsearch import best_passage

#: The least relevance (cosine) and coverage (IDF-weighted share of the question) of a page that answers.
MIN_SCORE = 0.12
MIN_COVERAGE = 0.6
#: The least similarity (MiniLM cosine) of a recalled knowledge chunk that answers when no page does.
MIN_MEMORY_SIMILARITY = 0.5
#: A page for the requester's country wins over a more relevant one if it scores at least this share of it.
COUNTRY_MARGIN = 0.75


def question(request: SkillRequest) -> str:
    ticket = request.ticket
    title, text = ticket.title.strip(), ticket.description.strip()
    return text if text.startswith(title) else f"{title}\n{text}".strip()


async def search(ctx: StepContext) -> dict[str, Any]:
    sharepoint: SharePoint = ctx.system
    asked = question(ctx.request)
    with refused("SharePoint", "searching the knowledge base", default="search_failed", coworker=ctx.request.coworker):
        hits = await sharepoint.search(asked, top=5)
    remembered = _from_memory(ctx.request)
    if not hits:
        if remembered is not None:
            return remembered
        raise StepFailed("no_answer", "no knowledge base page shares a word with the question; a person answers it")
    best = hits[0]
    country = ctx.request.ticket.requester.country
    if country and best.audience not in {"all", country}:
        local = next((h for h in hits if h.audience == country and h.score >= COUNTRY_MARGIN * best.score), None)
        best = local or best
    if best.score < MIN_SCORE or best.coverage < MIN_COVERAGE:
        if remembered is not None:
            return remembered
        raise StepFailed(
            "no_answer",
            f"the knowledge base has no page that answers this: the closest, {best.title!r}, has relevance {best.score:.2f} (needs {MIN_SCORE}) "
            f"and covers {best.coverage:.0%} of the question (needs {MIN_COVERAGE:.0%}); a person answers it",
        )
    return {"page_id": best.page_id, "title": best.title, "url": best.web_url, "score": best.score, "coverage": best.coverage, "others": [h.title for h in hits if h.page_id != best.page_id][:3]}


def _from_memory(request: SkillRequest) -> dict[str, Any] | None:
    """The team's own knowledge that memory recalled for the question (documents ingested with
    ``workforce memory ingest``), when it is close enough to answer; None otherwise."""
    known = [m for m in request.recall if m.kind == "knowledge" and m.similarity >= MIN_MEMORY_SIMILARITY]
    if not known:
        return None
    best = max(known, key=lambda m: m.similarity)
    title, _, body = best.text.partition("\n")
    passage = best_passage(question(request), body or title)
    return {"source": "memory", "memory_id": best.memory_id, "title": title[:200], "passage": passage.text, "score": round(best.similarity, 4),
            "updated": best.valid_from.date().isoformat(), "others": []}


async def read_page(ctx: StepContext) -> dict[str, Any]:
    sharepoint: SharePoint = ctx.system
    found = ctx.earlier["search-kb"]
    if found.get("source") == "memory":  # the team's own document, already read by memory
        return {"title": found["title"], "url": f"team knowledge {found['memory_id']}", "passage": found["passage"], "updated": found["updated"]}
    with refused("SharePoint", f"reading the page {found['title']!r}", default="page_unreadable", coworker=ctx.request.coworker):
        page = await sharepoint.get_page(found["page_id"])
    passage = best_passage(question(ctx.request), page.body)
    return {"title": page.title, "url": page.web_url, "passage": passage.text, "updated": page.last_modified.date().isoformat()}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    page = outputs["read-page"]
    return f"{page['passage']}\n\nFrom \"{page['title']}\" (updated {page['updated']}): {page['url']}"


KNOWLEDGE_ANSWER = Skill(
    name="knowledge-answer",
    steps=(
        Step("search-kb", "sharepoint", "pages.read", search, describe=lambda r: {"question": question(r)[:300]}),
        Step("read-page", "sharepoint", "pages.read", read_page, describe=lambda r: {"question": question(r)[:300]}),
    ),
    summarise=_summary,
    recall=True,  # the team's own documents are in memory: asked before the first step
)

SKILLS = (KNOWLEDGE_ANSWER,)
