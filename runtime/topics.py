"""Create the registry's topics on the cluster, idempotently, before anything produces or consumes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from contracts import topics as registry
from contracts.topics import Topic
from runtime import logs

log = logs.get(__name__)


async def ensure_topics(bootstrap_servers: str, wanted: Iterable[Topic] = registry.ALL, *, replication_factor: int = 1, timeout_s: float = 60.0) -> None:
    """Create the missing topics with their partitions and retention; leave existing ones alone."""
    wanted = list(wanted)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="workforce-admin")
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"no Kafka broker answers at {bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)") from None
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication_factor, topic_configs=t.configs) for t in missing]
        )
        created, refused = [], []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:  # another process created it first: fine
                refused.append(f"{name}: {message or code}")
        if refused:
            raise RuntimeError(f"the broker at {bootstrap_servers} refused to create topics: {'; '.join(refused)}")
        if created:
            log.info("topics created", topics=created)
    finally:
        await admin.close()
