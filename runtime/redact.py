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


# --- free text: what a person wrote may hold a secret or a card number -------------------------

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_TOKENS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"  # a PEM private key
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"  # an Authorization header's value
    r"|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"  # a JWT
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # an AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI-style API keys
    re.DOTALL,
)
#: ``password: hunter2``, ``api_key=abc``, ``"client_secret": "x"``: a secret-looking name, then its value.
_NAMED = re.compile(r"""(?P<key>[A-Za-z][\w.-]{1,40})(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>[^\s"',;]+)""")
#: ``my password is hunter2``, ``the PIN was 4711``.
_SAID = re.compile(r"\b(?P<key>password|passphrase|passcode|pin|otp|token|secret|api key)(?P<sep>\s+(?:is|was|=)\s+)(?P<value>[^\s,;]+)", re.IGNORECASE)
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
CARD = "[CARD]"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries (so order numbers are left alone)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_text(text: str) -> str:
    """``text`` with secrets (named values, bearer tokens, keys, JWTs, private keys), payment card
    numbers (13-19 digits passing Luhn) and US social-security numbers replaced."""

    def card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return CARD if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()

    def named(match: re.Match[str]) -> str:
        if not is_secret_key(match.group("key")) or match.group("value") == REDACTED:
            return match.group()
        return f"{match.group('key')}{match.group('sep')}{REDACTED}"

    text = _TOKENS.sub(REDACTED, text)
    text = _SAID.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)
    text = _NAMED.sub(named, text)
    text = _CARD.sub(card, text)
    return _SSN.sub(REDACTED, text)


# --- personal data: names and emails belong to the requester's own memory only -------------------

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
EMAIL = "[EMAIL]"
PERSON = "[PERSON]"


def name_forms(*identities: str | None) -> set[str]:
    """The ways a person's handle, name or email shows up in text: ``ana.silva``, ``Ana Silva``, ``asilva``."""
    forms: set[str] = set()
    for identity in identities:
        if not identity:
            continue
        handle = identity.partition("@")[0] if "@" in identity else identity
        forms.add(handle)
        words = [w for w in re.split(r"[._\s-]+", handle) if w]
        if len(words) >= 2:
            forms.add(" ".join(words))
    return {f for f in forms if len(f) >= 4}  # a two-letter handle would erase ordinary words


def depersonalise(text: str, people: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` without email addresses and without the named ``people`` (see :func:`name_forms`),
    for memories that others in the team may recall."""
    text = _EMAIL.sub(EMAIL, text)
    for form in sorted(people, key=len, reverse=True):  # "Ana Silva" before "ana"
        text = re.sub(rf"(?<![\w.]){re.escape(form)}(?![\w])", PERSON, text, flags=re.IGNORECASE)
    return text
