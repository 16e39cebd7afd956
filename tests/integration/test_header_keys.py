"""A record whose header key is not UTF-8, on the real broker: read with the others, never a wedge.

No Kafka client we use writes such a key (their header keys are ``str``), so the batches here are
encoded by hand, as a producer in another language could write them, and sent with a plain
ProduceRequest. The consumer-level tests use a topic of their own: a consumer without
``runtime.header_keys`` that reached such a record would be stuck there (``a_plain_consumer_is_stuck...``
shows how), so none is left on a topic the stack reads until every service installs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.codec import gzip_encode
from aiokafka.errors import CorruptRecordException
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.util import calc_crc32c, encode_varint

from contracts import codec, topics
from contracts.events import TicketCreated
from deploy.stack import ROOT
from runtime import header_keys
from runtime.service import Service
from runtime.settings import ServiceSettings
from tests.conftest import ticket

BAD_KEY = b"\xff\xfe"
Header = tuple[bytes, bytes | None]


def record_batch(rows: list[tuple[bytes | None, bytes | None, list[Header]]], *, gzip: bool = False) -> bytes:
    """One v2 record batch (Kafka's DefaultRecordBatch) of ``rows`` (key, value, headers), header
    keys written as the bytes given."""
    now = int(time.time() * 1000)
    body = bytearray()
    for delta, (key, value, headers) in enumerate(rows):
        record = bytearray(b"\x00")  # attributes
        encode_varint(0, record.append)  # timestamp delta
        encode_varint(delta, record.append)  # offset delta
        for field in (key, value):
            _write_bytes(record, field)
        encode_varint(len(headers), record.append)
        for h_key, h_value in headers:
            _write_bytes(record, h_key)
            _write_bytes(record, h_value)
        encode_varint(len(record), body.append)
        body += record
    payload = gzip_encode(bytes(body)) if gzip else bytes(body)
    # attributes, last offset delta, first and max timestamp, producer id, epoch, base sequence, count
    after_crc = struct.pack(">hiqqqhii", 1 if gzip else 0, len(rows) - 1, now, now, -1, -1, -1, len(rows)) + payload
    after_length = struct.pack(">ibI", -1, 2, calc_crc32c(after_crc)) + after_crc  # leader epoch, magic, CRC-32C
    return struct.pack(">qi", 0, len(after_length)) + after_length


def _write_bytes(out: bytearray, field: bytes | None) -> None:
    if field is None:
        encode_varint(-1, out.append)
    else:
        encode_varint(len(field), out.append)
        out += field


async def produce(bootstrap: str, topic: str, batch: bytes, partition: int = 0) -> None:
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        response = await client.send(leader, ProduceRequest(None, -1, 30_000, [(topic, [(partition, batch)])]))
        ((_, ((_, error_code, *_),)),) = response.topics
        assert error_code == 0, f"produce to {topic}/{partition} refused: error {error_code}"
    finally:
        await client.close()


@pytest.fixture
async def topic(broker) -> AsyncIterator[str]:  # noqa: ANN001
    """A topic of this test's own, holding: a valid record, one whose header key is not UTF-8,
    another valid one (one batch, as a producer batches them), then a valid one in a batch of its own."""
    name = f"tests.header-keys.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def rows(tag: str) -> list[tuple[bytes, bytes, list[Header]]]:
    return [
        (b"k", f"first {tag}".encode(), [(b"wf-signer", b"upstream")]),
        (b"k", f"bad {tag}".encode(), [(b"wf-signer", b"upstream"), (BAD_KEY, b"junk")]),
        (b"k", f"second {tag}".encode(), []),
    ]


async def fill(bootstrap: str, topic: str, *, gzip: bool = False) -> list[bytes]:
    tag = uuid.uuid4().hex[:8]
    await produce(bootstrap, topic, record_batch(rows(tag), gzip=gzip))
    await produce(bootstrap, topic, record_batch([(b"k", f"third {tag}".encode(), [])]))
    return [f"{word} {tag}".encode() for word in ("first", "bad", "second", "third")]


#: A reader in a process of its own, so the parser it gets (compiled, or AIOKAFKA_NO_EXTENSIONS)
#: and whether ``runtime.header_keys`` is installed are its own: three getmany() calls, as JSON.
READER = """
import asyncio, json, sys
from aiokafka import AIOKafkaConsumer, TopicPartition
bootstrap, topic, fix = sys.argv[1], sys.argv[2], sys.argv[3] == "fix"
if fix:
    from runtime import header_keys
    header_keys.install()

async def main():
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    read, errors = [], []
    try:
        for _ in range(6):
            try:
                batch = await consumer.getmany(tp, timeout_ms=1000)
            except Exception as exc:
                errors.append(type(exc).__name__)
                continue
            read += [r.value.decode() for r in batch.get(tp, [])]
            if len(read) == 4:
                break
        print(json.dumps({"read": read, "errors": errors, "position": await consumer.position(tp)}))
    finally:
        await consumer.stop()

asyncio.run(main())
"""


async def read_in_subprocess(bootstrap: str, topic: str, *, fix: bool, pure_python: bool) -> dict:
    env = {**os.environ, "AIOKAFKA_NO_EXTENSIONS": "1"} if pure_python else {k: v for k, v in os.environ.items() if k != "AIOKAFKA_NO_EXTENSIONS"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", READER, bootstrap, topic, "fix" if fix else "plain", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1])


PARSERS = [pytest.param(False, id="compiled parser"), pytest.param(True, id="pure-Python parser")]


@pytest.mark.parametrize("pure_python", PARSERS)
async def test_a_plain_consumer_is_stuck_at_a_header_key_that_is_not_utf8(broker, topic: str, pure_python: bool) -> None:  # noqa: ANN001
    """What aiokafka does on its own: every getmany() raises (UnicodeDecodeError from the compiled
    parser, CorruptRecordException from the pure-Python one), the position stays at the start of
    the batch, and not even the valid record before the bad one is returned. FastStream's consume
    loop catches only KafkaError: on the compiled parser's error its task dies and its supervisor
    restarts it at once, thousands of times a second; on the other it retries every 5 s for ever."""
    await fill(broker.bootstrap, topic)
    seen = await read_in_subprocess(broker.bootstrap, topic, fix=False, pure_python=pure_python)
    expected = "CorruptRecordException" if pure_python else "UnicodeDecodeError"
    assert seen["read"] == []
    assert seen["errors"] and set(seen["errors"]) == {expected}, seen["errors"]
    assert seen["position"] == 0


@pytest.mark.parametrize("pure_python", PARSERS)
async def test_with_the_lenient_reader_a_consumer_reads_every_record_in_order(broker, topic: str, pure_python: bool) -> None:  # noqa: ANN001
    expected = await fill(broker.bootstrap, topic)
    seen = await read_in_subprocess(broker.bootstrap, topic, fix=True, pure_python=pure_python)
    assert seen == {"read": [v.decode() for v in expected], "errors": [], "position": 4}


@pytest.mark.parametrize("gzip", [False, True], ids=["uncompressed", "gzip"])
async def test_the_bad_header_key_is_kept_as_bytes_and_named_for_the_decoder(broker, topic: str, gzip: bool) -> None:  # noqa: ANN001
    """In this process (the compiled parser): the record with the odd key arrives between the
    other two, its key's bytes kept; ``not_utf8`` tells the decoder to dead-letter it."""
    header_keys.install()
    expected = await fill(broker.bootstrap, topic, gzip=gzip)
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        read = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(read) < len(expected):
            assert asyncio.get_running_loop().time() < deadline, f"read {len(read)} of {len(expected)}"
            read += (await consumer.getmany(tp, timeout_ms=500)).get(tp, [])
    finally:
        await consumer.stop()
    assert [r.value for r in read] == expected
    assert [r.offset for r in read] == [0, 1, 2, 3]
    first, bad, second, third = read
    assert bad.headers[0] == ("wf-signer", b"upstream")
    assert [(header_keys.wire_bytes(k), v) for k, v in bad.headers[1:]] == [(BAD_KEY, b"junk")]
    assert header_keys.not_utf8(bad.headers) == [r"\xff\xfe"]
    assert header_keys.why_unreadable(bad.headers) == r"header key '\xff\xfe' is not UTF-8: a Kafka header key is a UTF-8 string"
    assert [header_keys.not_utf8(r.headers) for r in (first, second, third)] == [[], [], []]
    assert bad.timestamp == first.timestamp and bad.key == b"k"


def test_a_header_key_that_is_valid_utf8_is_not_taken_for_a_bad_one() -> None:
    headers = [("content-type", b"x"), ("clé", b"y"), ("\ufffd", b"z")]  # U+FFFD sent as such is valid UTF-8
    assert header_keys.not_utf8(headers) == []
    assert header_keys.not_utf8(None) == []
    assert header_keys.readable(b"a\xffb".decode("utf-8", "surrogateescape")) == r"a\xffb"


def test_a_batch_cut_short_is_still_refused_as_corrupt() -> None:
    """Leniency is for header keys only: a batch that is not well formed stays an error."""
    whole = record_batch(rows("x"))
    assert [r.value for r in header_keys.read_batch(whole)] == [b"first x", b"bad x", b"second x"]
    for cut in (len(whole) - 1, 70):
        with pytest.raises(CorruptRecordException):
            header_keys.read_batch(whole[:cut])


async def test_a_service_dead_letters_the_record_with_a_bad_header_key_alone_and_handles_its_neighbours(broker) -> None:  # noqa: ANN001
    """The three records in one batch on ticket.created, each signed by the upstream adapter: the
    service handles the first and the third, and dead-letters the middle one (schema), its key's
    bytes shown escaped. (Without those lines it handles none of them: the wait times out.)"""
    from tests.integration.test_runtime import dead_letters_of, wait_for

    shell = Service(f"hk-{uuid.uuid4().hex[:8]}", ServiceSettings(kafka_bootstrap_servers=broker.bootstrap), description="test shell", signs_as="upstream")
    team = f"hk-{uuid.uuid4().hex[:8]}"
    handled: list[str] = []

    @shell.consumer(topics.TICKET_CREATED)
    async def on_ticket(events: list[TicketCreated]) -> None:
        handled.extend(e.data.ticket_id for e in events if e.team == team)

    first, bad, second = (ticket(team=team, title=title) for title in ("first", "bad header key", "second"))
    key = first.correlation_id.encode()
    batch_rows = []
    for event in (first, bad, second):
        value = codec.encode(event)
        signed = [(k.encode(), v) for k, v in shell.signer.sign(topics.TICKET_CREATED.name, key, value)]
        batch_rows.append((key, value, signed + ([(BAD_KEY, b"junk")] if event is bad else [])))
    await shell._ensure_topics()  # noqa: SLF001
    await shell.broker.start()
    try:
        await produce(broker.bootstrap, topics.TICKET_CREATED.name, record_batch(batch_rows))  # one batch, in this order
        await wait_for(lambda: len(handled) >= 2)
        for _ in range(100):
            letters = await dead_letters_of(broker.bootstrap, shell.name, team)
            if letters:
                break
            await asyncio.sleep(0.2)
    finally:
        await shell.broker.stop()
    assert handled == [first.data.ticket_id, second.data.ticket_id]
    assert [(d.reason_code, d.original_id) for d in letters] == [("schema", None)]
    assert r"'\xff\xfe'" in letters[0].reason
    assert letters[0].headers[r"\xff\xfe"] == "junk"
    assert codec.decode(letters[0].original) == bad
