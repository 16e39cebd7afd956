"""A change of the policy file is announced once, on the real broker, and decisions name the policy
they were taken under."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import codec
from contracts.catalog import load_catalog
from contracts.events import PolicyAllowed, PolicyChanged
from contracts.topics import POLICY_CHANGED
from runtime.table import TopicTable
from runtime.topics import ensure_topics
from services.skills import app as skills_app
from services.skills.policy_file import DEFAULT_POLICY, LoadedPolicy, announce, load_policy
from services.skills.runner import Runner
from services.skills.settings import DEFAULT_CATALOG
from tests.integration.test_skills import db, org, request, systems, vault  # noqa: F401 - fixtures

SOURCE = "/services/skills"


async def start_skills(bootstrap: str, topic, path: Path) -> PolicyChanged | None:  # noqa: ANN001
    """What skills does about its policy at start: read the policy topic whole, announce if changed."""
    loaded = load_policy(path)
    table: TopicTable[PolicyChanged] = TopicTable(bootstrap, topic, keyring=None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await table.start()
    await producer.start()
    try:
        await table.caught_up()

        async def publish(event: PolicyChanged) -> None:
            await producer.send_and_wait(topic.name, codec.encode(event), key=topic.key(event))

        return await announce(table, loaded, publish, source=SOURCE)
    finally:
        await producer.stop()
        await table.stop()


async def every_record(bootstrap: str, name: str) -> list:  # noqa: ANN201
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records = []
        while len(records) < end:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_a_changed_policy_file_is_announced_once_and_the_same_file_never_again(broker, tmp_path: Path) -> None:  # noqa: ANN001
    topic = POLICY_CHANGED.model_copy(update={"name": f"policy.changed.test-{uuid.uuid4().hex[:8]}"})  # this test's own, empty
    await ensure_topics(broker.bootstrap, [topic])
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY.read_text())

    first = await start_skills(broker.bootstrap, topic, path)
    assert first is not None and first.data.previous_version is None and first.data.version == "2026-11-25.1"
    assert await start_skills(broker.bootstrap, topic, path) is None, "a restart with the same file announces nothing"

    path.write_text(DEFAULT_POLICY.read_text().replace('version: "2026-11-25.1"', 'version: "2026-11-26.1"').replace("max_hops: 3", "max_hops: 2"))
    second = await start_skills(broker.bootstrap, topic, path)
    assert second is not None
    assert (second.data.previous_version, second.data.previous_sha256, second.data.version) == ("2026-11-25.1", first.data.sha256, "2026-11-26.1")
    assert "-  max_hops: 3" in second.data.diff and "+  max_hops: 2" in second.data.diff
    assert await start_skills(broker.bootstrap, topic, path) is None
    assert await start_skills(broker.bootstrap, topic, path) is None

    records = await every_record(broker.bootstrap, topic.name)
    assert [(codec.decode(r.value).type, codec.decode(r.value).data.version) for r in records] == [("policy.changed", "2026-11-25.1"), ("policy.changed", "2026-11-26.1")]
    assert {r.key for r in records} == {b"policy"}


async def test_decisions_carry_the_version_and_hash_of_the_policy_in_force(db, vault, org, systems, tmp_path: Path) -> None:  # noqa: ANN001, F811
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY.read_text().replace('version: "2026-11-25.1"', 'version: "2026-12-01.3"'))
    loaded: LoadedPolicy = load_policy(path)
    runner = Runner(db, org.registry, vault, skills_app.SKILLS, load_catalog(DEFAULT_CATALOG), source=SOURCE, queue="service-desk", policy=loaded, systems=systems, issuer=org.issuer)
    decisions = [e for e in await runner.run(request("ana.silva")) if isinstance(e, PolicyAllowed)]
    assert len(decisions) == 2
    assert {(d.data.policy_version, d.data.policy_sha256) for d in decisions} == {("2026-12-01.3", loaded.sha256)}
