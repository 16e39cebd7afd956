"""Who wrote a record: every record on the bus carries its writer's name and signature in two
headers, and a consumer acts on it only when the signature verifies and the topic accepts that writer.

Two kinds of writers, two kinds of keys (ADR 0020):
- **Services** sign with an HMAC-SHA256 key of their own (3 us a record, cheap enough for every hop of
  every ticket). Every service holds every service's key to verify, so a compromised service could
  forge another's records: Kafka ACLs (deploy/k8s/kafka-acls.yaml) close that in production.
- **People and the upstream adapter** sign with Ed25519. Services hold only their public keys, so no
  service, and nobody with the bus, can forge a person's approval or command. A person's key names
  them: the signer ``human:priya.raman`` may only write records whose actor is ``human:priya.raman``.

The signature covers the topic, the key and the value, so a record cannot be moved to another topic
or row. The keyring is a folder (``WORKFORCE_KEYS``): ``services.json`` (the services' HMAC keys,
mounted only into services), ``public.json`` (public keys of people and the adapter) and, for whoever
signs as them, ``private/<signer>.pem``. ``deploy/keys.py`` makes and extends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.envelope import ActorKind, Envelope
from contracts.events import DeadLetterCode
from contracts.topics import PEOPLE, SERVICES, UPSTREAM, Topic

SIGNER = "wf-signer"
SIGNATURE = "wf-signature"
#: A person signs as ``human:<id>``; the prefix is the actor kind, so signer and actor compare as text.
PERSON = "human:"
MAX_SIGNER = 220

SERVICES_FILE, PUBLIC_FILE, PRIVATE_DIR = "services.json", "public.json", "private"


class KeysMissing(RuntimeError):
    """No keyring where one is configured: nothing could be signed or believed."""


@dataclass(frozen=True)
class Refusal:
    """Why a record is not believed, as a dead-letter code and words."""

    code: DeadLetterCode  # unsigned, forged or not_a_writer
    reason: str


def signed_bytes(topic: str, key: bytes | None, value: bytes | None) -> bytes:
    """What a signature covers: topic, key and value, each length-prefixed so no two records share it."""
    parts = (topic.encode(), key or b"", value or b"")
    return b"wf1" + b"".join(struct.pack(">I", len(p)) + p for p in parts)


def kind_of(signer: str) -> str:
    """The writer kind a signer is, as the topic registry names writers."""
    if signer.startswith(PERSON):
        return PEOPLE
    return signer


class Signer:
    """One writer's signing key: a service's HMAC key, or a person's (or the adapter's) Ed25519 key."""

    def __init__(self, name: str, key: bytes | Ed25519PrivateKey) -> None:
        self.name, self._key = name, key
        self._name_header = name.encode()

    def sign(self, topic: str, key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
        """The headers that say who wrote this record (add them to the record's headers)."""
        message = signed_bytes(topic, key, value)
        if isinstance(self._key, bytes):
            signature = hmac.new(self._key, message, hashlib.sha256).digest()
        else:
            signature = self._key.sign(message)
        return [(SIGNER, self._name_header), (SIGNATURE, base64.b64encode(signature))]

    def headers(self, topic: str, key: bytes | None, value: bytes, base: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        return [*base, *self.sign(topic, key, value)]


class Keyring:
    """The keys a consumer verifies with, read from the keyring folder (and re-read when a signer it
    does not know appears, at most every few seconds, so a person added later is believed)."""

    RELOAD_S = 5.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._hmac: dict[str, bytes] = {}
        self._public: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")
        self.load()

    @classmethod
    def from_env(cls) -> Keyring:
        return cls(keys_folder())

    def load(self) -> None:
        self._loaded_at = time.monotonic()
        services = self.folder / SERVICES_FILE
        if services.exists():
            self._hmac = {name: base64.b64decode(secret) for name, secret in json.loads(services.read_text()).items()}
        public = self.folder / PUBLIC_FILE
        if public.exists():
            self._public = {name: Ed25519PublicKey.from_public_bytes(base64.b64decode(raw)) for name, raw in json.loads(public.read_text()).items()}
        if not self._hmac and not self._public:
            raise KeysMissing(f"no keys in {self.folder}: run `workforce keys init` (the local stack does it for you)")

    def knows(self, signer: str) -> bool:
        return signer in self._hmac or signer in self._public

    def signer(self, name: str) -> Signer:
        """The signing key of ``name``: a service's from services.json, anyone else's from private/."""
        if name in SERVICES:
            if name not in self._hmac:
                raise KeysMissing(f"no key for service {name!r} in {self.folder / SERVICES_FILE}")
            return Signer(name, self._hmac[name])
        return Signer(name, load_private(self.folder, name))

    def verify(self, topic: Topic, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, Any]] | None) -> str | Refusal:
        """The signer of this record if its signature verifies and ``topic`` accepts that writer."""
        signer_raw, signature_raw = _header(headers, SIGNER), _header(headers, SIGNATURE)
        if signer_raw is None or signature_raw is None:
            return Refusal("unsigned", f"no {SIGNER}/{SIGNATURE} headers: {topic.name} accepts only signed records from {', '.join(sorted(topic.writers))}")
        try:
            signer = signer_raw.decode("utf-8")
            signature = base64.b64decode(signature_raw, validate=True)
        except (UnicodeDecodeError, ValueError):
            return Refusal("forged", "the signer or signature header is not readable")
        if not signer or len(signer) > MAX_SIGNER:
            return Refusal("forged", f"a signer name of {len(signer)} characters")
        if kind_of(signer) not in topic.writers:
            return Refusal("not_a_writer", f"{signer[:100]!r} may not write {topic.name} (its writers: {', '.join(sorted(topic.writers))})")
        message = signed_bytes(topic.name, key, value)
        if not self._checks(signer, message, signature):
            return Refusal("forged", f"the signature of {signer[:100]!r} does not verify for this record")
        return signer

    def _checks(self, signer: str, message: bytes, signature: bytes) -> bool:
        if signer not in self._hmac and signer not in self._public and time.monotonic() - self._loaded_at > self.RELOAD_S:
            self.load()
        if (secret := self._hmac.get(signer)) is not None:
            return hmac.compare_digest(hmac.new(secret, message, hashlib.sha256).digest(), signature)
        if (public := self._public.get(signer)) is not None:
            try:
                public.verify(signature, message)
                return True
            except InvalidSignature:
                return False
        return False


