"""Send events as one writer outside the services (a person through the CLI, the upstream adapter):
each record signed with that writer's key (runtime/signing.py), acknowledged by the broker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts import codec, topics
from contracts.envelope import Envelope
from runtime.signing import keys_folder, load_private, Signer


def signer_for(name: str) -> Signer:
    """``name``'s signing key from the keyring folder (``WORKFORCE_KEYS``); a clear error when missing."""
    return Signer(name, load_private(keys_folder(), name))


async def send(bootstrap: str, signer: Signer, events: Iterable[Envelope[Any]], *, client_id: str, progress: Callable[[int], None] | None = None) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id=client_id)
    await producer.start()
    try:
        sent = []
        for event in events:
            topic = topics.topic_of(event)
            key, value = topic.key(event), codec.encode(event)
            sent.append(await producer.send(topic.name, value, key=key, headers=signer.headers(topic.name, key, value, codec.HEADERS)))
        for future in sent:
            await future
            if progress:
                progress(1)
        return len(sent)
    finally:
        await producer.stop()
