"""A dead letter keeps what was received, and is itself always a readable event."""

from __future__ import annotations

import hashlib

from aiokafka import ConsumerRecord

from contracts import codec
from contracts.envelope import Actor
from runtime.deadletters import MAX_ORIGINAL_BYTES, dead_letter


def record(value: bytes, *, offset: int = 7, timestamp: int = 1_700_000_000_000) -> ConsumerRecord:
    return ConsumerRecord(topic="ticket.created", partition=2, offset=offset, timestamp=timestamp, timestamp_type=0, key=b"T-1", value=value, checksum=None, serialized_key_size=3, serialized_value_size=len(value), headers=[("content-type", b"application/json")])


def test_a_small_bad_record_is_kept_whole_with_its_position() -> None:
    letter = dead_letter(record(b'{"team": "hr", "correlationid": "T-1", "oops"'), "not_json", "bad", service="triage", actor=Actor.system("triage"))
    assert letter.data.original == b'{"team": "hr", "correlationid": "T-1", "oops"'
    assert not letter.data.truncated
    assert (letter.data.source_topic, letter.data.partition, letter.data.offset, letter.data.key) == ("ticket.created", 2, 7, b"T-1")
    assert letter.data.headers == {"content-type": "application/json"}
    assert letter.team == "unknown"  # not parseable JSON, so not attributable


def test_a_huge_record_keeps_its_start_size_and_hash_and_its_dead_letter_stays_readable() -> None:
    huge = b'{"team": "hr", "x": "' + b"a" * 900_000 + b'"}'
    letter = dead_letter(record(huge), "oversized", "too big", service="governance", actor=Actor.system("governance"))
    assert letter.data.truncated and len(letter.data.original) == MAX_ORIGINAL_BYTES
    assert letter.data.original_size == len(huge)
    assert letter.data.original_sha256 == hashlib.sha256(huge).hexdigest()
    wire = codec.encode(letter)
    assert len(wire) < codec.MAX_EVENT_BYTES
    assert codec.decode(wire) == letter


def test_the_same_record_redelivered_gets_the_same_dead_letter_id_and_a_new_record_a_new_one() -> None:
    actor = Actor.system("triage")
    first = dead_letter(record(b"x"), "not_json", "bad", service="triage", actor=actor)
    assert dead_letter(record(b"x"), "not_json", "bad", service="triage", actor=actor).id == first.id
    assert dead_letter(record(b"x"), "not_json", "bad", service="governance", actor=actor).id != first.id
    assert dead_letter(record(b"x", timestamp=1_800_000_000_000), "not_json", "bad", service="triage", actor=actor).id != first.id


def test_a_record_claiming_an_id_and_type_past_every_limit_still_gets_a_readable_dead_letter() -> None:
    """A 10,000-character id could not be dead-lettered, so its consumer retried it for ever."""
    long_id, long_type = "e" * 10_000, "ticket." + "x" * 5_000
    value = ('{"id": "%s", "type": "%s", "team": "hr"}' % (long_id, long_type)).encode()
    bad = ConsumerRecord(topic="ticket.created", partition=0, offset=1, timestamp=1, timestamp_type=0, key=b"k", value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value), headers=[("x-" + "h" * 500, b"\xff\xfe"), ("x-null", None)])
    letter = dead_letter(bad, "schema", "id too long", service="triage", actor=Actor.system("triage"), event_type=long_type, event_id=long_id)
    assert codec.decode(codec.encode(letter)) == letter
    assert letter.data.original_id.endswith("...[cut]") and len(letter.data.original_id) == 200 and letter.causation_id == letter.data.original_id
    assert letter.data.original_type.startswith("ticket.xxx") and letter.data.original_type.endswith("...[cut]")
    assert letter.data.original == value and letter.data.headers["x-null"] == "" and "\ufffd" in next(v for k, v in letter.data.headers.items() if k.startswith("x-h"))
