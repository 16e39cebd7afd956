"""The service shell on the real broker: poison events, infrastructure faults, and where emitting is allowed."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from contracts import codec, topics
from contracts.events import Resolution, TicketCreated, TicketResolved
from runtime.service import Service
from runtime.settings import ServiceSettings
from tests.conftest import ticket


async def wait_for(predicate, timeout_s: float = 60) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def dead_letters_of(bootstrap: str, service: str, team: str) -> list:
    """The dead letters ``service`` wrote about this test's records (the topic holds other tests' too)."""
    from tests.e2e.conftest import Kafka

    letters = (codec.decode(r.value) for r in await Kafka(bootstrap).read(topics.DEADLETTER.name))
    return [d.data for d in letters if d.data.service == service and d.team == team]


@pytest.fixture
async def shell(broker):  # noqa: ANN001, ANN201
    """A fresh service on the session broker, its own consumer group, reading ticket.created (and
    writing it, so it signs as the upstream adapter)."""
    name = f"rt-{uuid.uuid4().hex[:8]}"
    service = Service(name, ServiceSettings(kafka_bootstrap_servers=broker.bootstrap, poison_retries=1), description="test shell", signs_as="upstream")
    yield service
    await service.broker.stop()


async def test_a_poison_event_is_dead_lettered_alone_and_the_rest_of_its_batch_is_processed(shell: Service, broker) -> None:  # noqa: ANN001
    team = f"rt-{uuid.uuid4().hex[:8]}"
    handled: Counter[str] = Counter()

    @shell.consumer(topics.TICKET_CREATED)
    async def on_ticket(events: list[TicketCreated]) -> None:
        for event in events:
            if event.team != team:
                continue
            if "poison" in event.data.title:
                raise ValueError(f"cannot handle {event.data.ticket_id}")
            handled[event.data.ticket_id] += 1
            shell.emit(event.caused(TicketResolved, Resolution(ticket_id=event.data.ticket_id, ticket=event.data, resolution="ok"), source=shell.source))

    await shell._ensure_topics()  # noqa: SLF001
    await shell.broker.start()
    good = [ticket(team=team, title=f"fine {i}") for i in range(9)]
    poison = ticket(team=team, title="poison pill")
    for event in [*good[:4], poison, *good[4:]]:
        await shell.publish(event)

    await wait_for(lambda: set(handled) == {e.data.ticket_id for e in good})
    for _ in range(100):
        letters = await dead_letters_of(broker.bootstrap, shell.name, team)
        if letters:
            break
        await asyncio.sleep(0.2)
    assert [(d.reason_code, d.original_id) for d in letters] == [("processing", poison.id)]
    assert "cannot handle" in letters[0].reason
    assert codec.decode(letters[0].original) == poison


async def test_an_infrastructure_fault_is_retried_not_dead_lettered(shell: Service, broker) -> None:  # noqa: ANN001
    team = f"rt-{uuid.uuid4().hex[:8]}"
    attempts: Counter[str] = Counter()
    done: set[str] = set()

    @shell.consumer(topics.TICKET_CREATED)
    async def on_ticket(events: list[TicketCreated]) -> None:
        for event in events:
            if event.team != team:
                continue
            attempts[event.id] += 1
            if attempts[event.id] <= 3:
                raise ConnectionError("database went away")
            done.add(event.id)

    await shell._ensure_topics()  # noqa: SLF001
    await shell.broker.start()
    flaky = ticket(team=team)
    await shell.publish(flaky)
    await wait_for(lambda: flaky.id in done)
    assert attempts[flaky.id] == 4
    assert await dead_letters_of(broker.bootstrap, shell.name, team) == []


async def test_emit_outside_a_handler_is_refused_and_says_what_to_use(shell: Service) -> None:
    created = ticket()
    with pytest.raises(RuntimeError, match="use `await service.publish"):
        shell.emit(created)


async def test_a_second_event_under_an_id_seen_with_other_content_is_a_conflict_dead_lettered_not_acted_on(shell: Service, broker, service_database) -> None:  # noqa: ANN001
    team = f"rt-{uuid.uuid4().hex[:8]}"
    database = await service_database("triage")
    handled: list[tuple[str, str]] = []

    @shell.consumer(topics.TICKET_CREATED, first_seen=database)
    async def on_ticket(events: list[TicketCreated]) -> None:
        handled.extend((e.id, e.data.title) for e in events if e.team == team)

    await shell._ensure_topics()  # noqa: SLF001
    await shell.broker.start()
    first = ticket(team=team, title="Confluence access for ana.silva")
    again = first.model_copy(update={"time": first.time.replace(year=first.time.year - 1)})  # the same event sent again later
    other = first.model_copy(update={"data": first.data.model_copy(update={"title": "GitHub admin for mallory"})})
    for event in (first, again, other):
        await shell.publish(event)
    await wait_for(lambda: len(handled) >= 2)
    for _ in range(100):
        letters = await dead_letters_of(broker.bootstrap, shell.name, team)
        if letters:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # nothing more arrives
    assert handled == [(first.id, first.data.title)] * 2, "the redelivery is handled (the handler dedupes), the other content never"
    assert [(d.reason_code, d.original_id) for d in letters] == [("conflict", first.id)]
    assert codec.decode(letters[0].original).data.title == "GitHub admin for mallory"


async def test_ids_are_forgotten_only_after_every_guarded_topic_has_dropped_them(service_database) -> None:  # noqa: ANN001
    from runtime import seen

    database = await service_database("triage")
    old, recent = ticket(title="asked long ago"), ticket(title="asked today")
    assert await seen.conflicts(database.pool, [old, recent]) == {}
    async with database.pool.acquire() as conn:
        await conn.execute("UPDATE seen_events SET seen_at = now() - interval '401 days' WHERE event_id = $1", old.id)
    assert await seen.forget_old(database.pool) == 1
    changed = recent.model_copy(update={"data": recent.data.model_copy(update={"title": "something else"})})
    assert list(await seen.conflicts(database.pool, [changed])) == [0], "a recent id is still remembered"
