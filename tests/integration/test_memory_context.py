"""Context that does not rot: a 40-turn ticket conversation stays under its token budget, and a fact
the requester gave at turn 2 is still in front of the model at turn 40 when the question needs it
(where a plain window of the latest turns has long lost it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.envelope import Actor
from contracts.events import Turn
from runtime.embeddings import LocalEmbedder
from services.memory.context import Conversation, summary_line
from services.memory.memory import Memory, count_tokens, speaker
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ANA, AGENT = Actor.human("ana.silva"), Actor.coworker("jordan")
FILLER = [
    "I restarted the laptop as you asked, the VPN still drops after a few minutes.",
    "Could you check whether the Wi-Fi driver is current? Open Device Manager and look at the network adapters.",
    "The driver says version 22.150, dated last spring.",
    "Please try the wired connection at your desk and tell me whether the drops continue.",
    "On the cable it has been stable for ten minutes so far.",
    "Good. Let us look at the power settings of the wireless adapter next.",
    "Power saving was on for the adapter; I switched it off.",
    "Now reconnect the VPN over Wi-Fi and keep an eye on it for a while.",
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder()
    model.load()
    return model


@pytest.fixture
async def memory(tmp_path: Path, embedder: LocalEmbedder) -> AsyncIterator[Memory]:
    settings = MemorySettings(qdrant_path=tmp_path / "qdrant", qdrant_url=None)
    store = MemoryStore(settings)
    await store.open(dimensions=embedder.dimensions, model=embedder.model)
    yield Memory(store, embedder, settings)
    await store.close()


def turns() -> list[Turn]:
    said = [
        Turn(actor=ANA, text="Hi, my VPN keeps dropping since Monday.", at=START),
        Turn(actor=ANA, text="For the record: my laptop's asset tag is LT-4471, a ThinkPad X1 Carbon, and my desk is 4.17 in Lisbon.", at=START + timedelta(minutes=1)),
    ]
    for n in range(2, 39):
        said.append(Turn(actor=AGENT if n % 2 else ANA, text=FILLER[n % len(FILLER)], at=START + timedelta(minutes=n)))
    said.append(Turn(actor=AGENT, text="The adapter is failing. Which laptop should the replacement adapter be shipped for, and to which desk?", at=START + timedelta(minutes=39)))
    return said


async def test_a_fact_from_turn_2_is_still_used_at_turn_40_within_the_budget(memory: Memory) -> None:
    conversation = Conversation(memory, team="it-support", ticket_id="T-long", requester_id="ana.silva", budget=400)
    all_turns = turns()
    assert len(all_turns) == 40
    for n, turn in enumerate(all_turns[:-1]):
        await conversation.add(turn, event_id=f"e{n}")
        context = await conversation.context(turn.text, now=turn.at)
        assert context.tokens <= 400, f"over budget at turn {n + 1}"
    question = all_turns[-1]
    await conversation.add(question, event_id="e39")
    context = await conversation.context(question.text, now=question.at)
    rendered = context.render()
    assert context.tokens <= 400 and count_tokens(rendered) <= 400 + 40, "the rendered context stays near its budget (headings aside)"
    assert conversation.folded > 20, "most of the conversation went to memory"
    assert any("LT-4471" in r for r in context.recalled) and not any("LT-4471" in s for s in context.summary), "recalled from memory, not kept in the summary"
    assert "LT-4471" in rendered and "4.17" in rendered, "turn 2's fact is in front of the model at turn 40"
    # the control: the latest turns that fit the same budget do not have it
    window, used = [], 0
    for turn in reversed(all_turns):
        cost = count_tokens(f"{speaker(turn.actor)}: {turn.text}")
        if used + cost > 400:
            break
        window.insert(0, turn)
        used += cost
    assert not any("LT-4471" in t.text for t in window), "a plain window would have lost it"


async def test_folded_turns_are_redacted_and_stay_in_the_tickets_memory(memory: Memory) -> None:
    conversation = Conversation(memory, team="it-support", ticket_id="T-secret", requester_id="ana.silva", budget=120)
    await conversation.add(Turn(actor=ANA, text="my password is Hunter2! and card 4111 1111 1111 1111", at=START), event_id="a")
    for n in range(8):
        await conversation.add(Turn(actor=AGENT, text=FILLER[n], at=START + timedelta(minutes=n + 1)), event_id=f"b{n}")
    stored = await memory.store.facts("it-support", ticket_id="T-secret")
    assert stored and all("Hunter2" not in f["text"] and "4111" not in f["text"] for f in stored)
    assert all(f["scope"] == "ticket" and f["kind"] == "turn" for f in stored)
    assert not await memory.store.facts("hr", ticket_id="T-secret")


def test_a_summary_line_keeps_the_sentence_with_the_identifiers() -> None:
    assert summary_line("requester: Thanks for the help. My asset tag is LT-4471 by the way. Have a nice day!") == "requester: My asset tag is LT-4471 by the way."


async def test_memory_answers_a_recall_with_the_tickets_working_context_built_from_its_question_and_answer_events(memory: Memory) -> None:
    """The conversation as it reaches memory: the coworker's ``ticket.question`` and the requester's
    ``ticket.answered`` events. At turn 40 a recall asking for a context budget gets turn 2's fact."""
    from contracts.events import Answer, MemoryRecallRequested, Question, RecallRequest, TicketAnswered, TicketQuestion
    from tests.conftest import ticket

    created = ticket("T-conv", requester="ana.silva")
    events = []
    for n, turn in enumerate(turns()):
        if turn.actor.kind == "human":
            event = created.caused(TicketAnswered, Answer(ticket_id="T-conv", text=turn.text), source="/upstream/tests", actor=turn.actor, ordinal=n)
            facts = memory.answered_facts(event.model_copy(update={"time": turn.at}))
        else:
            asked = Question(ticket_id="T-conv", category="Hardware", skill="laptop-troubleshoot", field=f"q{n}", question=turn.text, to=created.data.requester)
            event = created.caused(TicketQuestion, asked, source="/services/skills", actor=turn.actor, ordinal=n)
            facts = [memory.question_fact(event.model_copy(update={"time": turn.at}))]
        events += [(event, f) for f in facts]
    await memory.remember(events)
    last = turns()[-1]
    request = created.caused(MemoryRecallRequested, RecallRequest(request_id="r-conv", text=last.text, ticket_id="T-conv", requester_id="ana.silva", token_budget=50, limit=1, context_budget=400), source="/services/skills")
    reply = (await memory.recall(request.model_copy(update={"time": last.at + timedelta(seconds=1)})))[0].data
    assert reply.context_turns == 40 and 0 < reply.context_tokens <= 400
    assert "LT-4471" in reply.context and "4.17" in reply.context, "turn 2's fact is in the context at turn 40"
    assert reply.context.rstrip().endswith(f"coworker:jordan: {last.text}"), "the newest turn is there verbatim"
    assert "ana.silva" not in reply.context and "requester: " in reply.context, "the requester by role, not by name"
