"""No secret in any topic, log line or audit row of an end-to-end run (this runs after the others)."""

from __future__ import annotations

from contracts import topics
from runtime.table import read_topic
from services.skills.credentials import Vault


async def test_no_credential_or_key_appears_in_any_topic_log_or_audit_row(stack, kafka, db) -> None:  # noqa: ANN001
    from pydantic import SecretStr

    key = stack.secrets_key()
    vault = Vault(SecretStr(key))
    sealed = await db.fetch("SELECT coworker, system, ciphertext FROM skills.credentials WHERE ciphertext IS NOT NULL")
    secrets = {f"{r['coworker']}/{r['system']}": vault.open(r["ciphertext"]) for r in sealed}
    assert len(secrets) >= 10, "the run issued credentials to look for"
    secrets["WORKFORCE_SECRETS_KEY"] = key
    needles = {name: value.encode() for name, value in secrets.items()}

    found: list[str] = []
    for topic in topics.ALL:
        for record in await read_topic(kafka.bootstrap, topic.name):
            blob = (record.value or b"") + (record.key or b"") + b"".join(v or b"" for _, v in record.headers or ())  # a header may have no value
            found += [f"{name} in {topic.name}" for name, needle in needles.items() if needle in blob]
    for log in sorted((stack.var / "logs").glob("*.log")):
        text = log.read_bytes()
        found += [f"{name} in {log.name}" for name, needle in needles.items() if needle in text]
    audit = await db.fetchval("SELECT string_agg(event::text, '') FROM governance.audit_events")
    found += [f"{name} in the audit trail" for name, value in secrets.items() if value in audit]
    assert found == []
