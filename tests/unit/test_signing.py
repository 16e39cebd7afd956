"""Who wrote a record is settled by its signature and the topic's writers, never by what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import codec
from contracts.envelope import Actor
from contracts.events import ApprovalDecision, ApprovalGranted
from contracts.topics import APPROVAL_GRANTED, COWORKER_STATE, SKILL_REQUESTED, TICKET_CREATED
from deploy import keys
from runtime.signing import SIGNATURE, SIGNER, Keyring, Refusal, speaks_for
from tests.conftest import ticket


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    keys.init(tmp_path, people=["priya.raman"])
    return Keyring(tmp_path)


def granted(by: str) -> ApprovalGranted:
    decision = ApprovalDecision(approval_id="A-1", ticket_id="T-1", coworker="jordan", skill="app-access", step=1)
    return ApprovalGranted.create(decision, source="/cli/workforce", team="it-support", actor=Actor.human(by), correlation_id="T-1")


def verdict(ring: Keyring, topic, key: bytes, value: bytes, signer: str | None) -> str | Refusal:  # noqa: ANN001
    headers = ring.signer(signer).sign(topic.name, key, value) if signer else []
    return ring.verify(topic, key, value, headers)


def test_a_writer_the_topic_accepts_is_believed_and_nobody_else(ring: Keyring) -> None:
    created = codec.encode(ticket("T-1"))
    assert verdict(ring, TICKET_CREATED, b"T-1", created, "upstream") == "upstream"
    assert verdict(ring, TICKET_CREATED, b"T-1", created, None).code == "unsigned"
    assert verdict(ring, TICKET_CREATED, b"T-1", created, "skills").code == "not_a_writer"
    assert verdict(ring, SKILL_REQUESTED, b"T-1", created, "upstream").code == "not_a_writer"  # a forged skill request
    assert verdict(ring, COWORKER_STATE, b"jordan", created, "human:priya.raman").code == "not_a_writer"


def test_a_signature_binds_the_topic_key_and_bytes(ring: Keyring) -> None:
    value = codec.encode(granted("priya.raman"))
    headers = ring.signer("human:priya.raman").sign(APPROVAL_GRANTED.name, b"T-1", value)
    assert ring.verify(APPROVAL_GRANTED, b"T-1", value, headers) == "human:priya.raman"
    assert ring.verify(APPROVAL_GRANTED, b"T-2", value, headers).code == "forged"  # another row
    assert ring.verify(APPROVAL_GRANTED, b"T-1", value.replace(b"jordan", b"bobby!"), headers).code == "forged"
    stolen_name = [(SIGNER, b"human:someone.else"), next(h for h in headers if h[0] == SIGNATURE)]
    assert ring.verify(APPROVAL_GRANTED, b"T-1", value, stolen_name).code == "forged"  # nobody holds that key
    junk = [(SIGNER, b"\xff\xfe"), (SIGNATURE, b"not base64!")]
    assert ring.verify(APPROVAL_GRANTED, b"T-1", value, junk).code == "forged"


def test_a_person_speaks_only_for_themselves_and_a_service_never_as_another_service() -> None:
    assert speaks_for("human:priya.raman", granted("priya.raman")) is None
    assert speaks_for("human:mallory", granted("priya.raman")).code == "not_a_writer"
    created = ticket("T-1")
    assert speaks_for("upstream", created) is None
    assert speaks_for("triage", created.model_copy(update={"actor": Actor.coworker("jordan")})).code == "not_a_writer"  # its source is upstream's
    created = created.model_copy(update={"source": "/services/triage"})
    assert speaks_for("triage", created.model_copy(update={"actor": Actor.coworker("jordan")})) is None
    assert speaks_for("triage", created.model_copy(update={"actor": Actor.system("triage")})) is None
    assert speaks_for("triage", created.model_copy(update={"actor": Actor.system("governance")})).code == "not_a_writer"
    assert speaks_for("governance", created.model_copy(update={"actor": Actor.human("priya.raman"), "source": "/services/governance"})) is None  # the manager it acted for
    assert speaks_for("upstream", created.model_copy(update={"actor": Actor.system("governance")})).code == "not_a_writer"


def test_a_person_given_a_key_later_is_believed_without_a_restart(ring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Keyring, "RELOAD_S", 0.0)
    keys.person(tmp_path, "dana")
    value = codec.encode(granted("dana"))
    headers = Keyring(tmp_path).signer("human:dana").sign(APPROVAL_GRANTED.name, b"T-1", value)
    assert ring.verify(APPROVAL_GRANTED, b"T-1", value, headers) == "human:dana"


def test_init_adds_what_is_missing_and_replaces_nothing(tmp_path: Path) -> None:
    made = keys.init(tmp_path, people=["priya.raman"])
    assert set(made) == {"triage", "skills", "memory", "governance", "billing", "upstream", "human:priya.raman"}
    before = (tmp_path / "services.json").read_text(), (tmp_path / "public.json").read_text()
    assert keys.init(tmp_path, people=["priya.raman"]) == []
    assert ((tmp_path / "services.json").read_text(), (tmp_path / "public.json").read_text()) == before
    assert oct((tmp_path / "services.json").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="handle"):
        keys.person(tmp_path, "Mallory Nobody; rm -rf /")
