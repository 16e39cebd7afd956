"""A table read from a compacted topic takes only rows its owner wrote: a forged or unsigned row,
junk, a tombstone, a key that is not text or not the row's own never changes a row, never stops the
table, and each says why (the service dead-letters it with that reason)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aiokafka import ConsumerRecord

from contracts import codec
from contracts.topics import COWORKER_STATE
from runtime.signing import Keyring
from runtime.table import TopicTable
from tests.conftest import coworker_row


def record(key: bytes | None, value: bytes | None, signer: str | None = "governance", offset: int = 0) -> ConsumerRecord:
    headers = Keyring.from_env().signer(signer).sign(COWORKER_STATE.name, key, value or b"") if signer else []
    return ConsumerRecord(COWORKER_STATE.name, 0, offset, 0, 0, key, value, None, len(key or b""), len(value or b""), headers)


def test_records_no_owner_would_write_change_no_row_and_the_next_real_row_still_lands(workforce, keyring: Path) -> None:  # noqa: ANN001
    table = TopicTable("unused:9092", COWORKER_STATE, keyring=Keyring(keyring))
    jordan = coworker_row(workforce["jordan"])
    assert table._apply(record(b"jordan", codec.encode(jordan))) is None
    assert table.get("jordan") == jordan

    shadow = coworker_row(workforce["jordan"], state="suspended", revision=9)
    attempts = {
        "unsigned": record(b"jordan", codec.encode(shadow), signer=None),
        "not_a_writer": record(b"jordan", codec.encode(shadow), signer="skills"),  # a service, but not the table's owner
        "not_a_writer ": record(b"jordan", codec.encode(shadow), signer="human:priya.raman"),
        "not_a_row": record(b"\xff\xfejordan", codec.encode(jordan)),  # a key that is not UTF-8 used to stop the table for good
        "not_a_row ": record(b"jordan", None),  # a tombstone used to remove jordan from every service's table
        "not_json": record(b"jordan", b"{junk"),
        "not_a_row  ": record(b"jordan", codec.encode(coworker_row(workforce["bob"]))),  # bob's row under jordan's key
        "not_a_row   ": record(None, codec.encode(jordan)),
    }
    attempts["forged"] = dataclasses.replace(record(b"jordan", codec.encode(jordan)), value=codec.encode(shadow))  # a real signature, moved onto other bytes
    for expected, attempt in attempts.items():
        refusal = table._apply(attempt)
        assert refusal is not None and refusal.code == expected.strip(), (expected, refusal)
    assert list(table.rows) == ["jordan"] and table.get("jordan") == jordan

    suspended = coworker_row(workforce["jordan"], state="suspended", revision=2)
    assert table._apply(record(b"jordan", codec.encode(suspended))) is None  # the kill switch still lands
    assert table.get("jordan").data.state.value == "suspended"
