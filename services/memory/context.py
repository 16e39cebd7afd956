"""Context that does not rot: a long ticket conversation kept under a token budget.

The newest turns stay verbatim. When they outgrow their share of the budget, the oldest are folded
into memory: each folded turn is stored (redacted) as a ``turn`` memory of the ticket, and a short
extractive summary line of it (its first sentence, or the sentence that carries identifiers and
numbers) joins a running summary. Building the context for the next step then takes, within the
budget: the running summary (newest lines first when it must be cut), the folded turns that memory
recalls as relevant to the current question (same-ticket memories rank first), and the recent turns.
A fact given at turn 2 is therefore still in front of the model at turn 40 when the question needs
it, while the context stays under its budget however long the conversation gets.

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
from services.memory.memory import Memory, count_tokens
from services.memory.store import Fact

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DENSE = re.compile(r"\d|[A-Z]{2,}|[A-Z][a-z]+-\d|@")


def summary_line(turn: Turn, *, max_chars: int = 160) -> str:
    """The turn in one line: the sentence most dense in identifiers and numbers (else the first)."""
    sentences = [s.strip() for s in _SENTENCE.split(turn.text.strip()) if s.strip()] or [""]
    best = max(sentences, key=lambda s: (len(_DENSE.findall(s)), -sentences.index(s)))
    line = f"{turn.actor.kind}:{turn.actor.id}: {best}"
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


@dataclass
class Context:
    summary: list[str]
    recalled: list[str]
    recent: list[Turn]
    tokens: int

    def render(self) -> str:
        parts = []
        if self.summary:
            parts.append("Earlier in this conversation (summary):\n" + "\n".join(self.summary))
        if self.recalled:
            parts.append("Earlier turns that bear on this:\n" + "\n".join(self.recalled))
        parts.append("\n".join(f"{t.actor.kind}:{t.actor.id}: {t.text}" for t in self.recent))
        return "\n\n".join(parts)


@dataclass
class Conversation:
    """One ticket's conversation, kept under ``budget`` tokens: ``recent_share`` of it for the newest
    turns, ``summary_share`` for the running summary, the rest for recalled earlier turns."""

    memory: Memory
    team: str
    ticket_id: str
    requester_id: str | None = None
    budget: int = 800
    recent_share: float = 0.5
    summary_share: float = 0.2
    recent: list[Turn] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    folded: int = 0

    async def add(self, turn: Turn, *, event_id: str) -> None:
        """Take a new turn; fold the oldest turns into memory while the recent ones are over their share."""
        self.recent.append(turn.model_copy(update={"text": redact_text(turn.text)}))
        while len(self.recent) > 1 and self._tokens(self.recent) > self.budget * self.recent_share:
            await self._fold(self.recent.pop(0), event_id=event_id)

    async def _fold(self, turn: Turn, *, event_id: str) -> None:
        self.folded += 1
        fact = Fact(
            team=self.team, scope="ticket", subject=self.ticket_id, key=f"turn:{self.folded}", kind="turn",
            text=f"{turn.actor.kind}:{turn.actor.id}: {turn.text}", source_event=f"{event_id}:fold:{self.folded}", valid_from=turn.at,
            ticket_id=self.ticket_id, requester_id=self.requester_id if turn.actor.kind == "human" else None,
        )
        vector = (await self.memory.embedder.embed([fact.text])).vectors[0]
        await self.memory.store.remember(fact, np.asarray(vector).tolist())
        self.summary.append(summary_line(turn))

    async def context(self, question: str, *, now: datetime) -> Context:
        """What to put in front of the model for ``question``: never more than ``budget`` tokens."""
        recent_tokens = self._tokens(self.recent)
        summary: list[str] = []
        used = recent_tokens
        for line in reversed(self.summary):  # newest summary lines first when the share is short
            cost = count_tokens(line)
            if used - recent_tokens + cost > self.budget * self.summary_share:
                break
            summary.insert(0, line)
            used += cost
        recalled: list[str] = []
        if self.folded:
            vector = (await self.memory.embedder.embed([redact_text(question)])).vectors[0]
            hits = await self.memory.store.search(self.team, np.asarray(vector).tolist(), limit=20, match={"ticket_id": self.ticket_id, "kind": "turn"})
            items, _ = self.memory.rank(hits, self.ticket_id, self.requester_id, None, now=now, token_budget=max(0, self.budget - used), limit=5)
            recalled = [i.text for i in items if i.text not in summary]
            used += sum(i.tokens for i in items)
        return Context(summary=summary, recalled=recalled, recent=list(self.recent), tokens=used)

    @staticmethod
    def _tokens(turns: list[Turn]) -> int:
        return sum(count_tokens(f"{t.actor.kind}:{t.actor.id}: {t.text}") for t in turns)
