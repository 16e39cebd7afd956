"""Context that does not rot: a long ticket conversation kept under a token budget.

Every turn of a ticket's conversation is in memory as a ``turn`` of the ticket (the requester's
answers from ``ticket.answered``, the coworkers' questions from ``ticket.question``), redacted and
without names. The working context for the next step is built from them on request, within the
budget: the newest turns verbatim (``recent_share`` of it), one extractive summary line per older
turn (newest first while ``summary_share`` lasts), and the older turns that memory recalls as
relevant to the current question, in full. A fact given at turn 2 is therefore still in front of the
model at turn 40 when the question needs it, while the context stays under its budget however long
the conversation gets. Memory answers it on ``memory.recall`` when a request asks for a context
budget, so any service gets it over Kafka and none keeps the conversation itself.

The summary is extractive (no model call), so it is deterministic and free; a model-written summary
could replace :func:`summary_line` without changing the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from contracts.events import Turn
from runtime.redact import redact_text
from services.memory.memory import Memory, count_tokens, speaker
from services.memory.store import Fact

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DENSE = re.compile(r"\d|[A-Z]{2,}|[A-Z][a-z]+-\d|@")


def summary_line(text: str, *, max_chars: int = 160) -> str:
    """A turn (``speaker: words``) in one line: the sentence most dense in identifiers and numbers (else the first)."""
    speaker, sep, said = text.partition(": ")
    if not sep:
        speaker, said = "", text
    sentences = [s.strip() for s in _SENTENCE.split(said.strip()) if s.strip()] or [""]
    best = max(sentences, key=lambda s: (len(_DENSE.findall(s)), -sentences.index(s)))
    line = f"{speaker}: {best}" if speaker else best
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


@dataclass
class Context:
    summary: list[str]
    recalled: list[str]
    recent: list[str]
    tokens: int
    folded: int = 0  # older turns that are in the context only as summary lines or recalled

    def render(self) -> str:
        parts = []
        if self.summary:
            parts.append("Earlier in this conversation (summary):\n" + "\n".join(self.summary))
        if self.recalled:
            parts.append("Earlier turns that bear on this:\n" + "\n".join(self.recalled))
        parts.append("\n".join(self.recent))
        return "\n\n".join(parts)


async def working_context(memory: Memory, *, team: str, ticket_id: str, question: str, budget: int, now: datetime,
                          requester_id: str | None = None, recent_share: float = 0.5, summary_share: float = 0.2) -> Context:
    """The ticket's conversation for ``question`` in at most ``budget`` tokens, from memory's turns."""
    turns = await memory.store.facts(team, ticket_id=ticket_id, kind="turn")
    recent: list[str] = []
    used = 0
    for turn in reversed(turns):
        cost = count_tokens(turn["text"])
        if recent and used + cost > budget * recent_share:
            break
        if not recent and cost > budget:  # one turn longer than the whole budget: its summary line instead
            break
        recent.insert(0, turn["text"])
        used += cost
    older = turns[: len(turns) - len(recent)]
    summary: list[str] = []
    spent = 0
    for turn in reversed(older):  # newest summary lines first when the share is short
        line = summary_line(turn["text"])
        cost = count_tokens(line)
        if spent + cost > budget * summary_share:
            break
        summary.insert(0, line)
        spent += cost
    used += spent
    recalled: list[str] = []
    if older:
        older_ids = {t["id"] for t in older}
        vector = (await memory.embedder.embed([redact_text(question)])).vectors[0]
        hits = await memory.store.search(team, np.asarray(vector).tolist(), limit=40, match={"ticket_id": ticket_id, "kind": "turn"})
        items, tokens = memory.rank([h for h in hits if h["id"] in older_ids], ticket_id, requester_id, None, now=now, token_budget=max(0, budget - used), limit=5)
        recalled = [i.text for i in items]
        used += tokens
    return Context(summary=summary, recalled=recalled, recent=recent, tokens=used, folded=len(older))


@dataclass
class Conversation:
    """One ticket's conversation held by a caller that has memory in hand (the memory service, tests):
    each turn goes to memory at once; :meth:`context` is :func:`working_context`."""

    memory: Memory
    team: str
    ticket_id: str
    requester_id: str | None = None
    budget: int = 800
    recent_share: float = 0.5
    summary_share: float = 0.2
    folded: int = 0
    _last: Context | None = field(default=None, repr=False)

    async def add(self, turn: Turn, *, event_id: str) -> None:
        fact = Fact(
            team=self.team, scope="ticket", subject=self.ticket_id, key=f"turn:{event_id}", kind="turn",
            text=f"{speaker(turn.actor)}: {redact_text(turn.text)}", source_event=event_id, valid_from=turn.at,
            ticket_id=self.ticket_id, requester_id=self.requester_id if turn.actor.kind == "human" else None,
        )
        vector = (await self.memory.embedder.embed([fact.text])).vectors[0]
        await self.memory.store.remember(fact, np.asarray(vector).tolist())

    async def context(self, question: str, *, now: datetime) -> Context:
        context = await working_context(self.memory, team=self.team, ticket_id=self.ticket_id, question=question, budget=self.budget, now=now,
                                        requester_id=self.requester_id, recent_share=self.recent_share, summary_share=self.summary_share)
        self.folded = context.folded
        return context
