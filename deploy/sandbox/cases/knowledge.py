"""The sandbox cases of ``services/skills/knowledge.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from contracts.envelope import Envelope
from contracts.events import RecalledMemory, SkillCompleted
from deploy.sandbox import tokens
from deploy.sandbox.cases.workbench import Case, Check
from deploy.sandbox.sharepoint_pages import PAGES


def _answered_from(page_name: str, *words: str) -> Check:
    """The answer links the page and quotes the words a person would look for in it."""
    url = next(p.web_url for p in PAGES if p.name == page_name)

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        done = next(e for e in events if isinstance(e, SkillCompleted))
        assert url in done.data.summary, f"the answer links {done.data.summary[-120:]!r}, not {url}"
        missing = [w for w in words if w.lower() not in done.data.summary.lower()]
        assert not missing, f"the answer does not say {missing}: {done.data.summary[:300]!r}"

    return check


def _knowledge(title: str, text: str, similarity: float) -> RecalledMemory:
    return RecalledMemory(memory_id=f"m-{abs(hash(title)) % 10**8}", scope="team", kind="knowledge", text=f"{title}\n{text}", score=similarity, similarity=similarity,
                          tokens=len(text.split()), valid_from=datetime(2026, 11, 1, tzinfo=UTC))


def _answered_in(*words: str) -> Check:
    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        done = next(e for e in events if isinstance(e, SkillCompleted))
        missing = [w for w in words if w.lower() not in done.data.summary.lower()]
        assert not missing, f"the answer does not say {missing}: {done.data.summary[:300]!r}"

    return check


async def _revoke_atom(conn: asyncpg.Connection) -> None:
    await tokens.revoke(conn, "atom", system="sharepoint")


CASES = (
    Case("office wifi", "knowledge-answer", "atom", "ana.silva", "how do I connect to the office wifi on my laptop?", "resolved",
         check=_answered_from("Connect-to-office-WiFi", "ACME-Corp")),
    Case("vpn on the phone", "knowledge-answer", "atom", "priya.sharma", "How do I set up the VPN on my phone?", "resolved",
         check=_answered_from("Set-up-VPN-on-your-phone", "GlobalProtect")),
    Case("earned leave in India", "knowledge-answer", "atom", "priya.sharma", "how many days of earned leave do I get in India", "resolved",
         check=_answered_from("Leave-policy-India", "18 days")),
    Case("expense policy", "knowledge-answer", "atom", "john.miller", "where do I find the expense policy, what is the meal limit when travelling?", "resolved",
         check=_answered_from("Expense-policy", "USD 75")),
    Case("a question the knowledge base does not answer", "knowledge-answer", "atom", "ana.silva", "my outlook crashes when I open it", "escalated", error_code="no_answer"),
    Case("the team's own runbook, in memory, answers what no page does", "knowledge-answer", "atom", "ana.silva", "my outlook crashes when I open it", "resolved",
         recall=(_knowledge("Outlook crashes at start", "When Outlook crashes as it opens, start it in safe mode (outlook.exe /safe), then turn off the add-ins one by one.", 0.71),),
         check=_answered_in("safe mode", "team knowledge")),
    Case("a remembered chunk too far from the question does not answer", "knowledge-answer", "atom", "ana.silva", "my outlook crashes when I open it", "escalated",
         error_code="no_answer", recall=(_knowledge("Printers", "A jammed printer on floor 3: open tray B.", 0.21),)),
    Case("nothing about it at all", "knowledge-answer", "atom", "ana.silva", "who won the football game yesterday?", "escalated", error_code="no_answer"),
    Case("SharePoint refuses a revoked token", "knowledge-answer", "atom", "ana.silva", "how do I connect to the office wifi", "escalated", error_code="credential_refused",
         prepare=_revoke_atom),
)
