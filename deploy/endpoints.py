"""Where the running stack is, for commands run beside it: the environment first, else the
``stack.json`` that ``workforce up`` writes into its var folder (and removes when it stops)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path


class NoStack(RuntimeError):
    """No broker to talk to: nothing configured, or the stack that wrote ``stack.json`` is gone."""


def endpoints(var: Path) -> tuple[str, str | None]:
    """(Kafka bootstrap servers, database URL or None).

    ``KAFKA_BOOTSTRAP_SERVERS`` wins and then only ``DATABASE_URL`` is read beside it, so the broker
    of one stack is never paired with the database of another. Otherwise both come from
    ``var/stack.json``, ``DATABASE_URL`` still overriding the database.
    """
    database = os.environ.get("DATABASE_URL") or None
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return bootstrap, database
    path = var / "stack.json"
    try:
        written = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoStack(f"no running stack: start one with `workforce up`, or set KAFKA_BOOTSTRAP_SERVERS (no {path})") from None
    except (OSError, ValueError) as exc:
        raise NoStack(f"{path} is unreadable ({exc}); start the stack again with `workforce up`, or set KAFKA_BOOTSTRAP_SERVERS") from None
    bootstrap = written.get("kafka") if isinstance(written, dict) else None
    if not isinstance(bootstrap, str) or not bootstrap:
        raise NoStack(f"{path} has no \"kafka\" address; start the stack again with `workforce up`, or set KAFKA_BOOTSTRAP_SERVERS")
    if not _answers(bootstrap):
        raise NoStack(f"no running stack: {path} says the broker is at {bootstrap}, but nothing answers there (the stack was killed?); start one with `workforce up`")
    return bootstrap, database or written.get("database_url") or None


def _answers(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """Whether the first bootstrap server accepts a TCP connection: a stale file fails fast, not after a client timeout."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    with contextlib.suppress(OSError, ValueError), socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
        return True
    return False
