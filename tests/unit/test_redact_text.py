"""Free text is redacted before memory keeps it: secrets by name or by shape, and card numbers that pass Luhn."""

import pytest

from runtime.redact import CARD, REDACTED, luhn_valid, redact_text


@pytest.mark.parametrize(("text", "expected"), [
    ("card 4111 1111 1111 1111 was declined", f"card {CARD} was declined"),
    ("amex 3782-822463-10005 please", f"amex {CARD} please"),
    ("password: hunter2, user: ana", f"password: {REDACTED}, user: ana"),
    ("my password is Hunter2! thanks", f"my password is {REDACTED} thanks"),
    ('{"client_secret": "abc123"}', f'{{"client_secret": "{REDACTED}"}}'),
    ("Authorization: Bearer abcdefghijklmnop", f"Authorization: {REDACTED}"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", f"key {REDACTED} leaked"),
    ("jwt eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4", f"jwt {REDACTED}"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- done", f"{REDACTED} done"),
    ("ssn 123-45-6789", f"ssn {REDACTED}"),
])
def test_secrets_and_card_numbers_are_replaced(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 shipped",  # fails Luhn: not a card
    "prompt_tokens: 42 and session_timeout=30",  # names that merely contain a secret's name
    "call me on +44 20 7946 0958",
    "ticket T-123456 about the token ring network",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005") and not luhn_valid("4111111111111112")
