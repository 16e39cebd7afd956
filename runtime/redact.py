"""Keep secrets out of events, stores and logs: values under secret-looking keys are replaced.

A key is secret-looking when one of its words is a secret's name (``reset_token``, ``apiKey``,
``Authorization``), not when a word merely contains one (``prompt_tokens``, ``session_timeout``).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials",
     "authorization", "cookie", "otp", "pin", "apikey", "privatekey", "dsn",
     # government identifiers: a tax or social-security number is as sensitive as a password
     "pan", "ssn", "aadhaar"}
)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_key(key: object) -> bool:
    words = [w.lower() for w in _WORDS.findall(str(key))]
    pairs = {a + b for a, b in zip(words, words[1:], strict=False)}  # api_key, private_key, client_secret
    return bool(_SECRET_WORDS.intersection(words) or _SECRET_WORDS.intersection(pairs))


def redact(value: Any) -> Any:
    """A copy of ``value`` with every value under a secret-looking key replaced by ``[REDACTED]``."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def mask_email(email: str) -> str:
    """``j***@acme.example``: enough for a person to recognise, not enough to harvest."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"
