"""Keep secrets out of events and logs: values under secret-looking keys are replaced before they leave."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|authorization|cookie|session|private[_-]?key|otp|pin$", re.I)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every value under a secret-looking key replaced by ``[REDACTED]``."""
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def mask_email(email: str) -> str:
    """``j***@acme.example``: enough for a person to recognise, not enough to harvest."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"
