"""Does a webhook come from the system it claims? Pure functions over the raw body and the headers.

- Jira Cloud (an admin webhook registered with a secret): ``X-Hub-Signature: sha256=<hex>``, the
  HMAC-SHA256 of the raw body keyed with the secret (the WebSub ``method=signature`` form).
- Zendesk: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + raw body)) with
  the timestamp in ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, e.g. 2026-12-02T10:00:00Z);
  a timestamp further than ``tolerance_s`` from now is a replay, refused.
- ServiceNow (our business rule, ``deploy/desk/servicenow_business_rule.js``): mode ``hmac``, the
  HMAC-SHA256 of the raw body in the configured header (``WebhookAuth.header``), hex or base64 —
  ServiceNow's ``GlideCertificateEncryption.generateMac`` gives base64, a script doing its own hex
  digest gives hex, both are accepted (an optional ``sha256=`` prefix too); or mode ``basic``, HTTP
  Basic with ``WebhookAuth.user`` and the secret as the password.

Every comparison is constant-time. ``Unauthorized`` says what is wrong, never the secret or the
signature we expected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from services.desk.config import WebhookAuth
from services.desk.intake.inbound import header

JIRA_HEADER = "X-Hub-Signature"
ZENDESK_HEADER = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class Unauthorized(Exception):
    """The webhook is not proven to come from its system (HTTP 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _need(secret: str | None, auth: WebhookAuth | None = None) -> str:
    if not secret:
        where = f" (environment variable {auth.secret_env})" if auth is not None else ""
        raise Unauthorized(f"no webhook secret is configured on our side{where}; every delivery is refused until it is")
    return secret


def verify_jira(body: bytes, headers: Mapping[str, str], secret: str | None) -> None:
    secret = _need(secret)
    given = header(headers, JIRA_HEADER)
    if not given:
        raise Unauthorized(f"the {JIRA_HEADER} header is missing (register the Jira webhook with a secret)")
    method, sep, signature = given.strip().partition("=")
    if not sep or method.lower() != "sha256":
        raise Unauthorized(f"the {JIRA_HEADER} header must be 'sha256=<hex>', got method {method[:20]!r}")
    expected = _mac(secret, body).hex()
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        raise Unauthorized(f"the {JIRA_HEADER} signature does not match the body (wrong secret, or the body was altered)")


def parse_timestamp(value: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Unauthorized(f"the {ZENDESK_TIMESTAMP} header is not an ISO 8601 time: {value[:40]!r}") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def verify_zendesk(body: bytes, headers: Mapping[str, str], secret: str | None, *, tolerance_s: int, now: datetime) -> None:
    secret = _need(secret)
    given, stamp = header(headers, ZENDESK_HEADER), header(headers, ZENDESK_TIMESTAMP)
    if not given:
        raise Unauthorized(f"the {ZENDESK_HEADER} header is missing")
    if not stamp:
        raise Unauthorized(f"the {ZENDESK_TIMESTAMP} header is missing")
    # The signature is checked before the time, so an unsigned caller learns nothing of our clock.
    expected = base64.b64encode(_mac(secret, stamp.encode("utf-8") + body))
    if not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized(f"the {ZENDESK_HEADER} signature does not match the timestamp and body (wrong secret, or they were altered)")
    skew = (now - parse_timestamp(stamp)).total_seconds()
    if skew > tolerance_s:
        raise Unauthorized(f"the signature timestamp {stamp} is {int(skew)} s old; more than {tolerance_s} s is refused as a replay")
    if skew < -tolerance_s:
        raise Unauthorized(f"the signature timestamp {stamp} is {int(-skew)} s in the future; more than {tolerance_s} s is refused")


def _decode_signature(value: str) -> bytes | None:
    value = value.strip()
    if value.lower().startswith("sha256="):
        value = value[7:]
    if _HEX.match(value):
        return bytes.fromhex(value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_servicenow(body: bytes, headers: Mapping[str, str], auth: WebhookAuth, secret: str | None) -> None:
    secret = _need(secret, auth)
    if auth.mode == "basic":
        given = header(headers, "Authorization") or ""
        scheme, _, encoded = given.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Unauthorized("HTTP Basic authentication is required (the REST message's basic auth profile)")
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            raise Unauthorized("the Authorization header is not valid Basic credentials") from None
        ok_user = hmac.compare_digest(user.encode(), (auth.user or "").encode()) and bool(auth.user)
        ok_password = hmac.compare_digest(password.encode(), secret.encode())
        if not (sep and ok_user and ok_password):
            raise Unauthorized("the Basic credentials are not the configured ServiceNow webhook user and password")
        return
    given = header(headers, auth.header)
    if not given:
        raise Unauthorized(f"the {auth.header} header is missing (the business rule signs the body there)")
    signature = _decode_signature(given)
    if signature is None:
        raise Unauthorized(f"the {auth.header} header is neither a hex nor a base64 HMAC-SHA256")
    if not hmac.compare_digest(signature, _mac(secret, body)):
        raise Unauthorized(f"the {auth.header} signature does not match the body (wrong secret, or the body was altered)")


def verify(system: str, body: bytes, headers: Mapping[str, str], auth: WebhookAuth, *, now: datetime, secret: str | None = None) -> None:
    """Check a delivery of ``system`` with its configured auth (the secret read from its environment
    variable unless given), or raise ``Unauthorized``."""
    secret = secret if secret is not None else auth.secret()
    _need(secret, auth)
    if system == "jira":
        verify_jira(body, headers, secret)
    elif system == "zendesk":
        verify_zendesk(body, headers, secret, tolerance_s=auth.tolerance_s, now=now)
    elif system == "servicenow":
        verify_servicenow(body, headers, auth, secret)
    else:
        raise Unauthorized(f"unknown system {system!r}")
