"""Reading tickets: what category each is, with what confidence, by which method. One interface,
two methods: the offline classifier (the default), and an LLM through litellm (``llm.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from contracts.envelope import Actor
from contracts.events import LlmUsage, Ticket, TicketCreated
from services.triage.classifier import CategoryModel, readable
from services.triage.decisions import Reading
from services.triage.learning import Examples
from services.triage.router import SkillRouter
from services.triage.split import segments


class Reader(Protocol):
    async def read(self, tickets: Sequence[Ticket], teams: Sequence[str], actor: Actor, events: Sequence[TicketCreated]) -> list[tuple[Reading, list[LlmUsage]]]:
        """A reading per ticket, and the model calls (``llm.usage``) it took."""

    async def read_texts(self, texts: Sequence[str]) -> list[Reading]:
        """Readings of bare texts (a ticket's segments), offline."""


class OfflineReader:
    """The trained classifier, the skill router, and the labels people gave before: no network, no cost."""

    method = "classifier"

    def __init__(self, model: CategoryModel, examples: Examples, router: SkillRouter) -> None:
        self.model, self.examples, self.router = model, examples, router

    async def read(self, tickets: Sequence[Ticket], teams: Sequence[str], actor: Actor, events: Sequence[TicketCreated]) -> list[tuple[Reading, list[LlmUsage]]]:
        return [(reading, []) for reading in await self.read_texts([t.text for t in tickets], learned=True)]

    async def read_texts(self, texts: Sequence[str], *, learned: bool = False) -> list[Reading]:
        readable_ = [i for i, text in enumerate(texts) if readable(text)]
        out: list[Reading] = [Reading(prediction=None, method=self.method) for _ in texts]
        if not readable_:
            return out
        chosen = [texts[i] for i in readable_]
        predictions, routes, labels, unknown = await asyncio.to_thread(self._read, chosen, learned)
        for n, i in enumerate(readable_):
            if unknown[n] and labels[n] is None:
                continue  # not one word the model learned (an alphabet it never saw): a person reads it
            out[i] = Reading(prediction=predictions[n], route=routes[n], learned=labels[n], method=self.method)
        return out

    def _read(self, texts: list[str], learned: bool) -> tuple[list[Any], list[Any], list[Any], Any]:
        """One pass per batch: the classifier's category (its features also find learned
        examples), and the router's skill."""
        predictions, features = self.model.read(texts)
        labels = self.examples.lookup_batch(texts, features) if learned else [None] * len(texts)
        return predictions, self.router.read(texts), labels, self.model.knows_nothing(features)


def ticket_segments(ticket: Ticket) -> list[str]:
    return segments(ticket)
