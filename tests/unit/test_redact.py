"""Secrets never leave a step, an event or a log line; ordinary fields that merely look alike do."""

import pytest

from runtime.redact import REDACTED, mask_email, redact


@pytest.mark.parametrize("key", ["password", "reset_token", "apiKey", "api_key", "Authorization", "client_secret", "X-Session-Cookie", "privateKey", "database_dsn", "otp"])
def test_values_under_secret_names_are_redacted_at_any_depth(key: str) -> None:
    assert redact({"outer": [{key: "s3cr3t", "user": "ana"}]}) == {"outer": [{key: REDACTED, "user": "ana"}]}


@pytest.mark.parametrize("key", ["prompt_tokens", "total_tokens", "session_timeout_ms", "passed", "spinner", "compass", "tokenizer"])
def test_ordinary_fields_that_resemble_secret_names_are_kept(key: str) -> None:
    assert redact({key: 42}) == {key: 42}


def test_an_email_is_masked_to_its_first_letter() -> None:
    assert mask_email("ana.silva@acme.example") == "a***@acme.example"
    assert mask_email("not-an-email") == "***"
