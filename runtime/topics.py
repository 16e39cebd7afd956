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


async def ensure_topics(bootstrap_servers: str, wanted: Iterable[Topic] = registry.ALL, *, timeout_s: float = 60.0) -> None:
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
        try:
            await admin.create_topics(
                [NewTopic(t.name, num_partitions=t.partitions, replication_factor=1, topic_configs=t.configs) for t in missing]
            )
        except TopicAlreadyExistsError:
            pass  # another process created them first
        log.info("topics created", topics=[t.name for t in missing])
    finally:
        await admin.close()
