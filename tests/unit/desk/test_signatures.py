"""Webhook signatures: a delivery is taken only when it proves its sender, and a refusal says why
without ever showing the secret or the signature we expected."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.desk.config import WebhookAuth
from services.desk.intake.signatures import Unauthorized, verify, verify_jira, verify_servicenow, verify_zendesk

SECRET = "s3cret-for-tests-only"
BODY = b'{"webhookEvent":"jira:issue_created","issue":{"id":"10042","key":"IT-42"}}'
NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
STAMP = "2026-12-02T10:00:00Z"


def hex_mac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def zendesk_signature(secret: str, stamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()


def refused(call) -> str:
    with pytest.raises(Unauthorized) as caught:
        call()
    reason = caught.value.reason
    assert SECRET not in reason
    return reason


# --- Jira -------------------------------------------------------------------------------------


def test_a_jira_webhook_signed_with_the_secret_is_taken() -> None:
    verify_jira(BODY, {"X-Hub-Signature": f"sha256={hex_mac(SECRET, BODY)}"}, SECRET)


def test_the_jira_header_is_found_whatever_its_case() -> None:
    verify_jira(BODY, {"x-hub-signature": f"sha256={hex_mac(SECRET, BODY).upper()}"}, SECRET)


def test_a_jira_webhook_signed_with_another_secret_is_refused_without_showing_the_expected_signature() -> None:
    reason = refused(lambda: verify_jira(BODY, {"X-Hub-Signature": f"sha256={hex_mac('other', BODY)}"}, SECRET))
    assert "does not match" in reason
    assert hex_mac(SECRET, BODY) not in reason


def test_a_tampered_jira_body_is_refused() -> None:
    signature = f"sha256={hex_mac(SECRET, BODY)}"
    refused(lambda: verify_jira(BODY.replace(b"IT-42", b"IT-43"), {"X-Hub-Signature": signature}, SECRET))


def test_a_jira_webhook_without_a_signature_is_refused_and_told_to_register_a_secret() -> None:
    assert "missing" in refused(lambda: verify_jira(BODY, {}, SECRET))


def test_a_jira_signature_of_another_method_is_refused() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert "sha256=" in refused(lambda: verify_jira(BODY, {"X-Hub-Signature": f"sha1={digest}"}, SECRET))


def test_no_secret_configured_refuses_every_delivery_and_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESK_TEST_SECRET", raising=False)
    auth = WebhookAuth(secret_env="DESK_TEST_SECRET")
    reason = refused(lambda: verify("jira", BODY, {"X-Hub-Signature": f"sha256={hex_mac(SECRET, BODY)}"}, auth, now=NOW))
    assert "no webhook secret" in reason and "DESK_TEST_SECRET" in reason


def test_the_secret_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_TEST_SECRET", SECRET)
    verify("jira", BODY, {"X-Hub-Signature": f"sha256={hex_mac(SECRET, BODY)}"}, WebhookAuth(secret_env="DESK_TEST_SECRET"), now=NOW)


# --- Zendesk ----------------------------------------------------------------------------------


def zendesk_headers(stamp: str = STAMP, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {"X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body), "X-Zendesk-Webhook-Signature-Timestamp": stamp}


def test_a_zendesk_webhook_signed_over_timestamp_and_body_is_taken() -> None:
    verify_zendesk(BODY, zendesk_headers(), SECRET, tolerance_s=300, now=NOW + timedelta(seconds=30))


def test_a_zendesk_webhook_signed_with_another_secret_is_refused() -> None:
    reason = refused(lambda: verify_zendesk(BODY, zendesk_headers(secret="other"), SECRET, tolerance_s=300, now=NOW))
    assert zendesk_signature(SECRET, STAMP, BODY) not in reason


def test_a_tampered_zendesk_body_is_refused() -> None:
    refused(lambda: verify_zendesk(BODY + b" ", zendesk_headers(), SECRET, tolerance_s=300, now=NOW))


def test_a_zendesk_timestamp_changed_after_signing_is_refused() -> None:
    headers = zendesk_headers() | {"X-Zendesk-Webhook-Signature-Timestamp": "2026-12-02T10:00:01Z"}
    refused(lambda: verify_zendesk(BODY, headers, SECRET, tolerance_s=300, now=NOW))


def test_a_stale_zendesk_timestamp_is_refused_as_a_replay() -> None:
    reason = refused(lambda: verify_zendesk(BODY, zendesk_headers(), SECRET, tolerance_s=300, now=NOW + timedelta(seconds=301)))
    assert "301 s old" in reason and "replay" in reason


def test_a_zendesk_timestamp_from_the_future_is_refused() -> None:
    reason = refused(lambda: verify_zendesk(BODY, zendesk_headers(), SECRET, tolerance_s=300, now=NOW - timedelta(minutes=10)))
    assert "in the future" in reason


def test_a_zendesk_timestamp_at_the_edge_of_the_tolerance_is_taken() -> None:
    verify_zendesk(BODY, zendesk_headers(), SECRET, tolerance_s=300, now=NOW + timedelta(seconds=300))


@pytest.mark.parametrize("missing", ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"])
def test_a_zendesk_webhook_missing_a_signature_header_is_refused(missing: str) -> None:
    headers = {k: v for k, v in zendesk_headers().items() if k != missing}
    assert missing in refused(lambda: verify_zendesk(BODY, headers, SECRET, tolerance_s=300, now=NOW))


def test_a_zendesk_timestamp_that_is_not_a_time_is_refused() -> None:
    refused(lambda: verify_zendesk(BODY, zendesk_headers(stamp="yesterday"), SECRET, tolerance_s=300, now=NOW))


# --- ServiceNow -------------------------------------------------------------------------------

HMAC_AUTH = WebhookAuth(secret_env="UNUSED", header="X-Workforce-Signature")
BASIC_AUTH = WebhookAuth(mode="basic", secret_env="UNUSED", user="snow-webhook")


def test_a_servicenow_body_signed_in_base64_as_generate_mac_gives_it_is_taken() -> None:
    signature = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
    verify_servicenow(BODY, {"X-Workforce-Signature": signature}, HMAC_AUTH, SECRET)


def test_a_servicenow_body_signed_in_hex_is_taken() -> None:
    verify_servicenow(BODY, {"x-workforce-signature": hex_mac(SECRET, BODY)}, HMAC_AUTH, SECRET)


def test_a_servicenow_signature_in_the_configured_header_only_counts() -> None:
    auth = WebhookAuth(secret_env="UNUSED", header="X-Acme-Signature")
    assert "X-Acme-Signature" in refused(lambda: verify_servicenow(BODY, {"X-Workforce-Signature": hex_mac(SECRET, BODY)}, auth, SECRET))


def test_a_tampered_servicenow_body_is_refused() -> None:
    refused(lambda: verify_servicenow(BODY + b"x", {"X-Workforce-Signature": hex_mac(SECRET, BODY)}, HMAC_AUTH, SECRET))


def test_a_servicenow_signature_that_is_neither_hex_nor_base64_is_refused() -> None:
    assert "neither" in refused(lambda: verify_servicenow(BODY, {"X-Workforce-Signature": "not a signature!"}, HMAC_AUTH, SECRET))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_servicenow_basic_auth_with_the_configured_user_and_password_is_taken() -> None:
    verify_servicenow(BODY, basic("snow-webhook", SECRET), BASIC_AUTH, SECRET)


@pytest.mark.parametrize("headers", [basic("snow-webhook", "wrong"), basic("someone", SECRET), {}, {"Authorization": "Bearer x"}])
def test_servicenow_basic_auth_with_anything_else_is_refused(headers: dict[str, str]) -> None:
    refused(lambda: verify_servicenow(BODY, headers, BASIC_AUTH, SECRET))
