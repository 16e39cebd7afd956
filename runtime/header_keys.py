"""Every fetched Kafka record reaches its reader, whatever its header keys hold.

A v2 record's header key is a Kafka STRING, but a broker need not check that it is UTF-8 (Tansu
stores what it is sent; Java clients decode such a key leniently, with U+FFFD). aiokafka decodes
it strictly while it unpacks a fetched batch (``h_key.decode("utf-8")``): the compiled parser
raises ``UnicodeDecodeError``, the pure-Python one ``CorruptRecordException``. Either escapes
``getmany()`` on every call at that batch: the partition never moves past it, no record of the
batch is returned (not the valid ones before the bad one either), and records drained from other
partitions in the same call can be lost (their positions had moved; 3 runs in 8 on Tansu).
FastStream's consume loop catches only ``KafkaError``: the compiled parser's error ends its task,
which its supervisor restarts at once, thousands of times a second; the other is retried every
5 s, for ever.

``install()`` puts one thing in aiokafka's fetcher: the ``MemoryRecords`` it wraps each fetched
partition in. A batch aiokafka reads is returned as aiokafka read it; a batch it refuses *because
of a header key* is read again here, every header key decoded with ``surrogateescape``, so the
bytes are kept (``wire_bytes``), no record of the batch is dropped, and the readers decide:
``not_utf8`` names the keys that were not UTF-8 on the wire, so the service decoder
dead-letters that record alone. A batch that is corrupt in any other way is refused as before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import aiokafka
from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record import memory_records
# The bounds-checked reader: the compiled one reads past the end of a short buffer.
from aiokafka.record.util import decode_varint_py as decode_varint

#: The aiokafka series this was checked against (the fetcher's use of MemoryRecords, the record
#: attributes it reads). Another series refuses to install until someone checks it again.
TESTED = ("0.14",)

#: The v2 batch header (Kafka's DefaultRecordBatch): base offset, length, leader epoch, magic,
#: CRC, attributes, last offset delta, first and max timestamp, producer id and epoch, base
#: sequence, record count; the records follow it.
_HEADER = struct.Struct(">qiibIhiqqqhii")
_LENGTH = struct.Struct(">i")
_LOG_OVERHEAD = 12  # base offset and length: what precedes every batch, whatever its magic
_MAGIC_AT = 16
_CODEC_MASK, _LOG_APPEND_TIME = 0x07, 0x08
_DECOMPRESS = {1: codec.gzip_decode, 2: codec.snappy_decode, 3: codec.lz4_decode, 4: codec.zstd_decode}

_MemoryRecords = memory_records.MemoryRecords  # aiokafka's own, compiled where it can be


class Record(NamedTuple):
    """A record read here: the attributes aiokafka's fetcher takes from its own records."""

    offset: int
    timestamp: int | None
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    checksum: None = None


def install() -> None:
    """Read every consumer's fetches in this process through ``LenientMemoryRecords`` (idempotent;
    call it before a consumer fetches: building a service, starting a table or a budget client)."""
    if fetcher.MemoryRecords is LenientMemoryRecords:
        return
    series = ".".join(aiokafka.__version__.split(".")[:2])
    if series not in TESTED:
        raise RuntimeError(f"aiokafka {aiokafka.__version__}: runtime/header_keys.py is checked against {', '.join(TESTED)}; run tests/integration/test_header_keys.py with it, then add {series!r} to header_keys.TESTED")
    if fetcher.MemoryRecords is not _MemoryRecords or "MemoryRecords" not in fetcher.Fetcher._proc_fetch_request.__code__.co_names:
        raise RuntimeError(f"aiokafka {aiokafka.__version__} no longer builds fetched records with fetcher.MemoryRecords: runtime/header_keys.py cannot read them")
    fetcher.MemoryRecords = LenientMemoryRecords


def wire_bytes(key: str) -> bytes:
    """The bytes a header key had on the wire (a key read leniently keeps them as surrogates)."""
    return key.encode("utf-8", "surrogateescape")


def readable(key: str) -> str:
    r"""``key`` as text fit for a log line or a dead letter: bytes that were not UTF-8 escaped (``\xff``)."""
    return key if key.isascii() else wire_bytes(key).decode("utf-8", "backslashreplace")


def not_utf8(headers: Sequence[tuple[str, Any]] | None) -> list[str]:
    r"""The header keys of a record that were not UTF-8 on the wire, readable (``'\xff\xfe'``).

    Only a key read leniently holds lone surrogates: strict UTF-8 never decodes to one."""
    bad: list[str] = []
    for key, _ in headers or ():
        if not key.isascii():
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(readable(key))
    return bad


def why_unreadable(headers: Sequence[tuple[str, Any]] | None) -> str | None:
    """Why a record cannot be taken for its header keys (a dead-letter reason), or None."""
    bad = not_utf8(headers)
    if not bad:
        return None
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return f"header key '{bad[0][:200]}'{more} is not UTF-8: a Kafka header key is a UTF-8 string"