def reader_keyring() -> Keyring | None:
    """The keyring for a reader outside the services (the CLI): it checks the services' signatures
    where it holds their keys (the local stack), and otherwise reads what the topic holds."""
    folder = keys_folder()
    return Keyring(folder) if (folder / SERVICES_FILE).exists() else None


def speaks_for(signer: str, event: Envelope[Any]) -> Refusal | None:
    """Whether ``signer`` may write an event with this actor: a person only as themselves; a
    service as itself, or for the coworker or person it acted for; the adapter for people and
    upstream systems, never as a coworker or a service."""
    actor = event.actor
    if signer.startswith(PERSON):
        if str(actor) != signer:
            return Refusal("not_a_writer", f"{signer[:100]} signed a record whose actor is {str(actor)[:100]}")
    elif signer in SERVICES:
        # A service names the person or coworker it acted for (governance's row of a coworker says
        # which manager changed it), having verified that person's own signed record; or one of its parts, such as system:policy): never another service.
        if actor.kind is ActorKind.system and actor.id in SERVICES and actor.id != signer:
            return Refusal("not_a_writer", f"service {signer} signed a record whose actor is {str(actor)[:100]}")
        if event.source != f"/services/{signer}":  # so a consumer may believe the source: billing, whose call it was
            return Refusal("not_a_writer", f"service {signer} signed a record whose source is {event.source[:100]}")
    elif signer == UPSTREAM:
        if actor.kind is ActorKind.coworker or (actor.kind is ActorKind.system and actor.id in SERVICES):
            return Refusal("not_a_writer", f"the upstream adapter signed a record whose actor is {str(actor)[:100]}")
    return None


def _header(headers: Sequence[tuple[str, Any]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value if isinstance(value, bytes) else None
    return None


def keys_folder() -> Path:
    """``WORKFORCE_KEYS``, else the local stack's ``.var/keys``."""
    if folder := os.environ.get("WORKFORCE_KEYS"):
        return Path(folder)
    return Path(__file__).resolve().parents[1] / ".var" / "keys"


def private_path(folder: Path, signer: str) -> Path:
    return folder / PRIVATE_DIR / f"{signer.replace(':', '_')}.pem"


def load_private(folder: Path, signer: str) -> Ed25519PrivateKey:
    path = private_path(folder, signer)
    if not path.exists():
        who = signer.removeprefix(PERSON)
        hint = f"an administrator issues one with `workforce keys person {who}`" if signer.startswith(PERSON) else "run `workforce keys init`"
        raise KeysMissing(f"no signing key for {signer} ({path}): {hint}")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey), f"{path} is not an Ed25519 key"
    return key
