"""The audit trail's hash chain and its signed checkpoints. Pure: no database, no files.

Each team's records form a chain: ``hash(n) = sha256(hash(n-1) || content(n))``, from a genesis of
32 zero bytes, where ``content`` is the record's columns as PostgreSQL's canonical jsonb text (see
``migrations/0003_audit_hash_chain.sql``) followed by the event: the record's bytes as received
(``received``, migration 0007), or, for records stored before it, the event's jsonb text. The
``event`` column of a record kept as received must hold that same JSON, or the record was edited.
A record edited, deleted, inserted or moved breaks the chain at that place; a rewrite of a whole
chain (every hash recomputed) is caught by a checkpoint, a signed list of the chain heads taken
earlier: the record at a checkpointed position no longer has the hash the checkpoint says.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GENESIS = bytes(32)

#: The record's columns as the canonical text whose hash is chained. ``workforce audit verify`` uses
#: this expression (built-in functions only), not the database's ``audit_content`` function, so that a
#: replaced function cannot make a forged row look right.
CONTENT_SQL = (
    "jsonb_build_array(team, team_seq, event_id, type, source, subject, actor, correlation_id, causation_id, schema_version,"
    " (extract(epoch FROM event_time) * 1000000)::bigint, (extract(epoch FROM recorded_at) * 1000000)::bigint)::text"
    " || coalesce(received, event::text)"
)


def link(prev: bytes, content: str) -> bytes:
    return hashlib.sha256(prev + content.encode("utf-8")).digest()


# Governance chains each batch in Python before it COPYs it (ADR 0013): audit.py builds each
# record's content as CONTENT_SQL does, with the record's bytes as received.


def same_json(received: str, event: str) -> bool:
    """Whether the stored ``event`` (jsonb's text) is the JSON of the record as ``received``: equal
    as values, numbers compared exactly (as jsonb's numeric does). Text that is not JSON is not."""
    try:
        return bool(json.loads(received, parse_float=Decimal) == json.loads(event, parse_float=Decimal))
    except ValueError:
        return False


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(at: datetime) -> int:
    """``(extract(epoch FROM at) * 1000000)::bigint`` for a timestamptz (exact, in integers). A naive
    ``at`` is local time, as asyncpg takes it when it writes one to a timestamptz."""
    # An aware ``at`` subtracts exactly whatever its zone; only a naive one needs converting.
    return ((at if at.tzinfo is not None else at.astimezone(UTC)) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class Row:
    """One audit record as verification reads it."""

    team: str
    team_seq: int
    event_id: str
    prev_hash: bytes
    hash: bytes
    content: str
    #: For a record kept as received: its ``event`` column still holds the JSON received (``same_json``).
    agrees: bool = True


@dataclass(frozen=True)
class Break:
    """The first place a team's chain does not hold, in words an auditor can act on."""

    team: str
    team_seq: int  # the position where it breaks (the expected one, for a missing record)
    event_id: str | None
    problem: str

    def __str__(self) -> str:
        return f"team {self.team}: record {self.team_seq}" + (f" (event {self.event_id})" if self.event_id else "") + f": {self.problem}"


@dataclass(frozen=True)
class Start:
    """Where a team's chain begins: the genesis, or the anchor left by retention."""

    seq: int = 0
    hash: bytes = GENESIS


def verify_team(team: str, rows: Iterable[Row], start: Start = Start()) -> tuple[int, bytes, Break | None]:
    """Walk one team's rows in ``team_seq`` order; return (last good seq, its hash, first break or None)."""
    seq, head = start.seq, start.hash
    for row in rows:
        expected = seq + 1
        if row.team_seq < expected:
            return seq, head, Break(team, row.team_seq, row.event_id, f"position {row.team_seq} appears again (an inserted or duplicated record)")
        if row.team_seq > expected:
            missing = f"{expected}" if row.team_seq == expected + 1 else f"{expected}..{row.team_seq - 1}"
            return seq, head, Break(team, expected, None, f"record(s) {missing} missing: the chain jumps from {seq} to {row.team_seq} (deleted records)")
        if row.prev_hash != head:
            return seq, head, Break(team, row.team_seq, row.event_id, f"does not link to record {seq}: prev_hash {row.prev_hash.hex()[:16]}... != {head.hex()[:16]}... (records moved, inserted or removed)")
        computed = link(head, row.content)
        if computed != row.hash:
            return seq, head, Break(team, row.team_seq, row.event_id, f"content changed: its hash recomputes to {computed.hex()[:16]}..., the stored hash is {row.hash.hex()[:16]}...")
        if not row.agrees:
            return seq, head, Break(team, row.team_seq, row.event_id, "content changed: its event column is no longer the record as received (the hashed bytes)")
        seq, head = row.team_seq, row.hash
    return seq, head, None


# --- checkpoints ---------------------------------------------------------------------------


def signing_key(seed: bytes) -> Ed25519PrivateKey:
    """The checkpoint key from 32 bytes of secret (``AUDIT_SIGNING_KEY``, or derived from ``WORKFORCE_SECRETS_KEY``)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"workforce audit checkpoint key\0" + seed).digest())


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in document.items() if k != "signature"}, sort_keys=True, separators=(",", ":")).encode()


def checkpoint(heads: Mapping[str, tuple[int, bytes]], *, key: Ed25519PrivateKey, at: datetime, database: str) -> dict[str, Any]:
    """A signed statement: at ``at``, each team's chain of ``database`` ended at (seq, hash)."""
    document: dict[str, Any] = {
        "kind": "workforce.audit.checkpoint",
        "version": 1,
        "database": database,
        "created_at": at.isoformat(),
        "heads": {team: {"seq": seq, "hash": head.hex()} for team, (seq, head) in sorted(heads.items())},
        "public_key": public_key_text(key.public_key()),
    }
    document["signature"] = base64.b64encode(key.sign(_canonical(document))).decode()
    return document


class CheckpointError(ValueError):
    pass


def checked_heads(document: Mapping[str, Any], *, trusted_key: str | None) -> dict[str, tuple[int, bytes]]:
    """The heads of a checkpoint whose signature holds (against ``trusted_key`` when given, which
    must then be the key it names); raise ``CheckpointError`` saying what is wrong otherwise."""
    try:
        named = document["public_key"]
        if trusted_key is not None and named != trusted_key:
            raise CheckpointError(f"signed with key {named}, not the trusted key {trusted_key}")
        Ed25519PublicKey.from_public_bytes(base64.b64decode(named)).verify(base64.b64decode(document["signature"]), _canonical(document))
        return {team: (int(h["seq"]), bytes.fromhex(h["hash"])) for team, h in document["heads"].items()}
    except InvalidSignature:
        raise CheckpointError("the signature does not match the checkpoint's content (the file was edited)") from None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"not a checkpoint: {exc!r}") from None