class LenientMemoryRecords:
    """aiokafka's ``MemoryRecords`` for one fetched partition, whose v2 batches are ``LenientBatch``es."""

    __slots__ = ("_buffer", "_pos", "_records")

    def __init__(self, bytes_data: bytes) -> None:
        self._records = _MemoryRecords(bytes_data)
        self._buffer = bytes_data
        self._pos = 0  # where the next batch starts, kept in step with aiokafka's own reader

    def size_in_bytes(self) -> int:
        return self._records.size_in_bytes()

    def has_next(self) -> bool:
        return self._records.has_next()

    def next_batch(self) -> Any:
        start = self._pos
        batch = self._records.next_batch()
        if batch is None:
            return None
        self._pos = start + _LOG_OVERHEAD + _LENGTH.unpack_from(self._buffer, start + 8)[0]
        if self._buffer[start + _MAGIC_AT] < 2:  # v0/v1 have no headers
            return batch
        return LenientBatch(batch, self._buffer, start, self._pos)


class LenientBatch:
    """A v2 batch as aiokafka reads it, or, if aiokafka refuses one of its header keys, as read here."""

    __slots__ = ("_batch", "_buffer", "_end", "_start")

    def __init__(self, batch: Any, buffer: bytes, start: int, end: int) -> None:
        self._batch, self._buffer, self._start, self._end = batch, buffer, start, end

    # What aiokafka's fetcher reads of a batch, passed through (properties: __getattr__ costs more).
    base_offset = property(lambda self: self._batch.base_offset)
    next_offset = property(lambda self: self._batch.next_offset)
    producer_id = property(lambda self: self._batch.producer_id)
    is_control_batch = property(lambda self: self._batch.is_control_batch)
    is_transactional = property(lambda self: self._batch.is_transactional)

    def validate_crc(self) -> bool:
        return self._batch.validate_crc()

    def __getattr__(self, name: str) -> Any:  # the rest of the batch's attributes
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # the fetcher reads a control batch's marker with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        try:
            return iter(list(self._batch))  # read whole here, so that a refusal is raised here, not in the fetcher's loop
        except (UnicodeDecodeError, CorruptRecordException) as exc:
            if not isinstance(exc, UnicodeDecodeError) and not isinstance(exc.__cause__, UnicodeDecodeError):
                raise
        return iter(read_batch(memoryview(self._buffer)[self._start : self._end]))


def read_batch(raw: bytes | memoryview) -> list[Record]:
    """Every record of one v2 batch (``raw`` from its base offset to its end), header keys decoded
    with ``surrogateescape``; ``CorruptRecordException`` for anything that is not a well-formed batch."""
    try:
        base_offset, _, _, magic, _, attributes, _, first_ts, max_ts, _, _, _, count = _HEADER.unpack_from(raw)
        if magic != 2:
            raise CorruptRecordException(f"a batch of magic {magic} read as v2")
        data: bytes = bytes(raw[_HEADER.size :])
        if compression := attributes & _CODEC_MASK:
            if compression not in _DECOMPRESS:
                raise CorruptRecordException(f"unknown compression codec {compression:#04x}")
            data = _DECOMPRESS[compression](data)
        log_append = bool(attributes & _LOG_APPEND_TIME)
        records: list[Record] = []
        pos = 0
        for _ in range(count):
            length, pos = decode_varint(data, pos)
            end = pos + length
            _, pos = decode_varint(data, pos)  # record attributes: unused
            ts_delta, pos = decode_varint(data, pos)
            offset_delta, pos = decode_varint(data, pos)
            key, pos = _nullable_bytes(data, pos)
            value, pos = _nullable_bytes(data, pos)
            header_count, pos = decode_varint(data, pos)
            if header_count < 0:
                raise CorruptRecordException(f"a record with {header_count} headers")
            headers: list[tuple[str, bytes | None]] = []
            for _ in range(header_count):
                h_key, pos = _nullable_bytes(data, pos)
                if h_key is None:
                    raise CorruptRecordException("a header with no key")
                h_value, pos = _nullable_bytes(data, pos)
                headers.append((h_key.decode("utf-8", "surrogateescape"), h_value))
            if pos != end:
                raise CorruptRecordException(f"a record of {length} bytes that holds {pos - end + length}")
            timestamp = max_ts if log_append else first_ts + ts_delta
            records.append(Record(base_offset + offset_delta, None if timestamp == -1 else timestamp, int(log_append), key, value, headers))
        if pos != len(data):
            raise CorruptRecordException(f"{len(data) - pos} bytes after the batch's {count} records")
        return records
    except (ValueError, IndexError, struct.error) as exc:  # a length or a varint past the end
        raise CorruptRecordException(f"a record batch that cannot be read: {exc!r}") from exc


def _nullable_bytes(data: bytes, pos: int) -> tuple[bytes | None, int]:
    length, pos = decode_varint(data, pos)
    if length < 0:
        return None, pos
    if pos + length > len(data):
        raise CorruptRecordException(f"{length} bytes wanted at {pos} of a {len(data)}-byte batch")
    return data[pos : pos + length], pos + length
