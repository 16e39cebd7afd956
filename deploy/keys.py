"""Make and extend the keyring (runtime/signing.py): the services' HMAC keys, the upstream adapter's
and each person's Ed25519 key. Existing keys are never replaced: ``init`` adds what is missing.

In production the folder is a secret: ``services.json`` is mounted into the six services only,
``public.json`` everywhere, and each private key only where that writer runs (the adapter's into the
adapter, a person's on their own machine).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.topics import SERVICES, UPSTREAM
from runtime.signing import PERSON, PRIVATE_DIR, PUBLIC_FILE, SERVICES_FILE, private_path

#: The local stack's own administrator: who ``workforce up`` brings the example workforce up as.
LOCAL_ADMIN = "workforce.admin"
_PERSON_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def init(folder: Path, people: Iterable[str] = ()) -> list[str]:
    """Make the keyring in ``folder`` where keys are missing; return the signers whose key was made."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PRIVATE_DIR).mkdir(mode=0o700, exist_ok=True)
    made = []
    services_path = folder / SERVICES_FILE
    secrets = json.loads(services_path.read_text()) if services_path.exists() else {}
    for name in SERVICES:
        if name not in secrets:
            secrets[name] = base64.b64encode(os.urandom(32)).decode()
            made.append(name)
    _write(services_path, json.dumps(secrets, indent=2, sort_keys=True))
    for signer in (UPSTREAM, *(PERSON + person for person in people)):
        if add(folder, signer):
            made.append(signer)
    return made


def person(folder: Path, person_id: str) -> bool:
    """Issue ``person_id`` a key (``human:<id>``); False when they have one."""
    if not _PERSON_ID.match(person_id):
        raise ValueError(f"a person is named by their handle, e.g. priya.raman, not {person_id!r}")
    return add(folder, PERSON + person_id)


def add(folder: Path, signer: str) -> bool:
    """Make an Ed25519 key for ``signer`` and publish its public half; False when it has one."""
    public_path = folder / PUBLIC_FILE
    public = json.loads(public_path.read_text()) if public_path.exists() else {}
    path = private_path(folder, signer)
    if signer in public and path.exists():
        return False
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public[signer] = base64.b64encode(raw).decode()
    tmp = public_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(public, indent=2, sort_keys=True))
    tmp.replace(public_path)  # readers see the old file or the new one, never half of one
    return True


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)
