"""Fixtures shared by the suite: a real PostgreSQL, a real Kafka-protocol broker, the real stack.

PostgreSQL is ``TEST_DATABASE_URL`` or ``DATABASE_URL`` when set, else the embedded server; every
test that writes gets a database of its own. The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set,
else a Tansu broker started for the session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from contracts.envelope import Actor
from contracts.events import Requester, Ticket, TicketCreated
from deploy.stack import ROOT, Broker, Postgres, Stack

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


#: The people the tests act as through the CLI's code (each signs with a key of their own).
PEOPLE = ("priya.raman", "service-desk-lead", "auditor", "dpo.office", "dpo", "someone.else", "workforce.admin")


@pytest.fixture(scope="session", autouse=True)
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's keyring (``WORKFORCE_KEYS``): every service, the upstream adapter and ``PEOPLE``;
    the stack adds the example coworkers' managers."""
    from deploy import keys

    folder = Path(os.environ.get("WORKFORCE_KEYS") or tmp_path_factory.mktemp("keys"))
    keys.init(folder, people=PEOPLE)
    previous = os.environ.get("WORKFORCE_KEYS")
    os.environ["WORKFORCE_KEYS"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("WORKFORCE_KEYS", None)


@pytest.fixture(scope="session")
def server_url(var: Path) -> Iterator[str]:
    """A PostgreSQL server the tests may create databases on."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    # The embedded server's data lives under .var/test, not pytest's numbered temp folders, which
    # other pytest runs clean up (and chmod) while this one still uses them.
    embedded = Postgres.resolve(ROOT / ".var" / "test") if not os.environ.get("DATABASE_URL") else Postgres(url=os.environ["DATABASE_URL"])
    yield embedded.url
    embedded.stop()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _create_database(server_url: str) -> str:
    name = f"wf_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(server_url, name)


async def _drop_database(server_url: str, url: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test, dropped after it."""
    url = await _create_database(server_url)
    yield url
    await _drop_database(server_url, url)


@pytest.fixture
async def service_database(database_url: str) -> AsyncIterator:
    """Open a service's own schema in this test's database, migrated as the service would at start."""
    from runtime.db import Database

    opened: list[Database] = []

    async def open_(service: str) -> Database:
        database = Database(database_url, service, ROOT / "services" / service / "migrations", pool_size=4)
        await database.open()
        opened.append(database)
        return database

    yield open_
    for database in opened:
        await database.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def broker(var: Path) -> Iterator[Broker]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield Broker(bootstrap=external)
        return
    started = Broker.start(log=var / "broker.log")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def stack(var: Path, broker: Broker, server_url: str) -> Iterator[Stack]:
    """All six services as separate processes, on the session's broker and a database of their own."""
    # A price for the local model (as an operator pricing its CPU would), so money is checked too.
    running = Stack(var=var / "stack", extra_env={"EMBED_USD_PER_MILLION_TOKENS": "0.05", "LOG_LEVEL": "INFO"})
    running.broker = broker
    running.database_url = asyncio.run(_create_database(server_url))
    (running.var / "logs").mkdir(parents=True, exist_ok=True)
    from runtime.topics import ensure_topics

    asyncio.run(ensure_topics(broker.bootstrap))
    try:
        running.start_systems()
        running.start_services()
        running.bring_up_workforce()
        yield running
    finally:
        # Also when a service fails to start: a process left running would join the next
        # session's consumer groups on the same broker port and take its partitions.
        for procs in running.running.values():
            for proc in procs:
                proc.stop()
        if running.simulator is not None:
            running.simulator.stop()
        asyncio.run(_drop_database(server_url, running.database_url))


def ticket(ticket_id: str | None = None, *, team: str = "it-support", title: str = "I forgot my password", description: str = "", requester: str = "ana.silva") -> TicketCreated:
    """A ``ticket.created`` event as an upstream system would send it."""
    ticket_id = ticket_id or f"T-{uuid.uuid4().hex[:10]}"
    return TicketCreated.create(
        Ticket(ticket_id=ticket_id, title=title, description=description, requester=Requester(id=requester, email=f"{requester}@acme.example")),
        source="/upstream/tests",
        team=team,
        actor=Actor.system("tests"),
        correlation_id=ticket_id,
        subject=ticket_id,
    )


@pytest.fixture
def make_ticket():  # noqa: ANN201
    return ticket


def coworker_row(manifest, *, state: str = "active", version: int = 1, revision: int = 1):  # noqa: ANN001, ANN201
    """A ``coworker.state`` event as governance would announce it."""
    from datetime import UTC, datetime

    from contracts.coworkers import LifecycleState
    from contracts.events import CoworkerState, CoworkerStated

    data = CoworkerState(coworker=manifest.name, revision=revision, state=LifecycleState(state), active_version=version, active=manifest, changed_at=datetime.now(UTC))
    return CoworkerStated.create(data, source="/services/governance", team=manifest.team, actor=Actor.system("governance"), correlation_id=f"coworker:{manifest.name}", subject=manifest.name)


def table_of(*rows, topic=None):  # noqa: ANN001, ANN002, ANN201
    """A table filled by hand (no broker): what a service would have read (coworkers by default)."""
    from contracts.topics import COWORKER_STATE
    from runtime.table import TopicTable

    table = TopicTable("unused:9092", topic or COWORKER_STATE, keyring=None)
    for row in rows:
        table.rows[row.subject] = row
    return table


@pytest.fixture(scope="session")
def workforce():  # noqa: ANN201
    """The example workforce's manifests, by name."""
    from deploy.coworkers import example_workforce

    return example_workforce()


@pytest.fixture(scope="session")
def skill_router():  # noqa: ANN201
    """The skill router as the triage service fits it at start: the shipped catalog, the shipped
    static embedding, the shipped no-skill and not-a-ticket texts (a few seconds, once a session)."""
    from contracts.catalog import load_catalog
    from services.triage.embedding import StaticEmbedder
    from services.triage.router import SkillRouter, training_data
    from services.triage.settings import DEFAULT_CATALOG, DEFAULT_EMBEDDING

    return SkillRouter(StaticEmbedder(DEFAULT_EMBEDDING), training_data(load_catalog(DEFAULT_CATALOG)))


@pytest.fixture(scope="session")
def simulator_template(server_url: str) -> Iterator[str]:
    """A database holding the simulator's schema, migrated and seeded with 120 people once per session:
    each test's simulator starts from a copy of it (``CREATE DATABASE ... TEMPLATE``)."""
    from deploy.sandbox import server
    from deploy.sandbox.seed import seed_sandboxes

    async def build() -> str:
        url = await _create_database(server_url)
        database = server.database(url)
        await database.open()
        async with database.pool.acquire() as conn, conn.transaction():
            await seed_sandboxes(conn, 120)
        await database.close()
        return url

    url = asyncio.run(build())
    yield urlsplit(url).path.lstrip("/")
    asyncio.run(_drop_database(server_url, url))


@pytest.fixture
async def simulator(server_url: str, simulator_template: str) -> AsyncIterator:
    """The customer's systems simulated (deploy/sandbox), seeded with 120 people, served over HTTP on
    loopback from a database of their own: ``simulator.urls()``, ``simulator.token(...)``,
    ``simulator.hook(...)``, ``simulator.database`` (the systems' state, for checks)."""
    from deploy.sandbox.running import running

    name = f"wf_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{simulator_template}"')
    finally:
        await conn.close()
    url = _with_database(server_url, name)
    async with running(url, employees=None) as started:
        yield started
    await _drop_database(server_url, url)
