"""A table read from a compacted topic takes only rows its owner would write: junk, a tombstone,
a key that is not text or not the row's own never changes a row and never stops the table."""

from __future__ import annotations

from contracts import codec
from contracts.topics import COWORKER_STATE
from runtime.table import TopicTable
from tests.conftest import coworker_row


def test_records_no_owner_would_write_change_no_row_and_the_next_real_row_still_lands(workforce) -> None:  # noqa: ANN001
    table = TopicTable("unused:9092", COWORKER_STATE)
    jordan = coworker_row(workforce["jordan"])
    table._apply(b"jordan", codec.encode(jordan))
    assert table.get("jordan") == jordan

    table._apply(b"\xff\xfejordan", codec.encode(jordan))  # a key that is not UTF-8 used to stop the table for good
    table._apply(b"jordan", None)  # a tombstone used to remove jordan from every service's table
    table._apply(b"jordan", b"{junk")
    table._apply(b"jordan", codec.encode(coworker_row(workforce["bob"])))  # bob's row under jordan's key
    table._apply(None, codec.encode(jordan))
    assert list(table.rows) == ["jordan"] and table.get("jordan") == jordan

    suspended = coworker_row(workforce["jordan"], state="suspended", revision=2)
    table._apply(b"jordan", codec.encode(suspended))  # the kill switch still lands
    assert table.get("jordan").data.state.value == "suspended"
