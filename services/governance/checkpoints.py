"""Signed checkpoints of the audit chain heads, as files: written by governance every few minutes
(and by ``workforce audit checkpoint``), checked by ``workforce audit verify --checkpoint``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.governance import audit, chain


class NoSigningKey(RuntimeError):
    pass


def key_from(signing_key: str | None, secrets_key: str | None) -> Ed25519PrivateKey:
    """The signing key: ``AUDIT_SIGNING_KEY``, else derived from ``WORKFORCE_SECRETS_KEY``."""
    if signing_key:
        return chain.signing_key(b"audit:" + signing_key.encode())
    if secrets_key:
        return chain.signing_key(b"secrets:" + secrets_key.encode())
    raise NoSigningKey("no key to sign audit checkpoints: set AUDIT_SIGNING_KEY (or WORKFORCE_SECRETS_KEY)")


def database_name(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.lstrip('/')}"


async def write(conn: asyncpg.Connection, folder: Path, *, key: Ed25519PrivateKey, database: str, at: datetime | None = None) -> tuple[Path, dict[str, Any]]:
    """Write a signed checkpoint of the heads now into ``folder``; return its path and content."""
    at = at or datetime.now(UTC)
    document = chain.checkpoint(await audit.heads(conn), key=key, at=at, database=database)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"checkpoint-{at.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True))
    tmp.replace(path)
    return path, document


def read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise chain.CheckpointError(f"{path}: unreadable ({exc})") from None


def files(where: Path) -> list[Path]:
    """A checkpoint file, or every checkpoint in a folder, oldest first."""
    return sorted(where.glob("checkpoint-*.json")) if where.is_dir() else [where]
